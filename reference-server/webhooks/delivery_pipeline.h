// Webhook delivery through Kafka: every delivery record is produced to a topic
// (key: the webhook id); a consumer hands records to HTTP workers, which POST
// the payload signed with the webhook's secret (common/webhook_signature) and
// record each attempt. A failed attempt (a non-2xx answer, a timeout or a
// refused connection) is produced to the topic again after the retry policy's
// backoff; after the webhook's last attempt the record goes to the dead-letter
// topic. The registry is the source of truth: a record Kafka delivers twice, or
// one already finished, is not POSTed again, and records not finished when the
// server stopped are queued again when it starts.
//
// Those decisions are webhooks/delivery_decisions.h, the HTTP request is
// webhooks/http_sender.h; the pipeline moves records between Kafka, its HTTP
// workers and the registry.
//
// `kafka: embedded` runs librdkafka's mock cluster in-process (the real Kafka
// protocol on loopback, nothing on disk), started with the first webhook (an
// idle cluster costs about 5% of a core); otherwise it names real brokers,
// connected to at start.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "aurigraph/webhook/v1/webhook.pb.h"
#include "common/clock/clock.h"
#include "reference-server/webhooks/retry_policy.h"
#include "reference-server/webhooks/webhook_registry.h"

namespace aurigraph::refserver {

struct DeliveryOptions {
  std::string kafka = "embedded";  // or bootstrap servers, HOST:PORT,...
  std::string topic = "webhook-deliveries";
  std::string dead_letter_topic = "webhook-deliveries-dlq";
  RetryPolicy retry;
  int http_workers = 8;
  // Called once Kafka is set up, with the brokers' address (the embedded
  // cluster's is known only then).
  std::function<void(const std::string& brokers)> on_connected;
};

struct DeliveryCounters {
  std::atomic<int64_t> queued{0};     // records produced to the topic (retries included)
  std::atomic<int64_t> attempts{0};   // HTTP requests made
  std::atomic<int64_t> succeeded{0};  // deliveries answered 2xx
  std::atomic<int64_t> failed_attempts{0};
  std::atomic<int64_t> dead_lettered{0};  // records produced to the dead-letter topic
  std::atomic<int64_t> skipped{0};        // records Kafka repeated, or already finished
  std::atomic<int64_t> produce_errors{0};
};

class DeliveryPipeline {
 public:
  using Observer = std::function<void(const webhook::v1::WebhookDeliveryRecord&)>;

  // UNAVAILABLE when Kafka cannot be set up.
  static absl::StatusOr<std::unique_ptr<DeliveryPipeline>> Start(DeliveryOptions options,
                                                                 WebhookRegistry& registry,
                                                                 const Clock& wall,
                                                                 const Clock& monotonic);
  // Stops consuming; records in flight stay unfinished in the registry.
  ~DeliveryPipeline();

  // Sets up Kafka and the delivery workers if they are not yet (the embedded
  // cluster waits for the first webhook); UNAVAILABLE when Kafka cannot be set up.
  // Called before a webhook is registered: Publish, Trigger and RetryFailed
  // act only for existing webhooks, so they find Kafka set up.
  absl::Status Connect();
  bool connected() const;
  // The brokers' address; empty until connected.
  const std::string& bootstrap_servers() const;
  const DeliveryCounters& counters() const;
  // Called on every change of a delivery record, from the thread that made it.
  void SetObserver(Observer observer);

  // Queues a delivery to every webhook subscribed to `event`; `data_json` (the
  // event as JSON) is called only when some webhook is.
  void Publish(webhook::v1::WebhookEvent event, absl::FunctionRef<std::string()> data_json,
               int64_t event_at_unix_nanos);
  // Queues one delivery to one webhook.
  absl::StatusOr<webhook::v1::WebhookDeliveryRecord> Trigger(const std::string& webhook_id,
                                                             webhook::v1::WebhookEvent event,
                                                             const std::string& data_json);
  // Queues a webhook's failed and dead-lettered deliveries again, with fresh attempts.
  absl::StatusOr<int> RetryFailed(const std::string& webhook_id);

 private:
  struct Impl;
  explicit DeliveryPipeline(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace aurigraph::refserver
