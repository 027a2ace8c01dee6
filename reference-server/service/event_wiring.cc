#include "reference-server/service/event_wiring.h"

#include <google/protobuf/util/json_util.h>

#include <memory>
#include <string>

namespace aurigraph::refserver {
namespace {

namespace av1 = approval::v1;
namespace tv1 = transaction::v1;
namespace wv1 = webhook::v1;

// A webhook payload's "data": the event as JSON, with the .proto's field names.
std::string ToJson(const google::protobuf::Message& message) {
  std::string json;
  google::protobuf::util::JsonPrintOptions options;
  options.preserve_proto_field_names = true;
  (void)google::protobuf::util::MessageToJsonString(message, &json, options);
  return json;
}

wv1::WebhookEvent WebhookEventOf(ApprovalStore::Change change) {
  switch (change) {
    case ApprovalStore::Change::kCreated:
      return wv1::WEBHOOK_EVENT_APPROVAL_CREATED;
    case ApprovalStore::Change::kFinalized:
      return wv1::WEBHOOK_EVENT_APPROVAL_FINALIZED;
    default:  // a vote recorded, an approval expired
      return wv1::WEBHOOK_EVENT_APPROVAL_UPDATED;
  }
}

av1::ApprovalEventType EventTypeOf(ApprovalStore::Change change) {
  switch (change) {
    case ApprovalStore::Change::kCreated:
      return av1::APPROVAL_EVENT_TYPE_CREATED;
    case ApprovalStore::Change::kVoteRecorded:
      return av1::APPROVAL_EVENT_TYPE_VOTE_RECORDED;
    case ApprovalStore::Change::kFinalized:
      return av1::APPROVAL_EVENT_TYPE_FINALIZED;
    case ApprovalStore::Change::kExpired:
      return av1::APPROVAL_EVENT_TYPE_EXPIRED;
  }
  return av1::APPROVAL_EVENT_TYPE_UNSPECIFIED;
}

wv1::RegistryChange RegistryChangeOf(WebhookRegistry::Change change) {
  return change == WebhookRegistry::Change::kCreated   ? wv1::REGISTRY_CHANGE_CREATED
         : change == WebhookRegistry::Change::kUpdated ? wv1::REGISTRY_CHANGE_UPDATED
                                                       : wv1::REGISTRY_CHANGE_DELETED;
}

}  // namespace

void WireEvents(ApprovalStore& approvals, WebhookRegistry& registry, const Streaming& streaming,
                WebhookHubs& hubs) {
  approvals.SetObserver([streaming](ApprovalStore::Change change, const av1::ApprovalState& state) {
    streaming.webhooks.Publish(
        WebhookEventOf(change), [&] { return ToJson(state); }, streaming.wall.NowNanos());
    EventHub<av1::ApprovalEvent>& hub = streaming.approval_events;
    if (!hub.has_subscribers()) return;
    auto event = std::make_shared<av1::ApprovalEvent>();
    event->set_sequence(hub.NextSequence());
    event->set_type(EventTypeOf(change));
    *event->mutable_state() = state;
    hub.Publish(event);
  });
  registry.SetObserver([&hubs](WebhookRegistry::Change change, const wv1::Webhook& webhook) {
    if (!hubs.registry.has_subscribers()) return;
    auto event = std::make_shared<wv1::WebhookRegistryEvent>();
    event->set_change(RegistryChangeOf(change));
    *event->mutable_webhook() = webhook;
    hubs.registry.Publish(event);
  });
  streaming.webhooks.SetObserver([&hubs](const wv1::WebhookDeliveryRecord& record) {
    if (!hubs.deliveries.has_subscribers()) return;
    hubs.deliveries.Publish(std::make_shared<wv1::WebhookDeliveryRecord>(record));
  });
}

void PublishCommitted(const Streaming& streaming, const tv1::Transaction& tx, uint64_t log_index) {
  streaming.webhooks.Publish(
      wv1::WEBHOOK_EVENT_TRANSACTION_COMMITTED, [&] { return ToJson(tx); },
      streaming.wall.NowNanos());
  EventHub<CommittedEvent>& hub = streaming.transaction_events;
  if (!hub.has_subscribers()) return;
  hub.Publish(MakeCommittedEvent(tx, hub.NextSequence(), streaming.wall.NowNanos(), log_index));
}

void PublishAccepted(const Streaming& streaming, const tv1::BatchRequest& batch,
                     const tv1::BatchResponse& outcome, uint64_t log_index) {
  for (int i = 0; i < outcome.results_size() && i < batch.transactions_size(); ++i) {
    if (outcome.results(i).status() == tv1::TRANSACTION_STATUS_ACCEPTED) {
      PublishCommitted(streaming, batch.transactions(i), log_index);
    }
  }
}

}  // namespace aurigraph::refserver
