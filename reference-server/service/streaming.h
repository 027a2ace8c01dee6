// What the reference server's services share beyond the responder: the
// options, fault timing and counters their streams use, the event hubs their
// watch streams read, and the delivery pipeline their events reach webhooks
// through. One per server; the services keep a copy of these references.
#pragma once

#include "aurigraph/approval/v1/approval.pb.h"
#include "aurigraph/transaction/v1/transaction.pb.h"
#include "common/clock/clock.h"
#include "reference-server/faults/delay_queue.h"
#include "reference-server/faults/fault_injector.h"
#include "reference-server/service/reference_server.h"
#include "reference-server/streams/event_stream.h"
#include "reference-server/transaction/committed_event.h"
#include "reference-server/webhooks/delivery_pipeline.h"

namespace aurigraph::refserver {

struct Streaming {
  const ServerOptions& options;
  const FaultInjector& faults;
  DelayQueue& delays;
  StreamCounters& counters;
  EventHub<approval::v1::ApprovalEvent>& approval_events;
  // Serialized once for all subscribers (committed_event.h).
  EventHub<CommittedEvent>& transaction_events;
  const Clock& wall;
  DeliveryPipeline& webhooks;
};

}  // namespace aurigraph::refserver
