// An HTTP receiver for webhook deliveries. Each request must name its webhook
// (X-Webhook-Id) and carry a valid signature and a timestamp inside the window
// (common/webhook_signature); it is measured from the event's time (the body's
// event_at_unix_nanos) to its arrival. The first accepted delivery of an id
// counts; later ones are duplicates. The sink can be told to fail a fraction of
// requests (HTTP 500, seeded) or to answer slowly, to exercise the sender's
// retries, backoff and dead-letter path. Knows nothing of gRPC or Kafka.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/clock/clock.h"
#include "loadgen/histogram/histogram.h"
#include "loadgen/histogram/latency.h"

namespace aurigraph::loadgen {

struct WebhookSinkOptions {
  std::string listen = "127.0.0.1:0";  // port 0 picks a free port
  double fail_ratio = 0;               // answer this share of valid requests with HTTP 500
  int64_t delay_nanos = 0;             // wait this long before answering
  int64_t timestamp_window_seconds = 300;
  uint64_t seed = 1;
};

struct WebhookSinkStats {
  int64_t requests = 0;                        // HTTP requests received
  int64_t accepted = 0;                        // answered 200: signed, fresh, not failed on purpose
  int64_t deliveries = 0;                      // distinct delivery ids accepted
  int64_t duplicates = 0;                      // accepted again after an earlier acceptance
  int64_t injected_failures = 0;               // answered 500 on purpose
  int64_t invalid_signatures = 0;              // a missing, malformed or wrong signature: 401
  int64_t stale_timestamps = 0;                // signed outside the window: 401
  int64_t unknown_webhooks = 0;                // no secret for the X-Webhook-Id: 404
  int64_t malformed_bodies = 0;                // no event_at_unix_nanos or delivery_id: 400
  std::map<int, int64_t> accepted_by_attempt;  // X-Attempt of each first acceptance
  int64_t first_delivery_unix_nanos = 0;       // arrival of the first and last deliveries
  int64_t last_delivery_unix_nanos = 0;
  // Event to first acceptance, microseconds.
  Histogram latency_us = MakeLatencyHistogram();
};

class WebhookSink {
 public:
  // UNAVAILABLE naming the address when it cannot listen.
  static absl::StatusOr<std::unique_ptr<WebhookSink>> Start(WebhookSinkOptions options,
                                                            const Clock& wall);
  ~WebhookSink();

  std::string url() const;  // http://HOST:PORT/webhook
  // Deliveries for `webhook_id` are checked against `secret`.
  void AddWebhook(const std::string& webhook_id, const std::string& secret);
  WebhookSinkStats Stats() const;
  // Whether a delivery with this id was accepted.
  bool Received(const std::string& delivery_id) const;

 private:
  struct Impl;
  explicit WebhookSink(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace aurigraph::loadgen
