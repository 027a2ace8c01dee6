// The delivery pipeline's HTTP side (libcurl): one attempt at a delivery is
// its payload sent to the webhook's URL with the webhook's method and
// timeout, signed with the webhook's secret (common/webhook_signature) and
// naming the webhook, delivery, event and attempt in headers. What came back
// is reported as is; what it means is for webhooks/delivery_decisions.h.
#pragma once

#include <string>

#include "aurigraph/webhook/v1/webhook.pb.h"
#include "common/clock/clock.h"
#include "reference-server/webhooks/delivery_decisions.h"

namespace aurigraph::refserver {

// One per worker thread: its connection is kept between attempts.
class HttpSender {
 public:
  // Sets libcurl up for the process; before the first HttpSender, from one thread.
  static void InitOnce();

  HttpSender(const Clock& wall, const Clock& monotonic);
  ~HttpSender();
  HttpSender(const HttpSender&) = delete;
  HttpSender& operator=(const HttpSender&) = delete;

  // Attempt `attempt` (1-based) at delivering `record` to `webhook`.
  AttemptOutcome Send(const webhook::v1::Webhook& webhook, const std::string& secret,
                      const webhook::v1::WebhookDeliveryRecord& record, int attempt);

 private:
  const Clock& wall_;
  const Clock& monotonic_;
  void* curl_;  // a CURL easy handle
};

}  // namespace aurigraph::refserver
