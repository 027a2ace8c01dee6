// The finality tracker: requests a run sends matched with the events that say
// they are final, on simulated time. Each item ends exactly once (final, lost,
// failed and never final, or dropped by the bound); latency runs from the
// intended send time; warm-up items stay out of measured intervals. Keys are
// read by a fake reader (comma-separated decimals), so no protobuf is needed.
#include "loadgen/finality/finality_tracker.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <charconv>
#include <cstdint>
#include <map>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "loadgen/histogram/latency.h"
#include "loadgen/recorder/interval_timeline.h"

namespace aurigraph::loadgen {
namespace {

constexpr int64_t kUs = 1'000;
constexpr int64_t kMs = 1'000'000;
constexpr int64_t kSecond = 1'000'000'000;
constexpr int kDeadlineExceeded = 4;

// "1,2,3" -> keys 1, 2, 3; anything that is not a decimal is skipped.
class CommaKeys final : public KeyReader {
 public:
  void ReadKeys(std::string_view message, std::vector<uint64_t>* keys) const override {
    while (!message.empty()) {
      const size_t comma = message.find(',');
      const std::string_view part = message.substr(0, comma);
      uint64_t key = 0;
      const auto [end, ec] = std::from_chars(part.data(), part.data() + part.size(), key);
      if (ec == std::errc() && end == part.data() + part.size()) keys->push_back(key);
      if (comma == std::string_view::npos) break;
      message.remove_prefix(comma + 1);
    }
  }
};

// The value a latency histogram reports back for `us` (3 significant digits).
int64_t Hdr(int64_t us) {
  Histogram h = MakeLatencyHistogram();
  h.Record(us);
  return h.Max();
}

FinalityCounts Counts(const IntervalOperation& op) {
  return op.finality.value_or(FinalityCounts{});
}

FinalityTrackerOptions Options(int64_t timeout = 100 * kMs, size_t max_items = 1'000) {
  FinalityTrackerOptions options;
  options.timeout_nanos = timeout;
  options.max_items = max_items;
  return options;
}

// A tracker recording two request operations (0 and 1) into a real timeline
// with one contributor: its operation i is the timeline's operation i.
struct Harness {
  explicit Harness(FinalityTrackerOptions options = Options(), int64_t measured_start = 0)
      : timeline(/*start=*/0, kSecond, /*operations=*/2, /*contributors=*/1, measured_start),
        recorder(timeline, 0, {0, 1}),
        tracker({&keys, &keys}, keys, recorder, options) {}

  // Finishes the tracker at `now` and merges operation `op` over the measured
  // (or warm-up) intervals.
  IntervalOperation Totals(int64_t now, uint32_t op = 0, bool measured = true) {
    tracker.Finish(now);
    return Merged(op, measured);
  }
  IntervalOperation Merged(uint32_t op, bool measured) {
    for (IntervalSlice& slice : timeline.TakeCompleted()) slices.push_back(std::move(slice));
    IntervalOperation total;
    for (const IntervalSlice& slice : slices) {
      if (timeline.IsMeasured(slice.index) == measured) total.Merge(slice.operations[op]);
    }
    return total;
  }
  // What the tracker recorded so far in the interval it is in.
  FinalityCounts Now(uint32_t op = 0) { return Counts(recorder.operation(op)); }

