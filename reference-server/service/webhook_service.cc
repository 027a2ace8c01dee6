#include "reference-server/service/webhook_service.h"

#include <string>

#include "aurigraph/webhook/v1/webhook.grpc.pb.h"
#include "reference-server/service/gated_service.h"
#include "reference-server/streams/event_stream.h"

namespace aurigraph::refserver {
namespace {

namespace wv1 = webhook::v1;

class WebhookServiceImpl final : public GatedService<wv1::WebhookService::CallbackService> {
 public:
  WebhookServiceImpl(WebhookRegistry& registry, DeliveryPipeline& pipeline, WebhookHubs& hubs,
                     const Responder& responder, Streaming streaming)
      : GatedService(wv1::WebhookService::service_full_name(), responder),
        registry_(registry),
        pipeline_(pipeline),
        hubs_(hubs),
        responder_(responder),
        streaming_(streaming) {
    using Self = WebhookServiceImpl;
    Unary("CreateWebhook", &Self::CreateWebhook);
    Unary("GetWebhook", &Self::GetWebhook);
    Unary("ListWebhooks", &Self::ListWebhooks);
    Unary("UpdateWebhook", &Self::UpdateWebhook);
    Unary("DeleteWebhook", &Self::DeleteWebhook);
    Unary("TriggerWebhook", &Self::TriggerWebhook);
    Unary("GetDeliveryHistory", &Self::GetDeliveryHistory);
    Unary("RetryFailedDeliveries", &Self::RetryFailedDeliveries);
    ServerStreaming("WatchWebhookRegistry", &Self::WatchWebhookRegistry);
    ServerStreaming("WatchDeliveries", &Self::WatchDeliveries);
  }

  grpc::ServerUnaryReactor* CreateWebhook(grpc::CallbackServerContext* context,
                                          const wv1::CreateWebhookRequest* request,
                                          wv1::Webhook* response) override {
    // Kafka first: a webhook is registered only where its deliveries can go.
    if (auto connected = pipeline_.Connect(); !connected.ok()) {
      return responder_.Finish(context, connected);
    }
    return responder_.Finish(context, Assign(registry_.Create(*request), response));
  }
  grpc::ServerUnaryReactor* GetWebhook(grpc::CallbackServerContext* context,
                                       const wv1::GetWebhookRequest* request,
                                       wv1::Webhook* response) override {
    return responder_.Finish(context, Assign(registry_.Get(request->webhook_id()), response));
  }
  grpc::ServerUnaryReactor* ListWebhooks(grpc::CallbackServerContext* context,
                                         const wv1::ListWebhooksRequest* request,
                                         wv1::ListWebhooksResponse* response) override {
    return responder_.Finish(context, Assign(registry_.List(*request), response));
  }
  grpc::ServerUnaryReactor* UpdateWebhook(grpc::CallbackServerContext* context,
                                          const wv1::UpdateWebhookRequest* request,
                                          wv1::Webhook* response) override {
    return responder_.Finish(context, Assign(registry_.Update(*request), response));
  }
  grpc::ServerUnaryReactor* DeleteWebhook(grpc::CallbackServerContext* context,
                                          const wv1::DeleteWebhookRequest* request,
                                          wv1::DeleteWebhookResponse* response) override {
    auto deleted = registry_.Delete(request->webhook_id());
    if (deleted.ok()) response->set_deleted(*deleted);
    return responder_.Finish(context, deleted.status());
  }
  grpc::ServerUnaryReactor* TriggerWebhook(grpc::CallbackServerContext* context,
                                           const wv1::TriggerWebhookRequest* request,
                                           wv1::WebhookDeliveryRecord* response) override {
    return responder_.Finish(
        context,
        Assign(pipeline_.Trigger(request->webhook_id(), request->event(), request->payload()),
               response));
  }
  grpc::ServerUnaryReactor* GetDeliveryHistory(grpc::CallbackServerContext* context,
                                               const wv1::DeliveryHistoryRequest* request,
                                               wv1::DeliveryHistoryResponse* response) override {
    return responder_.Finish(context, Assign(registry_.History(*request), response));
  }
  grpc::ServerUnaryReactor* RetryFailedDeliveries(grpc::CallbackServerContext* context,
                                                  const wv1::RetryFailedRequest* request,
                                                  wv1::RetryFailedResponse* response) override {
    auto requeued = pipeline_.RetryFailed(request->webhook_id());
    if (requeued.ok()) response->set_requeued(*requeued);
    return responder_.Finish(context, requeued.status());
  }
  grpc::ServerWriteReactor<wv1::WebhookRegistryEvent>* WatchWebhookRegistry(
      grpc::CallbackServerContext* context, const wv1::WatchRegistryRequest* request) override {
    const std::string owner = request->owner_id();
    const Clock& wall = streaming_.wall;
    return EventStream<wv1::WebhookRegistryEvent, wv1::WebhookRegistryEvent>::Open(
        hubs_.registry, streaming_.counters, streaming_.options.stream_queue_bound,
        [owner](const wv1::WebhookRegistryEvent& e) {
          return owner.empty() || e.webhook().owner_id() == owner;
        },
        [&wall](const wv1::WebhookRegistryEvent& e, wv1::WebhookRegistryEvent* out) {
          *out = e;
          out->set_sent_at_unix_nanos(wall.NowNanos());
        });
  }
  grpc::ServerWriteReactor<wv1::WebhookDeliveryRecord>* WatchDeliveries(
      grpc::CallbackServerContext* context, const wv1::WatchDeliveriesRequest* request) override {
    const std::string webhook_id = request->webhook_id();
    return EventStream<wv1::WebhookDeliveryRecord, wv1::WebhookDeliveryRecord>::Open(
        hubs_.deliveries, streaming_.counters, streaming_.options.stream_queue_bound,
        [webhook_id](const wv1::WebhookDeliveryRecord& e) {
          return webhook_id.empty() || e.webhook_id() == webhook_id;
        },
        [](const wv1::WebhookDeliveryRecord& e, wv1::WebhookDeliveryRecord* out) { *out = e; });
  }

 private:
  WebhookRegistry& registry_;
  DeliveryPipeline& pipeline_;
  WebhookHubs& hubs_;
  const Responder& responder_;
  Streaming streaming_;
};

}  // namespace

std::unique_ptr<grpc::Service> MakeWebhookService(WebhookRegistry& registry,
                                                  DeliveryPipeline& pipeline, WebhookHubs& hubs,
                                                  const Responder& responder,
                                                  const Streaming& streaming) {
  return std::make_unique<WebhookServiceImpl>(registry, pipeline, hubs, responder, streaming);
}

}  // namespace aurigraph::refserver
