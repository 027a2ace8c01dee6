// WebhookService (aurigraph.webhook.v1): the webhook registry's CRUD, manual
// triggers and requeues through the delivery pipeline, delivery history, and
// watch streams of registry changes and delivery records.
#pragma once

#include <grpcpp/impl/service_type.h>

#include <memory>

#include "reference-server/service/event_wiring.h"
#include "reference-server/service/responder.h"
#include "reference-server/service/streaming.h"
#include "reference-server/webhooks/delivery_pipeline.h"
#include "reference-server/webhooks/webhook_registry.h"

namespace aurigraph::refserver {

std::unique_ptr<grpc::Service> MakeWebhookService(WebhookRegistry& registry,
                                                  DeliveryPipeline& pipeline, WebhookHubs& hubs,
                                                  const Responder& responder,
                                                  const Streaming& streaming);

}  // namespace aurigraph::refserver
