// A run's webhook check: starts the sink, registers a webhook on the target
// that points at it (WebhookService/CreateWebhook), and after the load waits
// for the target's deliveries to settle, then reconciles the target's delivery
// records (GetDeliveryHistory) with what the sink accepted: each record is
// delivered, dead-lettered, failed, or missing. Deletes the webhook at the end.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/clock/clock.h"
#include "loadgen/result/run_result.h"
#include "loadgen/webhook/webhook_sink.h"

namespace grpc {
class Channel;
}

namespace aurigraph::loadgen {

struct WebhookSessionSpec {
  WebhookSinkOptions sink;
  std::vector<std::string> events;  // WebhookEvent names, with or without the WEBHOOK_EVENT_ prefix
  int max_attempts = 0;             // 0: the target's default
  int64_t timeout_nanos = 0;        // per attempt; 0: the target's default
  int64_t drain_nanos = 30'000'000'000;
};

class WebhookSession {
 public:
  // INVALID_ARGUMENT for an unknown event name; the target's error when it
  // refuses the webhook (e.g. UNIMPLEMENTED without a WebhookService).
  static absl::StatusOr<std::unique_ptr<WebhookSession>> Start(
      const WebhookSessionSpec& spec, std::shared_ptr<grpc::Channel> channel, const Clock& wall);
  ~WebhookSession();

  // Waits up to the drain time for every delivery record to finish, then reads them.
  absl::StatusOr<WebhookResult> Finish();

 private:
  struct Impl;
  explicit WebhookSession(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace aurigraph::loadgen
