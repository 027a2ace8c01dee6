// What happens to a webhook delivery at each step, decided from the record,
// its webhook, the retry policy and the wall clock alone, so the delivery
// pipeline (webhooks/delivery_pipeline.h) is left moving records between
// Kafka, curl and the registry, and every decision is checked without them.
//
// - Dedupe: the registry is the source of truth; a record taken from the topic
//   is attempted only while the registry's copy is still pending or waiting
//   for a retry with the same attempts, so a record Kafka delivers twice, an
//   older copy, or a delivery already finished is skipped.
// - A delivery whose webhook was deleted or made inactive fails without a request.
// - After each attempt: a 2xx answer succeeds; otherwise the delivery is
//   retried after the policy's backoff until the webhook's max_attempts
//   (counted from the last manual requeue), then dead-lettered.
#pragma once

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "aurigraph/webhook/v1/webhook.pb.h"
#include "common/clock/clock.h"
#include "reference-server/webhooks/retry_policy.h"

namespace aurigraph::refserver {

// What one HTTP attempt came back with.
struct AttemptOutcome {
  int64_t started_at_unix_nanos = 0;
  int64_t response_nanos = 0;
  int http_status = 0;          // 0 when no answer came
  std::string transport_error;  // why no answer came (timeout, refused); empty when one did
};

class DeliveryDecisions {
 public:
  enum class Next { kDone, kRetry, kDeadLetter };
  struct Decision {
    Next next;
    int64_t retry_in_nanos = 0;  // kRetry: the wait before the record is queued again
  };

  DeliveryDecisions(const RetryPolicy& retry, const Clock& wall) : retry_(retry), wall_(wall) {}

  // Whether `queued`, a record taken from the topic, is still due an attempt;
  // `stored` is the registry's copy (not found once forgotten).
  static bool IsDue(const webhook::v1::WebhookDeliveryRecord& queued,
                    const absl::StatusOr<webhook::v1::WebhookDeliveryRecord>& stored);

  // Fails `record`, with an attempt saying why, when its webhook cannot be
  // sent to: not found, without its secret, or inactive; true when it did.
  bool FailIfUnsendable(webhook::v1::WebhookDeliveryRecord& record,
                        const absl::StatusOr<webhook::v1::Webhook>& webhook, bool has_secret) const;

  // The number the next attempt on `record` goes out with (X-Attempt).
  static int NextAttempt(const webhook::v1::WebhookDeliveryRecord& record);

  // Adds the attempt to `record` and sets its status: succeeded, waiting for a
  // retry (with its time), or dead-lettered after `max_attempts` attempts.
  Decision RecordAttempt(webhook::v1::WebhookDeliveryRecord& record, int max_attempts,
                         const AttemptOutcome& outcome) const;

  // How long a stored, unfinished record waits before it is queued again when
  // the server starts: until its retry time, or 0 for at once.
  int64_t RequeueDelay(const webhook::v1::WebhookDeliveryRecord& record) const;

  // A failed or dead-lettered delivery queued again by hand: pending, with the
  // webhook's max_attempts counting afresh from here.
  static void Reopen(webhook::v1::WebhookDeliveryRecord& record);

 private:
  RetryPolicy retry_;
  const Clock& wall_;
};

}  // namespace aurigraph::refserver
