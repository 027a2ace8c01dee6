// The reference server's own state as Prometheus metrics, read at scrape time
// from counters the stores and streams keep anyway: approvals by outcome,
// transactions accepted and rejected, streams open, events written, queue
// depths (the deepest subscriber queue, responses held by injected latency),
// webhooks registered and their deliveries by outcome.
#pragma once

#include <prometheus/collectable.h>

#include <vector>

#include "reference-server/approval/approval_store.h"
#include "reference-server/faults/delay_queue.h"
#include "reference-server/streams/event_stream.h"
#include "reference-server/transaction/transaction_store.h"
#include "reference-server/webhooks/delivery_pipeline.h"
#include "reference-server/webhooks/webhook_registry.h"

namespace aurigraph::refserver {

class DomainMetrics : public prometheus::Collectable {
 public:
  DomainMetrics(const ApprovalStore& approvals, const TransactionStore& transactions,
                const StreamCounters& streams, const DelayQueue& delayed,
                const WebhookRegistry& webhooks, const DeliveryCounters& deliveries);
  std::vector<prometheus::MetricFamily> Collect() const override;

 private:
  const ApprovalStore& approvals_;
  const TransactionStore& transactions_;
  const StreamCounters& streams_;
  const DelayQueue& delayed_;
  const WebhookRegistry& webhooks_;
  const DeliveryCounters& deliveries_;
};

}  // namespace aurigraph::refserver
