// Recovery figures from hand-built data: per-worker gaps between successes and
// the periods no worker succeeded in (only the common ones, at least the
// threshold long, the longest kept beyond the cap); and figures for an event
// from an interval series: an outage measured exactly, none, one that never
// ends, one cut short by the run's end, and the baseline they are judged by.
#include "loadgen/faults/recovery.h"

#include <gtest/gtest.h>

#include <ostream>

namespace aurigraph::loadgen {

void PrintTo(const Window& window, std::ostream* out) {
  *out << "[" << window.start_nanos << ", " << window.end_nanos << "]";
}

namespace {

constexpr int64_t kMs = 1'000'000;
constexpr int64_t kSecond = 1000 * kMs;
constexpr int64_t kRunStart = 1000 * kSecond;  // the clock's reading at the run's start

// Successes every millisecond over [from_ms, to_ms] of the run.
void Succeed(SuccessGaps& worker, int from_ms, int to_ms) {
  for (int ms = from_ms; ms <= to_ms; ++ms) worker.OnSuccess(kRunStart + ms * kMs);
}

Window Ms(int64_t start, int64_t end) { return {start * kMs, end * kMs}; }

TEST(SuccessGapsTest, KeepsGapsAtLeastTheThresholdLong) {
  SuccessGaps worker(5 * kMs);
  for (int64_t ms : {0, 1, 2, 6, 11, 20}) worker.OnSuccess(ms * kMs);
  EXPECT_EQ(worker.Gaps(), (std::vector<Window>{Ms(6, 11), Ms(11, 20)}));
  EXPECT_EQ(worker.first_success_nanos(), 0);
  EXPECT_EQ(worker.last_success_nanos(), 20 * kMs);
  EXPECT_EQ(worker.dropped_gaps(), 0);
}

TEST(SuccessGapsTest, KeepsTheLongestGapsBeyondTheCap) {
  SuccessGaps worker(5 * kMs, 3);
  int64_t now = 0;
  worker.OnSuccess(now);
  for (int64_t gap : {10, 50, 20, 40, 30}) worker.OnSuccess(now += gap * kMs);
  EXPECT_EQ(worker.Gaps(), (std::vector<Window>{Ms(10, 60), Ms(80, 120), Ms(120, 150)}));
  EXPECT_EQ(worker.dropped_gaps(), 2);
}

TEST(SuccessGapsTest, MergeKeepsOnlyPeriodsNoWorkerSucceededIn) {
  SuccessGaps a(5 * kMs), b(5 * kMs);
  Succeed(a, 0, 30);
  Succeed(b, 0, 50);
  Succeed(a, 80, 100);
  Succeed(b, 90, 100);
  EXPECT_EQ(SuccessGaps::Merge({&a, &b}, kRunStart, kRunStart + 100 * kMs),
            (std::vector<Window>{Ms(50, 80)}));
}

TEST(SuccessGapsTest, MergeCountsAWorkerWithoutSuccessAsNeverSucceeding) {
  SuccessGaps a(5 * kMs), idle(5 * kMs);
  Succeed(a, 10, 30);
  Succeed(a, 80, 100);
  EXPECT_EQ(SuccessGaps::Merge({&a, &idle}, kRunStart, kRunStart + 200 * kMs),
            (std::vector<Window>{Ms(0, 10), Ms(30, 80), Ms(100, 200)}));
  EXPECT_EQ(SuccessGaps::Merge({&idle}, kRunStart, kRunStart + 200 * kMs),
            (std::vector<Window>{Ms(0, 200)}));
  EXPECT_EQ(SuccessGaps::Merge({}, kRunStart, kRunStart + 200 * kMs),
            (std::vector<Window>{Ms(0, 200)}));
}

TEST(SuccessGapsTest, MergeDropsCommonPeriodsShorterThanTheThreshold) {
  // Each worker's gap is long enough, what they have in common (43 to 46 ms) is not.
  SuccessGaps a(5 * kMs), b(5 * kMs);
  Succeed(a, 0, 40);
  Succeed(a, 46, 100);
  Succeed(b, 0, 43);
  Succeed(b, 50, 100);
  EXPECT_EQ(a.Gaps(), (std::vector<Window>{{kRunStart + 40 * kMs, kRunStart + 46 * kMs}}));
  EXPECT_TRUE(SuccessGaps::Merge({&a, &b}, kRunStart, kRunStart + 100 * kMs).empty());
}

// One-second intervals over `seconds`, each with `rate` successes and a p99 of `p99_us`.
std::vector<RecoveryInterval> Steady(int seconds, int64_t rate = 100, double p99_us = 1000) {
  std::vector<RecoveryInterval> intervals;
  for (int i = 0; i < seconds; ++i) {
    RecoveryInterval& interval = intervals.emplace_back();
    interval.offset_seconds = i;
    interval.seconds = 1;
    interval.ok = rate;
    interval.p99_us = p99_us;
  }
  return intervals;
}

TEST(RecoveryTest, MeasuresAnOutageExactly) {
  // The target is down from 20 s to 22 s: every call in between fails.
  std::vector<RecoveryInterval> intervals = Steady(30);
  for (int i : {20, 21}) {
    intervals[i].ok = 0;
    intervals[i].p99_us = 0;
    intervals[i].failed_by_code = {{"UNAVAILABLE", 100}};
  }
  const std::vector<Window> no_success = {{19'995 * kMs, 22 * kSecond}};
  const RecoveryFigures figures = ComputeRecovery(
      {.name = "kill", .at_nanos = 20 * kSecond, .first_success_nanos = 22 * kSecond}, intervals,
      no_success);
  EXPECT_EQ(figures.event, "kill");
  EXPECT_DOUBLE_EQ(figures.at_seconds, 20);
  EXPECT_DOUBLE_EQ(figures.first_success_after_seconds, 2);
  EXPECT_DOUBLE_EQ(figures.unavailable_max_seconds, 2);  // counted from the event
  EXPECT_DOUBLE_EQ(figures.recovered_seconds, 2);
  EXPECT_EQ(figures.failed_by_code, (std::map<std::string, int64_t>{{"UNAVAILABLE", 200}}));
  EXPECT_DOUBLE_EQ(figures.baseline_rate, 100);
  EXPECT_DOUBLE_EQ(figures.baseline_p99_us, 1000);
  EXPECT_EQ(figures.note, "");
}

TEST(RecoveryTest, AnEventWithoutEffectRecoversInItsOwnInterval) {
  const RecoveryFigures figures = ComputeRecovery(
      {.name = "noop", .at_nanos = 20'500 * kMs, .first_success_nanos = 20'510 * kMs}, Steady(30),
      {});
  EXPECT_NEAR(figures.first_success_after_seconds, 0.01, 1e-12);
  EXPECT_DOUBLE_EQ(figures.unavailable_max_seconds, 0);
  EXPECT_DOUBLE_EQ(figures.recovered_seconds, 0);
  EXPECT_TRUE(figures.failed_by_code.empty());
  EXPECT_EQ(figures.note, "");
}

TEST(RecoveryTest, ABlipInTheEventsIntervalShowsAsUnavailability) {
  std::vector<RecoveryInterval> intervals = Steady(30);
  intervals[20].ok = 95;  // within 10% of the baseline
  intervals[20].failed_by_code = {{"UNAVAILABLE", 5}};
  const RecoveryFigures figures = ComputeRecovery(
      {.name = "blip", .at_nanos = 20 * kSecond, .first_success_nanos = 20'001 * kMs}, intervals,
      {{20'200 * kMs, 20'250 * kMs}});
  EXPECT_DOUBLE_EQ(figures.recovered_seconds, 0);
  EXPECT_NEAR(figures.unavailable_max_seconds, 0.05, 1e-12);
  EXPECT_EQ(figures.failed_by_code, (std::map<std::string, int64_t>{{"UNAVAILABLE", 5}}));
}

TEST(RecoveryTest, NeverRecovering) {
  std::vector<RecoveryInterval> intervals = Steady(30);
  for (int i = 20; i < 30; ++i) {
    intervals[i].p99_us = 2000;
    intervals[i].failed_by_code = {{"DEADLINE_EXCEEDED", 5}};
  }
  const RecoveryFigures figures = ComputeRecovery(
      {.name = "slow", .at_nanos = 20 * kSecond, .first_success_nanos = 20'100 * kMs}, intervals,
      {{5 * kSecond, 6 * kSecond}, {25 * kSecond, 25'500 * kMs}});
  EXPECT_DOUBLE_EQ(figures.recovered_seconds, -1);
  EXPECT_EQ(figures.note, "did not recover by the run's end");
  EXPECT_EQ(figures.failed_by_code, (std::map<std::string, int64_t>{{"DEADLINE_EXCEEDED", 50}}));
  EXPECT_NEAR(figures.unavailable_max_seconds, 0.5,
              1e-12);  // the window before the event is not its
}

TEST(RecoveryTest, FewerConsecutiveIntervalsSufficeAtTheRunsEnd) {
  std::vector<RecoveryInterval> intervals = Steady(30);
  for (int i : {27, 28}) {
    intervals[i].ok = 0;
    intervals[i].failed_by_code = {{"UNAVAILABLE", 100}};
  }
  const RecoveryFigures figures = ComputeRecovery(
      {.name = "late", .at_nanos = 27'500 * kMs, .first_success_nanos = 29 * kSecond}, intervals,
      {{27'500 * kMs, 29 * kSecond}});
  EXPECT_DOUBLE_EQ(figures.recovered_seconds, 1.5);
  EXPECT_DOUBLE_EQ(figures.unavailable_max_seconds, 1.5);
  EXPECT_EQ(figures.failed_by_code, (std::map<std::string, int64_t>{{"UNAVAILABLE", 200}}));
}

TEST(RecoveryTest, AnEventInTheFirstIntervalHasNoBaseline) {
  const RecoveryFigures figures = ComputeRecovery(
      {.name = "first", .at_nanos = 500 * kMs, .first_success_nanos = 600 * kMs}, Steady(30), {});
  EXPECT_DOUBLE_EQ(figures.recovered_seconds, -1);
  EXPECT_DOUBLE_EQ(figures.baseline_rate, 0);
  EXPECT_EQ(figures.note, "no baseline: the event came in the run's first measured interval");
  EXPECT_NEAR(figures.first_success_after_seconds, 0.1, 1e-12);
}

TEST(RecoveryTest, TheBaselineIsTheMostRecentMeasuredWindowBeforeTheEvent) {
  std::vector<RecoveryInterval> intervals = Steady(30);
  for (int i = 0; i < 10; ++i) {
    intervals[i].ok = 200;  // older than the 10 s window
    intervals[i].warmup = i < 3;
  }
  for (int i = 10; i < 30; ++i) intervals[i].p99_us = i % 2 == 0 ? 950 : 1050;
  RecoveryFigures figures = ComputeRecovery({.name = "e", .at_nanos = 20 * kSecond}, intervals, {});
  EXPECT_DOUBLE_EQ(figures.baseline_rate, 100);
  EXPECT_DOUBLE_EQ(figures.baseline_p99_us, 1000);
  EXPECT_DOUBLE_EQ(figures.recovered_seconds, 0);
  EXPECT_DOUBLE_EQ(figures.first_success_after_seconds, -1);

  // Warm-up intervals never count, even inside the window.
  figures = ComputeRecovery({.name = "e", .at_nanos = 5 * kSecond}, intervals, {},
                            {.baseline_window_seconds = 10});
  EXPECT_DOUBLE_EQ(figures.baseline_rate, 200);  // intervals 3 and 4 only
}

}  // namespace
}  // namespace aurigraph::loadgen