  CommaKeys keys;
  IntervalTimeline timeline;
  IntervalRecorder recorder;
  FinalityTracker tracker;
  std::vector<IntervalSlice> slices;
};

// (a)
TEST(FinalityTracker, FinalLatencyRunsFromTheIntendedSendTime) {
  Harness h;
  const TrackedRequest first = h.tracker.Sent(0, "1", 1 * kMs, 1 * kMs + 200 * kUs);
  const TrackedRequest second = h.tracker.Sent(0, "2", 2 * kMs, 2 * kMs);
  EXPECT_EQ(first.first, 0u);
  EXPECT_EQ(first.count, 1u);
  EXPECT_EQ(second.first, 1u);
  EXPECT_EQ(second.count, 1u);
  h.tracker.Answered(first, true, 2 * kMs);
  h.tracker.Answered(second, true, 2 * kMs + 100 * kUs);
  EXPECT_EQ(h.tracker.Pending(), 2u);
  h.tracker.Observed(0, "1,2", 2 * kMs + 500 * kUs);
  EXPECT_EQ(h.tracker.Pending(), 0u);
  h.tracker.AdvanceTo(500 * kMs);  // past both timeouts: nothing more is recorded

  const IntervalOperation total = h.Totals(600 * kMs);
  EXPECT_EQ(total.count, 2);
  EXPECT_EQ(total.codes[0], 2);
  ASSERT_EQ(total.latency.TotalCount(), 2);
  EXPECT_EQ(total.latency.Min(), 500);   // item 2: 2.5 ms - 2 ms
  EXPECT_EQ(total.latency.Max(), 1500);  // item 1: 2.5 ms - 1 ms, not from its 1.2 ms send
  ASSERT_EQ(total.uncorrected.TotalCount(), 2);
  EXPECT_EQ(total.uncorrected.Min(), 500);
  EXPECT_EQ(total.uncorrected.Max(), 1300);  // from the actual send
  const FinalityCounts counts = Counts(total);
  EXPECT_EQ(counts.tracked, 2);
  EXPECT_EQ(counts.lost, 0);
  EXPECT_EQ(counts.final_without_ack, 0);
  EXPECT_EQ(counts.duplicates, 0);
  EXPECT_EQ(counts.not_final_unacked, 0);
  EXPECT_EQ(counts.unmatched_events, 0);
  EXPECT_EQ(counts.untracked, 0);
  EXPECT_FALSE(total.failed[kDeadlineExceeded].has_value() &&
               total.failed[kDeadlineExceeded]->TotalCount() > 0);
}

TEST(FinalityTracker, LatencyIsRoundedUpToWholeMicroseconds) {
  Harness h;
  h.tracker.Answered(h.tracker.Sent(0, "1", 10 * kMs, 10 * kMs + 1), true, 11 * kMs);
  h.tracker.Observed(0, "1", 10 * kMs + 700 * kUs + 1);
  const IntervalOperation total = h.Totals(20 * kMs);
  EXPECT_EQ(total.latency.Max(), 701);
  EXPECT_EQ(total.uncorrected.Max(), 700);
}

// (b)
TEST(FinalityTracker, AcknowledgedAndNeverSeenFinalIsLostAtItsTimeout) {
  Harness h;
  const TrackedRequest r = h.tracker.Sent(0, "7", 10 * kMs, 10 * kMs + 300 * kUs);
  h.tracker.Answered(r, true, 11 * kMs);
  h.tracker.AdvanceTo(110 * kMs - 1);  // intended + timeout - 1 ns
  EXPECT_EQ(h.tracker.Pending(), 1u);
  EXPECT_EQ(h.Now().lost, 0);
  EXPECT_EQ(h.recorder.operation(0).codes[kDeadlineExceeded], 0);
  h.tracker.AdvanceTo(110 * kMs);
  EXPECT_EQ(h.tracker.Pending(), 0u);
  EXPECT_EQ(h.Now().lost, 1);

  const IntervalOperation total = h.Totals(200 * kMs);
  EXPECT_EQ(Counts(total).lost, 1);
  EXPECT_EQ(Counts(total).tracked, 1);
  EXPECT_EQ(total.count, 1);
  EXPECT_EQ(total.codes[0], 0);
  EXPECT_EQ(total.codes[kDeadlineExceeded], 1);
  EXPECT_EQ(total.latency.TotalCount(), 0);
  ASSERT_TRUE(total.failed[kDeadlineExceeded].has_value());
  EXPECT_EQ(total.failed[kDeadlineExceeded]->TotalCount(), 1);
  EXPECT_EQ(total.failed[kDeadlineExceeded]->Max(), Hdr(100'000));  // the timeout, in us
  const auto messages = total.error_messages.Top(kDeadlineExceeded);
  ASSERT_EQ(messages.size(), 1u);
  EXPECT_EQ(messages[0].message, "acknowledged, not seen final within 100ms");
  EXPECT_EQ(messages[0].count, 1);
}

TEST(FinalityTracker, AnEventJustBeforeTheTimeoutIsFinalNotLost) {
  Harness h;
  h.tracker.Answered(h.tracker.Sent(0, "7", 10 * kMs, 10 * kMs), true, 11 * kMs);
  h.tracker.AdvanceTo(110 * kMs - 1);
  h.tracker.Observed(0, "7", 110 * kMs - 1);
  h.tracker.AdvanceTo(300 * kMs);
  const IntervalOperation total = h.Totals(400 * kMs);
  EXPECT_EQ(Counts(total).lost, 0);
  EXPECT_EQ(total.codes[0], 1);
  EXPECT_EQ(total.latency.Max(), Hdr(100'000));
}

// (c)
TEST(FinalityTracker, FailedCallSeenFinalAfterItsAnswerIsFinalWithoutAck) {
  Harness h;
  const TrackedRequest r = h.tracker.Sent(0, "5", 1 * kMs, 1 * kMs);
  h.tracker.Answered(r, false, 2 * kMs);
  EXPECT_EQ(h.Now().final_without_ack, 0);
  h.tracker.Observed(0, "5", 3 * kMs);
  EXPECT_EQ(h.Now().final_without_ack, 1);
  h.tracker.AdvanceTo(500 * kMs);
  const IntervalOperation total = h.Totals(600 * kMs);
  const FinalityCounts counts = Counts(total);
  EXPECT_EQ(counts.final_without_ack, 1);
  EXPECT_EQ(counts.lost, 0);
  EXPECT_EQ(counts.not_final_unacked, 0);
  EXPECT_EQ(total.codes[0], 1);  // it is final: its latency counts
  EXPECT_EQ(total.latency.Max(), 2000);
}

TEST(FinalityTracker, FailedCallSeenFinalBeforeItsAnswerIsFinalWithoutAck) {
  Harness h;
  const TrackedRequest r = h.tracker.Sent(0, "5", 1 * kMs, 1 * kMs);
  h.tracker.Observed(0, "5", 3 * kMs);
  EXPECT_EQ(h.tracker.Pending(), 0u);
  EXPECT_EQ(h.Now().final_without_ack, 0);
  h.tracker.Answered(r, false, 4 * kMs);
  EXPECT_EQ(h.Now().final_without_ack, 1);
  h.tracker.AdvanceTo(500 * kMs);
  const IntervalOperation total = h.Totals(600 * kMs);
  const FinalityCounts counts = Counts(total);
  EXPECT_EQ(counts.final_without_ack, 1);
  EXPECT_EQ(counts.lost, 0);
  EXPECT_EQ(counts.not_final_unacked, 0);
  EXPECT_EQ(total.codes[0], 1);
  EXPECT_EQ(total.latency.Max(), 2000);
}

TEST(FinalityTracker, AcknowledgedCallSeenFinalIsNotFinalWithoutAck) {
  Harness h;
  const TrackedRequest r = h.tracker.Sent(0, "5", 1 * kMs, 1 * kMs);
  h.tracker.Observed(0, "5", 3 * kMs);
  h.tracker.Answered(r, true, 4 * kMs);
  const IntervalOperation total = h.Totals(600 * kMs);
  EXPECT_EQ(Counts(total).final_without_ack, 0);
  EXPECT_EQ(total.codes[0], 1);
}

// (d)
TEST(FinalityTracker, FailedAndNeverFinalIsNotFinalUnackedNotLost) {
  Harness h;
  h.tracker.Answered(h.tracker.Sent(0, "8", 1 * kMs, 1 * kMs), false, 2 * kMs);
  h.tracker.AdvanceTo(101 * kMs);
  EXPECT_EQ(h.tracker.Pending(), 0u);
  EXPECT_EQ(h.Now().not_final_unacked, 1);
  const IntervalOperation total = h.Totals(200 * kMs);
  const FinalityCounts counts = Counts(total);
  EXPECT_EQ(counts.not_final_unacked, 1);
  EXPECT_EQ(counts.lost, 0);
  EXPECT_EQ(counts.tracked, 1);
  EXPECT_EQ(total.count, 0);  // neither a finality latency nor a DEADLINE_EXCEEDED
}

// (e)
TEST(FinalityTracker, SameSubscriptionTwiceIsADuplicate) {
  Harness h;
  h.tracker.Answered(h.tracker.Sent(0, "9", 1 * kMs, 1 * kMs), true, 2 * kMs);
  h.tracker.Observed(2, "9", 3 * kMs);
  h.tracker.Observed(2, "9", 5 * kMs);
  const IntervalOperation total = h.Totals(600 * kMs);
  EXPECT_EQ(Counts(total).duplicates, 1);
  EXPECT_EQ(total.latency.TotalCount(), 1);
  EXPECT_EQ(total.latency.Max(), 2000);  // the first sighting
}

TEST(FinalityTracker, TwoSubscriptionsSeeingItAreNoDuplicateAndTheFirstSightingCounts) {
  Harness h;
  h.tracker.Answered(h.tracker.Sent(0, "10", 1 * kMs, 1 * kMs), true, 2 * kMs);
  h.tracker.Observed(0, "10", 4 * kMs);
  h.tracker.Observed(1, "10", 6 * kMs);
  h.tracker.Observed(63, "10", 7 * kMs);
  EXPECT_EQ(h.Now().duplicates, 0);
  h.tracker.Observed(1, "10", 8 * kMs);  // now subscription 1 did see it twice
  const IntervalOperation total = h.Totals(600 * kMs);
  EXPECT_EQ(Counts(total).duplicates, 1);
  EXPECT_EQ(total.count, 1);
  EXPECT_EQ(total.latency.TotalCount(), 1);
  EXPECT_EQ(total.latency.Max(), Hdr(3000));
}

// (f)
TEST(FinalityTracker, AnEventForAnUnknownKeyIsUnmatched) {
  Harness h;
  h.tracker.Observed(0, "42", 1 * kMs);
  h.tracker.Answered(h.tracker.Sent(0, "1", 1 * kMs, 1 * kMs), true, 2 * kMs);
  h.tracker.Observed(0, "1,43", 3 * kMs);  // one of two keys matches
  const IntervalOperation total = h.Totals(600 * kMs);
  EXPECT_EQ(Counts(total).unmatched_events, 2);
  EXPECT_EQ(total.codes[0], 1);
}

TEST(FinalityTracker, AnEventAfterExpiryIsUnmatchedNotALateFinal) {
  Harness h;
  h.tracker.Answered(h.tracker.Sent(0, "3", 1 * kMs, 1 * kMs), true, 2 * kMs);
  h.tracker.AdvanceTo(101 * kMs);
  EXPECT_EQ(h.Now().lost, 1);
  h.tracker.Observed(0, "3", 150 * kMs);
  const IntervalOperation total = h.Totals(600 * kMs);
  const FinalityCounts counts = Counts(total);
  EXPECT_EQ(counts.unmatched_events, 1);
  EXPECT_EQ(counts.lost, 1);
  EXPECT_EQ(total.codes[0], 0);
  EXPECT_EQ(total.latency.TotalCount(), 0);
}

// Lost = acknowledged and not seen final *within the timeout*. An item whose
// timeout has passed must not become final because expiry has not run yet
// (the subscription thread moves time on only every few ms, and an unanswered
// older item holds back the expiry of those behind it): it is too late, and
// counted as an unmatched event.
TEST(FinalityTracker, AnEventAfterTheTimeoutIsNeverAFinal) {
  Harness h;
  const TrackedRequest blocker = h.tracker.Sent(0, "1", 1 * kMs, 1 * kMs);  // never answered yet
  h.tracker.Answered(h.tracker.Sent(0, "2", 2 * kMs, 2 * kMs), true, 3 * kMs);
  h.tracker.AdvanceTo(400 * kMs);         // "2" is past its timeout, held back by "1"
  h.tracker.Observed(0, "2", 400 * kMs);  // 398 ms after it was meant, timeout 100 ms
  h.tracker.Answered(blocker, false, 500 * kMs);
  const IntervalOperation total = h.Totals(600 * kMs);
  EXPECT_EQ(Counts(total).lost, 1);
  EXPECT_EQ(total.codes[0], 0);
  EXPECT_EQ(total.latency.TotalCount(), 0);
  // Same without a blocker: an event after the timeout, before the next AdvanceTo.
  Harness g;
  g.tracker.Answered(g.tracker.Sent(0, "3", 1 * kMs, 1 * kMs), true, 2 * kMs);
  g.tracker.Observed(0, "3", 150 * kMs);
  const IntervalOperation late = g.Totals(600 * kMs);
  EXPECT_EQ(Counts(late).lost, 1);
  EXPECT_EQ(late.latency.TotalCount(), 0);
}

// (g)
TEST(FinalityTracker, ABatchRequestIsOneItemPerKeyAnsweredTogether) {
  Harness h;
  const TrackedRequest batch = h.tracker.Sent(1, "11,12,13", 1 * kMs, 1 * kMs);
  EXPECT_EQ(batch.first, 0u);
  EXPECT_EQ(batch.count, 3u);
  EXPECT_EQ(h.tracker.Pending(), 3u);
  h.tracker.Answered(batch, true, 2 * kMs);
  h.tracker.Observed(0, "13", 3 * kMs);
  h.tracker.Observed(0, "11", 4 * kMs);
  h.tracker.AdvanceTo(101 * kMs);
  EXPECT_EQ(h.tracker.Pending(), 0u);
  const IntervalOperation total = h.Totals(600 * kMs, /*op=*/1);
  const FinalityCounts counts = Counts(total);
  EXPECT_EQ(counts.tracked, 3);
  EXPECT_EQ(counts.lost, 1);  // 12
  EXPECT_EQ(total.codes[0], 2);
  EXPECT_EQ(total.latency.Min(), 2000);
  EXPECT_EQ(total.latency.Max(), Hdr(3000));
  // Operation 0 holds only the operation-independent counts.
  const IntervalOperation other = h.Merged(0, true);
  EXPECT_EQ(Counts(other).tracked, 0);
  EXPECT_EQ(other.count, 0);
}

TEST(FinalityTracker, AFailedBatchFailsEveryItem) {
  Harness h;
  const TrackedRequest batch = h.tracker.Sent(0, "21,22,23", 1 * kMs, 1 * kMs);
  const TrackedRequest next = h.tracker.Sent(0, "24", 1 * kMs, 1 * kMs);
  EXPECT_EQ(next.first, 3u);
  h.tracker.Answered(batch, false, 2 * kMs);
  h.tracker.Answered(next, true, 2 * kMs);
  h.tracker.Observed(0, "22", 3 * kMs);
  h.tracker.AdvanceTo(101 * kMs);
  const FinalityCounts counts = Counts(h.Totals(600 * kMs));
  EXPECT_EQ(counts.tracked, 4);
  EXPECT_EQ(counts.final_without_ack, 1);
  EXPECT_EQ(counts.not_final_unacked, 2);
  EXPECT_EQ(counts.lost, 1);  // 24
}

TEST(FinalityTracker, ARequestWithNoKeysTracksNothing) {
  Harness h;
  const TrackedRequest none = h.tracker.Sent(0, "", 1 * kMs, 1 * kMs);
  EXPECT_EQ(none.count, 0u);
  h.tracker.Answered(none, true, 2 * kMs);
  EXPECT_EQ(h.tracker.Pending(), 0u);
  EXPECT_EQ(Counts(h.Totals(600 * kMs)).tracked, 0);
}

// (h)
TEST(FinalityTracker, TheBoundDropsTheOldestItemsAsUntracked) {
  Harness h(Options(100 * kMs, /*max_items=*/3));
  std::vector<TrackedRequest> sent;
  for (int i = 1; i <= 5; ++i) {
    sent.push_back(h.tracker.Sent(0, std::to_string(i), i * kMs, i * kMs));
  }
  EXPECT_EQ(h.tracker.Pending(), 3u);
  EXPECT_EQ(h.Now().untracked, 2);  // 1 and 2
  EXPECT_EQ(h.Now().tracked, 5);
  for (const TrackedRequest& r : sent) h.tracker.Answered(r, true, 6 * kMs);  // 1, 2: no-ops
  h.tracker.Observed(0, "1", 7 * kMs);  // dropped: no longer known
  h.tracker.Observed(0, "3,4,5", 7 * kMs);
  EXPECT_EQ(h.tracker.Pending(), 0u);
  const IntervalOperation total = h.Totals(600 * kMs);
  const FinalityCounts counts = Counts(total);
  EXPECT_EQ(counts.untracked, 2);
  EXPECT_EQ(counts.unmatched_events, 1);
  EXPECT_EQ(counts.lost, 0);
  EXPECT_EQ(total.codes[0], 3);
}

TEST(FinalityTracker, TheBoundDropsAFinalItemWithoutCountingIt) {
  Harness h(Options(100 * kMs, /*max_items=*/2));
  h.tracker.Answered(h.tracker.Sent(0, "1", 1 * kMs, 1 * kMs), true, 1 * kMs);
  h.tracker.Observed(0, "1", 2 * kMs);
  h.tracker.Sent(0, "2", 3 * kMs, 3 * kMs);
  h.tracker.Sent(0, "3", 3 * kMs, 3 * kMs);  // drops 1, already final
  EXPECT_EQ(h.Now().untracked, 0);
  const TrackedRequest batch = h.tracker.Sent(0, "4,5,6", 4 * kMs, 4 * kMs);  // drops 2, 3, 4
  EXPECT_EQ(batch.first, 3u);
  EXPECT_EQ(batch.count, 3u);
  EXPECT_EQ(h.Now().untracked, 3);
  EXPECT_EQ(h.tracker.Pending(), 2u);
  h.tracker.Answered(batch, true, 5 * kMs);  // the batch's surviving items 5, 6
  h.tracker.AdvanceTo(105 * kMs);
  EXPECT_EQ(h.tracker.Pending(), 0u);
  const FinalityCounts counts = Counts(h.Totals(600 * kMs));
  EXPECT_EQ(counts.tracked, 6);
  EXPECT_EQ(counts.untracked, 3);
  EXPECT_EQ(counts.lost, 2);
}

TEST(FinalityTracker, ResolvedItemsAreNotKept) {
  Harness h(Options(10 * kMs, /*max_items=*/1'000));
  constexpr int kItems = 50'000;
  int64_t t = 0;
  for (int i = 0; i < kItems; ++i) {
    t += 20 * kUs;  // 50k/s, 1 s in all: ~500 items within a timeout
    const std::string key = std::to_string(i);
    const TrackedRequest r = h.tracker.Sent(i % 2, key, t, t);
    h.tracker.Answered(r, true, t + 100 * kUs);
    h.tracker.Observed(0, key, t + 200 * kUs);
    if (i % 64 == 0) h.tracker.AdvanceTo(t + 200 * kUs);
  }
  EXPECT_EQ(h.tracker.Pending(), 0u);
  const IntervalOperation a = h.Totals(t + kSecond, 0);
  const IntervalOperation b = h.Merged(1, true);
  EXPECT_EQ(Counts(a).tracked + Counts(b).tracked, kItems);
  EXPECT_EQ(a.codes[0] + b.codes[0], kItems);
  // The bound (1,000) was never reached: what was resolved left the tracker.
  EXPECT_EQ(Counts(a).untracked + Counts(b).untracked, 0);
  EXPECT_EQ(Counts(a).lost + Counts(b).lost, 0);
}

// (i)
TEST(FinalityTracker, AnUnansweredItemHoldsBackExpiryUntilAnswered) {
  Harness h;
  const TrackedRequest a = h.tracker.Sent(0, "1", 1 * kMs, 1 * kMs);
  h.tracker.Answered(h.tracker.Sent(0, "2", 2 * kMs, 2 * kMs), true, 3 * kMs);
  h.tracker.AdvanceTo(500 * kMs);
  EXPECT_EQ(h.tracker.Pending(), 2u);
  EXPECT_EQ(h.Now().lost, 0);
  h.tracker.Answered(a, true, 600 * kMs);
  EXPECT_EQ(h.tracker.Pending(), 0u);
  EXPECT_EQ(h.Now().lost, 2);
  const IntervalOperation total = h.Totals(700 * kMs);
  EXPECT_EQ(Counts(total).lost, 2);
  // Lost latency is the timeout, whenever expiry ran.
  EXPECT_EQ(total.failed[kDeadlineExceeded]->Max(), Hdr(100'000));
}

TEST(FinalityTracker, FinishResolvesEveryItemLeft) {
  Harness h;
  h.tracker.Answered(h.tracker.Sent(0, "1", 1 * kMs, 1 * kMs), true, 2 * kMs);   // ok, not final
  h.tracker.Answered(h.tracker.Sent(0, "2", 1 * kMs, 1 * kMs), false, 2 * kMs);  // failed
  h.tracker.Sent(0, "3", 1 * kMs, 1 * kMs);                                      // unanswered
  h.tracker.Sent(0, "4", 1 * kMs, 1 * kMs);  // final, unanswered
  h.tracker.Observed(0, "4", 3 * kMs);
  EXPECT_EQ(h.tracker.Pending(), 3u);
  const IntervalOperation total = h.Totals(/*now=*/5 * kMs);  // before any timeout
  EXPECT_EQ(h.tracker.Pending(), 0u);
  const FinalityCounts counts = Counts(total);
  EXPECT_EQ(counts.tracked, 4);
  EXPECT_EQ(counts.lost, 1);
  EXPECT_EQ(counts.not_final_unacked, 2);
  EXPECT_EQ(total.codes[0], 1);
  EXPECT_EQ(total.codes[kDeadlineExceeded], 1);
}

// (j)
TEST(FinalityTracker, WarmupItemsStayOutOfMeasuredIntervals) {
  // Warm-up ends at 2 s: intervals 0 and 1 are warm-up.
  Harness h(Options(100 * kMs), /*measured_start=*/2 * kSecond);
  // Warm-up, final within warm-up.
  h.tracker.Answered(h.tracker.Sent(0, "1", 500 * kMs, 500 * kMs), true, 501 * kMs);
  h.tracker.Observed(0, "1", 502 * kMs);
  // Warm-up, final after warm-up.
  h.tracker.Answered(h.tracker.Sent(0, "2", 1'950 * kMs, 1'950 * kMs), true, 1'951 * kMs);
  // Warm-up, lost after warm-up (timeout at 2.06 s).
  h.tracker.Answered(h.tracker.Sent(0, "3", 1'960 * kMs, 1'960 * kMs), true, 1'961 * kMs);
  // Warm-up, failed, resolved after warm-up.
  h.tracker.Answered(h.tracker.Sent(0, "4", 1'970 * kMs, 1'970 * kMs), false, 1'971 * kMs);
  h.tracker.Observed(0, "2", 2'010 * kMs);
  // Measured.
  h.tracker.Answered(h.tracker.Sent(0, "5", 2'500 * kMs, 2'500 * kMs), true, 2'501 * kMs);
  h.tracker.Observed(0, "5", 2'503 * kMs);
  h.tracker.AdvanceTo(2'700 * kMs);
  const IntervalOperation measured = h.Totals(3'500 * kMs);
  const IntervalOperation warmup = h.Merged(0, /*measured=*/false);

  EXPECT_EQ(Counts(measured).tracked, 1);
  EXPECT_EQ(Counts(measured).lost, 0);
  EXPECT_EQ(Counts(measured).not_final_unacked, 0);
  EXPECT_EQ(measured.count, 1);
  EXPECT_EQ(measured.latency.Max(), Hdr(3000));

  EXPECT_EQ(Counts(warmup).tracked, 4);
  EXPECT_EQ(warmup.count, 1);  // only "1" ended within warm-up
  EXPECT_EQ(warmup.latency.Max(), 2000);
  EXPECT_EQ(Counts(warmup).lost, 0);
}

// Many random interleavings against a model of what each item should end as.
// Events are only generated for an item before its timeout or once it has
// been retired, where the rule (lost = not seen final within the timeout) and
// the tracker's expiry agree (see AnEventAfterTheTimeoutIsNeverAFinal).
class Model {
 public:
  enum class Answer { kPending, kOk, kFailed };
  struct Item {
    uint64_t key;
    uint32_t op;
    int64_t intended, sent;
    Answer answer = Answer::kPending;
    bool final = false;
    uint64_t seen_by = 0;
  };
  struct Op {
    FinalityCounts counts;
    Histogram latency = MakeLatencyHistogram();
    Histogram uncorrected = MakeLatencyHistogram();
    Histogram lost = MakeLatencyHistogram();
    int64_t finals = 0;
  };

  Model(int64_t timeout, size_t max_items) : timeout_(timeout), max_items_(max_items) {}

  void Sent(uint32_t op, const std::vector<uint64_t>& keys, int64_t intended, int64_t sent) {
    for (const uint64_t key : keys) {
      if (items_.size() >= max_items_) Retire(true);
      const uint64_t number = next_++;
      items_.emplace(number, Item{key, op, intended, sent});
      by_key_[key] = number;
      ++ops_[op].counts.tracked;
    }
  }
  void Answered(uint64_t first, uint32_t count, bool ok, int64_t now) {
    for (uint64_t n = first; n < first + count; ++n) {
      const auto it = items_.find(n);
      if (it == items_.end()) continue;
      it->second.answer = ok ? Answer::kOk : Answer::kFailed;
      if (!ok && it->second.final) ++ops_[it->second.op].counts.final_without_ack;
    }
    Expire(now);
  }
  void Observed(uint32_t subscription, const std::vector<uint64_t>& keys, int64_t now) {
    for (const uint64_t key : keys) {
      const auto found = by_key_.find(key);
      if (found == by_key_.end()) {
        ++ops_[0].counts.unmatched_events;
        continue;
      }
      Item& item = items_.at(found->second);
      Op& op = ops_[item.op];
      const uint64_t bit = uint64_t{1} << subscription;
      if (item.seen_by & bit) ++op.counts.duplicates;
      item.seen_by |= bit;
      if (item.final) continue;
      item.final = true;
      ++op.finals;
      op.latency.Record(NanosToMicros(now - item.intended));
      op.uncorrected.Record(NanosToMicros(now - item.sent));
      if (item.answer == Answer::kFailed) ++op.counts.final_without_ack;
    }
  }
  void Expire(int64_t now) {
    while (!items_.empty() && now >= items_.begin()->second.intended + timeout_ &&
           items_.begin()->second.answer != Answer::kPending) {
      Retire(false);
    }
  }
  void Finish() {
    while (!items_.empty()) Retire(false);
  }
  // Whether an event for `key` at `now` is one the rule and the tracker agree on.
  bool Unambiguous(uint64_t key, int64_t now) const {
    const auto found = by_key_.find(key);
    if (found == by_key_.end()) return true;
    const Item& item = items_.at(found->second);
    return item.final || now < item.intended + timeout_;
  }
  size_t Pending() const {
    size_t n = 0;
    for (const auto& [number, item] : items_) n += item.final ? 0 : 1;
    return n;
  }
  const Op& op(uint32_t i) const { return ops_[i]; }

 private:
  void Retire(bool dropped) {
    const auto front = items_.begin();
    const Item& item = front->second;
    Op& op = ops_[item.op];
    if (!item.final) {
      if (dropped) {
        ++op.counts.untracked;
      } else if (item.answer == Answer::kOk) {
        ++op.counts.lost;
        op.lost.Record(NanosToMicros(timeout_));
      } else {
        ++op.counts.not_final_unacked;
      }
    }
    by_key_.erase(item.key);
    items_.erase(front);
  }

  const int64_t timeout_;
  const size_t max_items_;
  std::map<uint64_t, Item> items_;  // by item number, in send order
  std::map<uint64_t, uint64_t> by_key_;
  uint64_t next_ = 0;
  Op ops_[2];
};

void ExpectSameHistogram(const Histogram& actual, const Histogram& expected) {
  ASSERT_EQ(actual.TotalCount(), expected.TotalCount());
  ASSERT_EQ(actual.counts_length(), expected.counts_length());
  for (int32_t i = 0; i < actual.counts_length(); ++i) {
    ASSERT_EQ(actual.count_at_index(i), expected.count_at_index(i)) << "index " << i;
  }
}

// Adds what the model expected to `seen`, so the test can tell every outcome came up.
void RunRandomInterleaving(uint64_t seed, FinalityCounts* seen, int64_t* finals) {
  std::mt19937_64 rng(seed);
  const auto chance = [&](int percent) { return static_cast<int>(rng() % 100) < percent; };
  const int64_t timeout = (5 + static_cast<int64_t>(rng() % 50)) * kMs;
  const size_t max_items = chance(30) ? 4 + rng() % 20 : 10'000;
  FinalityTrackerOptions options;
  options.timeout_nanos = timeout;
  options.max_items = max_items;
  CommaKeys keys;
  // Intervals of 100 ms, so a run of a few hundred ms rolls over several.
  IntervalTimeline timeline(0, 100 * kMs, 2, 1);
  IntervalRecorder recorder(timeline, 0, {0, 1});
  FinalityTracker tracker({&keys, &keys}, keys, recorder, options);
  Model model(timeout, max_items);

  struct Request {
    TrackedRequest tracked;
    bool answered = false;
  };
  std::vector<Request> requests;
  uint64_t next_key = 1;
  int64_t now = 0, last_intended = 0;
  const int steps = 100 + static_cast<int>(rng() % 400);
  for (int step = 0; step < steps; ++step) {
    const int action = static_cast<int>(rng() % 100);
    if (action < 30) {  // send a request of 1 to 3 items
      const uint32_t op = static_cast<uint32_t>(rng() % 2);
      std::vector<uint64_t> ks;
      for (uint64_t i = 0, n = 1 + rng() % 3; i < n; ++i) ks.push_back(next_key++);
      // Intended times do not go back, nor before the start (warm-up there).
      const int64_t intended =
          std::max({last_intended, now - static_cast<int64_t>(rng() % (2 * kMs)), int64_t{0}});
      last_intended = intended;
      const TrackedRequest tracked = tracker.Sent(op, absl::StrJoin(ks, ","), intended, now);
      ASSERT_EQ(tracked.count, ks.size());
      model.Sent(op, ks, intended, now);
      requests.push_back({tracked, false});
    } else if (action < 50) {  // answer one request, OK or not
      std::vector<size_t> open;
      for (size_t i = 0; i < requests.size(); ++i) {
        if (!requests[i].answered) open.push_back(i);
      }
      if (open.empty()) continue;
      Request& r = requests[open[rng() % open.size()]];
      r.answered = true;
      const bool ok = chance(80);
      tracker.Answered(r.tracked, ok, now);
      model.Answered(r.tracked.first, r.tracked.count, ok, now);
    } else if (action < 80) {  // an event with 1 or 2 keys, old, recent or unknown
      std::vector<uint64_t> ks;
      for (uint64_t i = 0, n = chance(80) ? 1 : 2; i < n; ++i) {
        uint64_t key;
        if (chance(5) || next_key == 1) {
          key = 1'000'000 + rng() % 1000;  // never sent
        } else if (chance(70)) {
          key = next_key - 1 - rng() % std::min<uint64_t>(next_key - 1, 8);  // recent
        } else {
          key = 1 + rng() % (next_key - 1);
        }
        if (model.Unambiguous(key, now)) ks.push_back(key);
      }
      if (ks.empty()) continue;
      const uint32_t subscription = static_cast<uint32_t>(rng() % 3);
      tracker.Observed(subscription, absl::StrJoin(ks, ","), now);
      model.Observed(subscription, ks, now);
    } else if (action < 95) {  // time passes
      now += static_cast<int64_t>(rng() % (3 * kMs));
    } else {
      tracker.AdvanceTo(now);
      model.Expire(now);
    }
    ASSERT_EQ(tracker.Pending(), model.Pending()) << "step " << step;
  }
  now += static_cast<int64_t>(rng() % (2 * timeout));
  if (chance(50)) {
    tracker.AdvanceTo(now);
    model.Expire(now);
  }
  tracker.Finish(now);
  model.Finish();
  ASSERT_EQ(tracker.Pending(), 0u);

  std::vector<IntervalSlice> slices = timeline.TakeCompleted();
  for (uint32_t i = 0; i < 2; ++i) {
    SCOPED_TRACE(absl::StrCat("operation ", i));
    IntervalOperation total;
    for (const IntervalSlice& slice : slices) total.Merge(slice.operations[i]);
    const FinalityCounts actual = Counts(total);
    const Model::Op& expected = model.op(i);
    seen->Merge(expected.counts);
    *finals += expected.finals;
    EXPECT_EQ(actual.tracked, expected.counts.tracked);
    EXPECT_EQ(actual.lost, expected.counts.lost);
    EXPECT_EQ(actual.final_without_ack, expected.counts.final_without_ack);
    EXPECT_EQ(actual.duplicates, expected.counts.duplicates);
    EXPECT_EQ(actual.not_final_unacked, expected.counts.not_final_unacked);
    EXPECT_EQ(actual.unmatched_events, expected.counts.unmatched_events);
    EXPECT_EQ(actual.untracked, expected.counts.untracked);
    EXPECT_EQ(total.codes[0], expected.finals);
    EXPECT_EQ(total.codes[kDeadlineExceeded], expected.counts.lost);
    EXPECT_EQ(total.count, expected.finals + expected.counts.lost);
    // Every item ends exactly one way.
    EXPECT_EQ(total.codes[0] + actual.lost + actual.not_final_unacked + actual.untracked,
              actual.tracked);
    ExpectSameHistogram(total.latency, expected.latency);
    ExpectSameHistogram(total.uncorrected, expected.uncorrected);
    if (expected.counts.lost > 0) {
      ASSERT_TRUE(total.failed[kDeadlineExceeded].has_value());
      ExpectSameHistogram(*total.failed[kDeadlineExceeded], expected.lost);
      EXPECT_EQ(total.error_messages.total(kDeadlineExceeded), expected.counts.lost);
    }
  }
}

TEST(FinalityTracker, RandomInterleavingsMatchAModel) {
  FinalityCounts seen;
  int64_t finals = 0;
  for (uint64_t seed = 1; seed <= 200; ++seed) {
    SCOPED_TRACE(absl::StrCat("seed ", seed));
    RunRandomInterleaving(seed, &seen, &finals);
    if (::testing::Test::HasFatalFailure()) return;
  }
  // The interleavings reached every outcome.
  EXPECT_GT(finals, 0);
  EXPECT_GT(seen.lost, 0);
  EXPECT_GT(seen.final_without_ack, 0);
  EXPECT_GT(seen.duplicates, 0);
  EXPECT_GT(seen.not_final_unacked, 0);
  EXPECT_GT(seen.unmatched_events, 0);
  EXPECT_GT(seen.untracked, 0);
  EXPECT_EQ(finals + seen.lost + seen.not_final_unacked + seen.untracked, seen.tracked);
}

}  // namespace
}  // namespace aurigraph::loadgen
