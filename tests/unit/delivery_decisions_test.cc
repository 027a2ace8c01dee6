// The webhook delivery decisions on a manual clock: which records taken from
// Kafka are attempted, the retry schedule, dead-lettering after the last
// attempt, manual requeues, and the retry times kept across a restart.
#include "reference-server/webhooks/delivery_decisions.h"

#include <gtest/gtest.h>

#include <string>

#include "common/clock/clock.h"

namespace aurigraph::refserver {
namespace {

namespace wv1 = webhook::v1;
using Next = DeliveryDecisions::Next;

constexpr int64_t kSecond = 1'000'000'000;

RetryPolicy OneTwoFourCappedAtFive() {
  RetryPolicy policy;
  policy.initial_backoff_nanos = kSecond;
  policy.multiplier = 2;
  policy.max_backoff_nanos = 5 * kSecond;
  return policy;
}

wv1::WebhookDeliveryRecord Pending() {
  wv1::WebhookDeliveryRecord record;
  record.set_delivery_id("dl-1");
  record.set_webhook_id("wh-1");
  record.set_status(wv1::DELIVERY_STATUS_PENDING);
  return record;
}

wv1::Webhook Active() {
  wv1::Webhook webhook;
  webhook.set_webhook_id("wh-1");
  webhook.set_status(wv1::WEBHOOK_STATUS_ACTIVE);
  return webhook;
}

AttemptOutcome Answered(int http_status, int64_t started, int64_t response_nanos = 0) {
  AttemptOutcome outcome;
  outcome.started_at_unix_nanos = started;
  outcome.response_nanos = response_nanos;
  outcome.http_status = http_status;
  return outcome;
}

TEST(DeliveryDecisions, OnlyTheRegistrysCurrentUnfinishedCopyIsAttempted) {
  wv1::WebhookDeliveryRecord queued = Pending();
  EXPECT_TRUE(DeliveryDecisions::IsDue(queued, queued));

  wv1::WebhookDeliveryRecord waiting = queued;
  waiting.set_status(wv1::DELIVERY_STATUS_RETRY);
  waiting.add_attempts()->set_attempt(1);
  EXPECT_TRUE(DeliveryDecisions::IsDue(waiting, waiting));
  // A copy from before the attempt (Kafka delivered it twice) is not attempted again.
  EXPECT_FALSE(DeliveryDecisions::IsDue(queued, waiting));

  for (const wv1::DeliveryStatus finished :
       {wv1::DELIVERY_STATUS_SUCCESS, wv1::DELIVERY_STATUS_FAILED,
        wv1::DELIVERY_STATUS_DEAD_LETTERED}) {
    wv1::WebhookDeliveryRecord stored = queued;
    stored.set_status(finished);
    EXPECT_FALSE(DeliveryDecisions::IsDue(queued, stored)) << wv1::DeliveryStatus_Name(finished);
  }
  EXPECT_FALSE(DeliveryDecisions::IsDue(queued, absl::NotFoundError("forgotten")));
}

TEST(DeliveryDecisions, RetriesOnTheBackoffScheduleThenDeadLettersAfterTheLastAttempt) {
  ManualClock wall(1'700'000'000 * kSecond);
  const DeliveryDecisions decisions(OneTwoFourCappedAtFive(), wall);
  wv1::WebhookDeliveryRecord record = Pending();
  const int64_t expected_backoff[] = {1 * kSecond, 2 * kSecond, 4 * kSecond, 5 * kSecond};
  for (int attempt = 1; attempt <= 4; ++attempt) {
    EXPECT_EQ(DeliveryDecisions::NextAttempt(record), attempt);
    const int64_t started = wall.NowNanos();
    wall.Advance(30'000'000);  // the request takes 30 ms
    const auto decision =
        decisions.RecordAttempt(record, /*max_attempts=*/5, Answered(503, started, 30'000'000));
    EXPECT_EQ(decision.next, Next::kRetry);
    EXPECT_EQ(decision.retry_in_nanos, expected_backoff[attempt - 1]);
    EXPECT_EQ(record.status(), wv1::DELIVERY_STATUS_RETRY);
    EXPECT_EQ(record.next_attempt_at_unix_nanos(), wall.NowNanos() + decision.retry_in_nanos);
    ASSERT_EQ(record.attempts_size(), attempt);
    const wv1::DeliveryAttempt& made = record.attempts(attempt - 1);
    EXPECT_EQ(made.attempt(), attempt);
    EXPECT_EQ(made.started_at_unix_nanos(), started);
    EXPECT_EQ(made.http_status(), 503);
    EXPECT_EQ(made.response_ms(), 30);
    EXPECT_EQ(made.error(), "HTTP 503");
    wall.Advance(decision.retry_in_nanos);
  }
  const auto last = decisions.RecordAttempt(record, 5, Answered(500, wall.NowNanos()));
  EXPECT_EQ(last.next, Next::kDeadLetter);
  EXPECT_EQ(record.status(), wv1::DELIVERY_STATUS_DEAD_LETTERED);
  EXPECT_EQ(record.next_attempt_at_unix_nanos(), 0);
  EXPECT_EQ(record.attempts_size(), 5);
  EXPECT_EQ(record.attempts(4).error(), "HTTP 500");
}

TEST(DeliveryDecisions, OnlyA2xxAnswerSucceeds) {
  ManualClock wall(kSecond);
  const DeliveryDecisions decisions(OneTwoFourCappedAtFive(), wall);
  for (const int status : {200, 204, 299}) {
    wv1::WebhookDeliveryRecord record = Pending();
    record.set_next_attempt_at_unix_nanos(7);
    EXPECT_EQ(decisions.RecordAttempt(record, 5, Answered(status, kSecond)).next, Next::kDone)
        << status;
    EXPECT_EQ(record.status(), wv1::DELIVERY_STATUS_SUCCESS);
    EXPECT_EQ(record.next_attempt_at_unix_nanos(), 0);
    EXPECT_EQ(record.attempts(0).error(), "");
    EXPECT_EQ(record.attempts(0).http_status(), status);
  }
  for (const int status : {100, 199, 300, 302, 404, 429}) {
    wv1::WebhookDeliveryRecord record = Pending();
    EXPECT_EQ(decisions.RecordAttempt(record, 5, Answered(status, kSecond)).next, Next::kRetry)
        << status;
    EXPECT_EQ(record.attempts(0).error(), "HTTP " + std::to_string(status));
  }
}

TEST(DeliveryDecisions, NoAnswerIsAFailedAttemptNamingWhy) {
  ManualClock wall(kSecond);
  const DeliveryDecisions decisions(OneTwoFourCappedAtFive(), wall);
  wv1::WebhookDeliveryRecord record = Pending();
  AttemptOutcome refused = Answered(0, kSecond);
  refused.transport_error = "Couldn't connect to server";
  const auto decision = decisions.RecordAttempt(record, 5, refused);
  EXPECT_EQ(decision.next, Next::kRetry);
  EXPECT_EQ(decision.retry_in_nanos, kSecond);
  EXPECT_EQ(record.attempts(0).error(), "Couldn't connect to server");
  EXPECT_EQ(record.attempts(0).http_status(), 0);

  // Even with a 2xx status: an answer cut short by a timeout does not count.
  wv1::WebhookDeliveryRecord timed_out = Pending();
  AttemptOutcome late = Answered(200, kSecond);
  late.transport_error = "Timeout was reached";
  EXPECT_EQ(decisions.RecordAttempt(timed_out, 5, late).next, Next::kRetry);
  EXPECT_EQ(timed_out.attempts(0).error(), "Timeout was reached");
}

TEST(DeliveryDecisions, OneAttemptAllowedDeadLettersAtOnce) {
  ManualClock wall(kSecond);
  const DeliveryDecisions decisions(OneTwoFourCappedAtFive(), wall);
  wv1::WebhookDeliveryRecord record = Pending();
  EXPECT_EQ(decisions.RecordAttempt(record, 1, Answered(500, kSecond)).next, Next::kDeadLetter);
  EXPECT_EQ(record.status(), wv1::DELIVERY_STATUS_DEAD_LETTERED);
}

TEST(DeliveryDecisions, AManualRequeueGivesFreshAttemptsFromTheFirstBackoff) {
  ManualClock wall(kSecond);
  const DeliveryDecisions decisions(OneTwoFourCappedAtFive(), wall);
  wv1::WebhookDeliveryRecord record = Pending();
  EXPECT_EQ(decisions.RecordAttempt(record, 2, Answered(500, kSecond)).next, Next::kRetry);
  EXPECT_EQ(decisions.RecordAttempt(record, 2, Answered(500, kSecond)).next, Next::kDeadLetter);

  DeliveryDecisions::Reopen(record);
  EXPECT_EQ(record.status(), wv1::DELIVERY_STATUS_PENDING);
  EXPECT_EQ(record.attempts_before_requeue(), 2);
  EXPECT_EQ(record.next_attempt_at_unix_nanos(), 0);
  EXPECT_EQ(record.attempts_size(), 2);  // the history is kept
  EXPECT_EQ(DeliveryDecisions::NextAttempt(record), 3);

  const auto retry = decisions.RecordAttempt(record, 2, Answered(500, kSecond));
  EXPECT_EQ(retry.next, Next::kRetry);
  EXPECT_EQ(retry.retry_in_nanos, kSecond);
  EXPECT_EQ(record.attempts(2).attempt(), 3);
  EXPECT_EQ(decisions.RecordAttempt(record, 2, Answered(500, kSecond)).next, Next::kDeadLetter);
}

TEST(DeliveryDecisions, ADeletedOrInactiveWebhookFailsTheDeliveryWithoutARequest) {
  ManualClock wall(42 * kSecond);
  const DeliveryDecisions decisions(OneTwoFourCappedAtFive(), wall);

  wv1::WebhookDeliveryRecord sendable = Pending();
  EXPECT_FALSE(decisions.FailIfUnsendable(sendable, Active(), /*has_secret=*/true));
  EXPECT_EQ(sendable.status(), wv1::DELIVERY_STATUS_PENDING);
  EXPECT_EQ(sendable.attempts_size(), 0);
  wv1::Webhook failing = Active();
  failing.set_status(wv1::WEBHOOK_STATUS_FAILING);
  EXPECT_FALSE(decisions.FailIfUnsendable(sendable, failing, true));

  wv1::WebhookDeliveryRecord deleted = Pending();
  EXPECT_TRUE(decisions.FailIfUnsendable(deleted, absl::NotFoundError("gone"), false));
  EXPECT_EQ(deleted.status(), wv1::DELIVERY_STATUS_FAILED);
  ASSERT_EQ(deleted.attempts_size(), 1);
  EXPECT_EQ(deleted.attempts(0).attempt(), 1);
  EXPECT_EQ(deleted.attempts(0).started_at_unix_nanos(), 42 * kSecond);
  EXPECT_EQ(deleted.attempts(0).error(), "webhook deleted");

  wv1::Webhook paused = Active();
  paused.set_status(wv1::WEBHOOK_STATUS_INACTIVE);
  wv1::WebhookDeliveryRecord inactive = Pending();
  inactive.add_attempts()->set_attempt(1);
  EXPECT_TRUE(decisions.FailIfUnsendable(inactive, paused, true));
  EXPECT_EQ(inactive.status(), wv1::DELIVERY_STATUS_FAILED);
  ASSERT_EQ(inactive.attempts_size(), 2);
  EXPECT_EQ(inactive.attempts(1).attempt(), 2);
  EXPECT_EQ(inactive.attempts(1).error(), "webhook inactive");
}

TEST(DeliveryDecisions, AtStartARecordWaitsOnlyForARetryTimeStillAhead) {
  ManualClock wall(100 * kSecond);
  const DeliveryDecisions decisions(OneTwoFourCappedAtFive(), wall);
  wv1::WebhookDeliveryRecord waiting = Pending();
  waiting.set_status(wv1::DELIVERY_STATUS_RETRY);
  waiting.set_next_attempt_at_unix_nanos(103 * kSecond);
  EXPECT_EQ(decisions.RequeueDelay(waiting), 3 * kSecond);
  wall.Advance(3 * kSecond);
  EXPECT_EQ(decisions.RequeueDelay(waiting), 0);
  wall.Advance(kSecond);
  EXPECT_EQ(decisions.RequeueDelay(waiting), 0);

  wv1::WebhookDeliveryRecord pending = Pending();
  pending.set_next_attempt_at_unix_nanos(200 * kSecond);
  EXPECT_EQ(decisions.RequeueDelay(pending), 0);
}

}  // namespace
}  // namespace aurigraph::refserver
