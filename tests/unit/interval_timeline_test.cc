// The run timeline: intervals merge across workers and are handed out only
// when every worker has moved past them, in order, quiet intervals included.
#include "loadgen/recorder/interval_timeline.h"

#include <gtest/gtest.h>

namespace aurigraph::loadgen {
namespace {

constexpr int64_t kSecond = 1'000'000'000;

TEST(IntervalTimeline, MergesWorkersAndWaitsForTheSlowestOne) {
  IntervalTimeline timeline(/*start=*/10 * kSecond, kSecond, /*operations=*/2, /*contributors=*/2);
  // Worker 0 runs operation 1 of the timeline as its operation 0; worker 1 runs both.
  IntervalRecorder first(timeline, 0, {1});
  IntervalRecorder second(timeline, 1, {0, 1});

  first.AdvanceTo(10 * kSecond + 100);
  first.operation(0).Record(500, 0);
  second.AdvanceTo(10 * kSecond + 200);
  second.operation(1).Record(700, 14);
  second.operation(0).Record(900, 0);
  second.RecordSend(3);

  first.AdvanceTo(12 * kSecond + 5);  // past intervals 0 and 1
  first.operation(0).Record(400, 0);
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
  recorder.operation(0).Record(10, 0);
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

}  // namespace
}  // namespace aurigraph::loadgen
