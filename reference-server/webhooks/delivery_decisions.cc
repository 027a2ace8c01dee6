#include "reference-server/webhooks/delivery_decisions.h"

#include "absl/strings/str_cat.h"

namespace aurigraph::refserver {

namespace wv1 = webhook::v1;

bool DeliveryDecisions::IsDue(const wv1::WebhookDeliveryRecord& queued,
                              const absl::StatusOr<wv1::WebhookDeliveryRecord>& stored) {
  return stored.ok() && stored->attempts_size() == queued.attempts_size() &&
         (stored->status() == wv1::DELIVERY_STATUS_PENDING ||
          stored->status() == wv1::DELIVERY_STATUS_RETRY);
}

bool DeliveryDecisions::FailIfUnsendable(wv1::WebhookDeliveryRecord& record,
                                         const absl::StatusOr<wv1::Webhook>& webhook,
                                         bool has_secret) const {
  if (webhook.ok() && has_secret && webhook->status() != wv1::WEBHOOK_STATUS_INACTIVE) return false;
  record.set_status(wv1::DELIVERY_STATUS_FAILED);
  wv1::DeliveryAttempt* attempt = record.add_attempts();
  attempt->set_attempt(record.attempts_size());
  attempt->set_started_at_unix_nanos(wall_.NowNanos());
  attempt->set_error(webhook.ok() ? "webhook inactive" : "webhook deleted");
  return true;
}

int DeliveryDecisions::NextAttempt(const wv1::WebhookDeliveryRecord& record) {
  return record.attempts_size() + 1;
}

DeliveryDecisions::Decision DeliveryDecisions::RecordAttempt(wv1::WebhookDeliveryRecord& record,
                                                             int max_attempts,
                                                             const AttemptOutcome& outcome) const {
  const int number = NextAttempt(record);
  wv1::DeliveryAttempt* attempt = record.add_attempts();
  attempt->set_attempt(number);
  attempt->set_started_at_unix_nanos(outcome.started_at_unix_nanos);
  attempt->set_http_status(outcome.http_status);
  attempt->set_response_ms(outcome.response_nanos / 1'000'000);
  if (outcome.transport_error.empty() && outcome.http_status >= 200 && outcome.http_status < 300) {
    record.set_status(wv1::DELIVERY_STATUS_SUCCESS);
    record.set_next_attempt_at_unix_nanos(0);
    return {Next::kDone};
  }
  attempt->set_error(outcome.transport_error.empty() ? absl::StrCat("HTTP ", outcome.http_status)
                                                     : outcome.transport_error);
  const int made = number - record.attempts_before_requeue();
  if (made < max_attempts) {
    const int64_t backoff = retry_.BackoffAfter(made);
    record.set_status(wv1::DELIVERY_STATUS_RETRY);
    record.set_next_attempt_at_unix_nanos(wall_.NowNanos() + backoff);
    return {Next::kRetry, backoff};
  }
  record.set_status(wv1::DELIVERY_STATUS_DEAD_LETTERED);
  record.set_next_attempt_at_unix_nanos(0);
  return {Next::kDeadLetter};
}

int64_t DeliveryDecisions::RequeueDelay(const wv1::WebhookDeliveryRecord& record) const {
  const int64_t wait = record.next_attempt_at_unix_nanos() - wall_.NowNanos();
  return record.status() == wv1::DELIVERY_STATUS_RETRY && wait > 0 ? wait : 0;
}

void DeliveryDecisions::Reopen(wv1::WebhookDeliveryRecord& record) {
  record.set_status(wv1::DELIVERY_STATUS_PENDING);
  record.set_attempts_before_requeue(record.attempts_size());
  record.set_next_attempt_at_unix_nanos(0);
}

}  // namespace aurigraph::refserver
