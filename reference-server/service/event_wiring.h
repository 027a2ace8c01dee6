// How the server's events reach their listeners: approval changes, committed
// transactions, registry changes and delivery records go to the watch streams
// subscribed to them (an event is built only when some stream is), and
// approval and transaction events to the webhooks subscribed to them.
#pragma once

#include "aurigraph/transaction/v1/transaction.pb.h"
#include "aurigraph/webhook/v1/webhook.pb.h"
#include "reference-server/approval/approval_store.h"
#include "reference-server/service/streaming.h"
#include "reference-server/streams/event_stream.h"
#include "reference-server/webhooks/webhook_registry.h"

namespace aurigraph::refserver {

// Registry changes and delivery records, for the two webhook watch streams.
struct WebhookHubs {
  EventHub<webhook::v1::WebhookRegistryEvent> registry;
  EventHub<webhook::v1::WebhookDeliveryRecord> deliveries;
};

// Sets the observers of the approval store, the webhook registry and the
// delivery pipeline (streaming.webhooks); all must outlive each other's use.
void WireEvents(ApprovalStore& approvals, WebhookRegistry& registry, const Streaming& streaming,
                WebhookHubs& hubs);

// Tells StreamTransactions subscribers and subscribed webhooks that `tx` was accepted.
// `log_index`: the consensus log entry that committed it (0 on a single node).
void PublishCommitted(const Streaming& streaming, const transaction::v1::Transaction& tx,
                      uint64_t log_index);
// PublishCommitted for every transaction of `batch` that `outcome` accepted.
void PublishAccepted(const Streaming& streaming, const transaction::v1::BatchRequest& batch,
                     const transaction::v1::BatchResponse& outcome, uint64_t log_index);

}  // namespace aurigraph::refserver
