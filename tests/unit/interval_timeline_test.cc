// The run timeline: intervals merge across workers and are handed out only
// when every worker has moved past them, in order, quiet intervals included;
// warm-up and measured requests are kept apart; the run's totals add up.
#include "loadgen/recorder/interval_timeline.h"

#include <gtest/gtest.h>

#include "loadgen/recorder/run_totals.h"

namespace aurigraph::loadgen {
namespace {

constexpr int64_t kSecond = 1'000'000'000;

TEST(IntervalTimeline, MergesWorkersAndWaitsForTheSlowestOne) {
  IntervalTimeline timeline(/*start=*/10 * kSecond, kSecond, /*operations=*/2, /*contributors=*/2);
  // Worker 0 runs operation 1 of the timeline as its operation 0; worker 1 runs both.
  IntervalRecorder first(timeline, 0, {1});
  IntervalRecorder second(timeline, 1, {0, 1});

  first.AdvanceTo(10 * kSecond + 100);
  first.operation(0).Record(500, 500, 0);
  second.AdvanceTo(10 * kSecond + 200);
  second.operation(1).Record(700, 700, 14);
  second.operation(0).Record(900, 900, 0);
  second.RecordSend(10 * kSecond + 190, 3, 3, false);

  first.AdvanceTo(12 * kSecond + 5);  // past intervals 0 and 1
  first.operation(0).Record(400, 400, 0);
  EXPECT_TRUE(timeline.TakeCompleted().empty());  // worker 1 is still in interval 0

  second.AdvanceTo(11 * kSecond);  // worker 1 now in interval 1
  auto slices = timeline.TakeCompleted();
  ASSERT_EQ(slices.size(), 1u);
  EXPECT_EQ(slices[0].index, 0);
  EXPECT_EQ(slices[0].operations[1].count, 2);
  EXPECT_EQ(slices[0].operations[1].codes[0], 1);
  EXPECT_EQ(slices[0].operations[1].codes[14], 1);
  // The failed call is timed apart from the successful one.
  EXPECT_EQ(slices[0].operations[1].latency.TotalCount(), 1);
  EXPECT_EQ(slices[0].operations[1].latency.Max(), 500);
  ASSERT_TRUE(slices[0].operations[1].failed[14].has_value());
  EXPECT_EQ(slices[0].operations[1].failed[14]->Max(), 700);
  EXPECT_EQ(slices[0].operations[0].count, 1);
  EXPECT_EQ(slices[0].sent, 1);
  EXPECT_EQ(slices[0].schedule_lag.Max(), 3);

  first.Finish();
  second.Finish();
  slices = timeline.TakeCompleted();
  ASSERT_EQ(slices.size(), 2u);
  EXPECT_EQ(slices[0].index, 1);  // quiet for both, still part of the timeline
  EXPECT_EQ(slices[0].operations[0].count + slices[0].operations[1].count, 0);
  EXPECT_EQ(slices[1].index, 2);
  EXPECT_EQ(slices[1].operations[1].count, 1);
  EXPECT_EQ(slices[1].operations[1].latency.Max(), 400);
}

TEST(IntervalTimeline, TakesOnlyIntervalsBeforeTheGivenEnd) {
  IntervalTimeline timeline(0, kSecond, 1, 1);
  IntervalRecorder recorder(timeline, 0, {0});
  recorder.AdvanceTo(3 * kSecond + 1);
  recorder.operation(0).Record(10, 10, 0);
  recorder.Finish();
  EXPECT_EQ(timeline.TakeCompleted(/*end_index=*/2).size(), 2u);
  const auto rest = timeline.TakeCompleted();
  ASSERT_EQ(rest.size(), 2u);
  EXPECT_EQ(rest[1].index, 3);
  EXPECT_EQ(rest[1].operations[0].count, 1);
}

TEST(IntervalTimeline, TimesBeforeTheStartBelongToTheFirstInterval) {
  IntervalTimeline timeline(5 * kSecond, kSecond, 1, 1);
  EXPECT_EQ(timeline.IndexAt(0), 0);
  EXPECT_EQ(timeline.IndexAt(5 * kSecond), 0);
  EXPECT_EQ(timeline.IndexAt(6 * kSecond - 1), 0);
  EXPECT_EQ(timeline.IndexAt(6 * kSecond), 1);
}

TEST(IntervalTimeline, AnIntervalHoldsOnlyRequestsOfItsOwnKindWarmupOrMeasured) {
  // Warm-up ends at 2.5 s: intervals 0 and 1 are warm-up, 2 (which straddles it) is measured.
  IntervalTimeline timeline(0, kSecond, 1, 1, /*measured_start=*/2 * kSecond + kSecond / 2);
  EXPECT_FALSE(timeline.IsMeasured(1));
  EXPECT_TRUE(timeline.IsMeasured(2));
  IntervalRecorder recorder(timeline, 0, {0});
  recorder.AdvanceTo(kSecond / 2);
  EXPECT_FALSE(recorder.measured());
  ASSERT_NE(recorder.OperationFor(0, 0), nullptr);  // warm-up request, warm-up interval
  recorder.AdvanceTo(2 * kSecond + 1);
  EXPECT_TRUE(recorder.measured());
  // A warm-up request completing after warm-up is not the measured interval's.
  EXPECT_EQ(recorder.OperationFor(0, 2 * kSecond), nullptr);
  IntervalOperation* measured = recorder.OperationFor(0, 2 * kSecond + kSecond / 2);
  ASSERT_NE(measured, nullptr);
  measured->Record(40, 30, 0);
  recorder.Finish();
  const auto slices = timeline.TakeCompleted();
  ASSERT_EQ(slices.size(), 3u);
  EXPECT_EQ(slices[2].operations[0].latency.TotalCount(), 1);
  EXPECT_EQ(slices[2].operations[0].uncorrected.Max(), 30);
}

TEST(IntervalTimeline, RecycledSlicesComeBackEmpty) {
  IntervalTimeline timeline(0, kSecond, 1, 1);
  IntervalRecorder recorder(timeline, 0, {0});
  recorder.AdvanceTo(1);
  recorder.operation(0).Record(10, 10, 14);
  recorder.operation(0).streams().messages_sent = 3;
  recorder.AdvanceTo(kSecond);
  std::vector<IntervalSlice> taken = timeline.TakeCompleted();
  ASSERT_EQ(taken.size(), 1u);
  EXPECT_EQ(taken[0].operations[0].count, 1);
  timeline.Recycle(std::move(taken));
  recorder.AdvanceTo(3 * kSecond);  // interval 1 reuses the slice; 2 is quiet
  const std::vector<IntervalSlice> later = timeline.TakeCompleted();
  ASSERT_EQ(later.size(), 2u);
  for (const IntervalSlice& slice : later) {
    EXPECT_EQ(slice.operations[0].count, 0);
    EXPECT_EQ(slice.operations[0].failed[14] ? slice.operations[0].failed[14]->TotalCount() : 0, 0);
    EXPECT_EQ(slice.operations[0].stream ? slice.operations[0].stream->messages_sent : 0, 0);
  }
  EXPECT_EQ(later[0].index, 1);
  EXPECT_EQ(later[1].index, 2);
}

TEST(RunTotals, CallsAndLagFromMeasuredIntervalsStreamsAndGeneratorCountsFromAll) {
  RunTotals totals(2);
  IntervalSlice warmup(2), first(2), second(2);
  warmup.operations[0].Record(100, 90, 0);
  warmup.sent = 5;
  warmup.schedule_lag.Record(7);
  warmup.generator.warmup_completions = 5;
  warmup.operations[1].streams().messages_sent = 10;
  first.operations[0].Record(200, 150, 0);
  first.operations[0].Record(300, 300, 14);
  first.operations[0].items = 4;
  first.sent = 2;
  first.schedule_lag.Record(3);
  first.generator.last_completion_nanos = 1'500;
  StreamStats& early = first.operations[1].streams();
  early.messages_sent = 20;
  early.measured_sent = 20;
  early.min_open_streams = 3;
  early.max_open_streams = 4;
  second.operations[0].Record(400, 350, 0);
  second.generator.last_completion_nanos = 2'500;
  StreamStats& late = second.operations[1].streams();
  late.min_open_streams = 2;
  late.max_open_streams = 5;
  totals.Add(warmup, /*measured=*/false);
  totals.Add(first, true);
  totals.Add(second, true);

  const IntervalOperation& calls = totals.operation(0);
  EXPECT_EQ(calls.completed(), 3);  // the warm-up call is left out
  EXPECT_EQ(calls.latency.TotalCount(), 2);
  EXPECT_EQ(calls.latency.Min(), 200);
  EXPECT_EQ(calls.uncorrected.Max(), 350);
  EXPECT_EQ(calls.failed[14]->TotalCount(), 1);
  EXPECT_EQ(calls.items, 4);
  // The stream side counts the whole run; its bounds are over time, not summed.
  const StreamStats& streams = *totals.operation(1).stream;
  EXPECT_EQ(streams.messages_sent, 30);
  EXPECT_EQ(streams.measured_sent, 20);
  EXPECT_EQ(streams.min_open_streams, 2);
  EXPECT_EQ(streams.max_open_streams, 5);
  EXPECT_EQ(totals.all().sent, 7);
  // A warm-up that lagged does not judge the generator, as it does not judge the target.
  EXPECT_EQ(totals.all().schedule_lag.TotalCount(), 1);
  EXPECT_EQ(totals.all().schedule_lag.Max(), 3);
  EXPECT_EQ(totals.all().generator.warmup_completions, 5);
  EXPECT_EQ(totals.all().generator.last_completion_nanos, 2'500);
}

TEST(StreamStats, WorkersAddTheirOpenStreamsAndTimeTakesTheBounds) {
  StreamStats a, b;
  a.min_open_streams = 3;
  a.max_open_streams = 5;
  b.min_open_streams = 2;
  b.max_open_streams = 6;
  StreamStats together = a;
  together.MergeConcurrent(b);
  EXPECT_EQ(together.min_open_streams, 5);
  EXPECT_EQ(together.max_open_streams, 11);
  StreamStats over_time = a;
  over_time.MergeLater(b);
  EXPECT_EQ(over_time.min_open_streams, 2);
  EXPECT_EQ(over_time.max_open_streams, 6);
  StreamStats unsampled;
  unsampled.MergeLater(a);
  EXPECT_EQ(unsampled.min_open_streams, 3);
  over_time.Reset();
  EXPECT_EQ(over_time.min_open_streams, -1);
  EXPECT_EQ(over_time.max_open_streams, 0);
}

}  // namespace
}  // namespace aurigraph::loadgen
