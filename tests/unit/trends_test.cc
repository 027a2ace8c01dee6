// Memory trends and drift over a timeline, and the soak gates on them.
#include "loadgen/trends/trends.h"

#include <gtest/gtest.h>

#include "loadgen/gates/gates.h"

namespace aurigraph::loadgen {
namespace {

// One point per second for `seconds`, RSS growing by `growth_per_second` from
// 100 MB, one operation whose p99 and count follow the given functions.
Timeline MakeTimeline(int seconds, double growth_per_second, double p99_first, double p99_last,
                      int warmup_seconds = 0) {
  Timeline t;
  t.interval_seconds = 1;
  for (int i = 0; i < seconds; ++i) {
    TimelinePoint p;
    p.offset_seconds = i;
    p.seconds = 1;
    p.warmup = i < warmup_seconds;
    p.loadgen_rss_bytes = static_cast<int64_t>(100e6 + growth_per_second * i);
    p.target_rss_bytes = 200'000'000;
    TimelineOperation op;
    op.count = 1000;
    op.timed = 1000;
    op.p99 = static_cast<int64_t>(p99_first + (p99_last - p99_first) * i / (seconds - 1));
    p.operations.push_back(op);
    t.points.push_back(p);
  }
  return t;
}

TEST(Trends, RssSlopeIsFittedPerHourAfterWarmup) {
  // 1 KB/s growth = 3.6 MB/h; warm-up memory (the first 10 s) is left out.
  Timeline t = MakeTimeline(100, 1000, 1000, 1000, /*warmup_seconds=*/10);
  for (int i = 0; i < 10; ++i) t.points[i].loadgen_rss_bytes = 10'000'000;  // settling
  const Trend trend = RssTrend(t, Process::kLoadgen);
  ASSERT_TRUE(trend.measured);
  EXPECT_NEAR(trend.slope_per_hour, 3.6e6, 1);
  EXPECT_NEAR(trend.r2, 1, 1e-9);
  EXPECT_EQ(trend.samples, 72);  // 90 measured, the first fifth left out
  const Trend flat = RssTrend(t, Process::kTarget);
  ASSERT_TRUE(flat.measured);
  EXPECT_EQ(flat.slope_per_hour, 0);
  EXPECT_FALSE(RssTrend(MakeTimeline(8, 1000, 1, 1), Process::kLoadgen).measured);
}

TEST(Trends, DriftComparesTheLastQuarterWithTheFirst) {
  const Drift p99 = P99Drift(MakeTimeline(40, 0, 1000, 2000));
  ASSERT_TRUE(p99.measured);
  EXPECT_NEAR(p99.first, 1115, 20);
  EXPECT_NEAR(p99.last, 1885, 20);
  EXPECT_NEAR(p99.change, 0.69, 0.03);
  RunResult steady;
  steady.timeline = MakeTimeline(40, 0, 1000, 1000);
  const Drift rate = RateDrift(steady);
  EXPECT_TRUE(rate.measured);
  EXPECT_DOUBLE_EQ(rate.first, 1000);
  EXPECT_DOUBLE_EQ(rate.change, 0);
}

// A finality operation (NAME.final) counts the same requests again, as they
// become final: the rate is of the calls alone.
TEST(Trends, RateDriftLeavesOutFinalityOperations) {
  RunResult r;
  r.timeline = MakeTimeline(40, 0, 1000, 1000);
  r.operations.resize(2);
  r.operations[1].finality = std::make_shared<FinalityResult>();
  for (size_t i = 0; i < r.timeline.points.size(); ++i) {
    TimelineOperation finals;
    finals.count = i < 20 ? 1000 : 500;  // finals slow down: not a change of the calls' rate
    r.timeline.points[i].operations.push_back(finals);
  }
  const Drift rate = RateDrift(r);
  ASSERT_TRUE(rate.measured);
  EXPECT_DOUBLE_EQ(rate.first, 1000);
  EXPECT_DOUBLE_EQ(rate.last, 1000);
}

TEST(Trends, GatesOnSlopesAndDrift) {
  RunResult r;
  r.timeline = MakeTimeline(100, 20'000, 1000, 1500);  // 72 MB/h, p99 +40%
  std::vector<Gate> gates;
  for (const char* expression : {"loadgen_rss_slope < 50MB", "server_rss_slope < 50MB",
                                 "p99_drift < 25%", "rate_drift > -5%"}) {
    auto gate = ParseGate(expression, "");
    ASSERT_TRUE(gate.ok()) << gate.status();
    gates.push_back(*gate);
  }
  auto results = EvaluateGates(gates, r);
  ASSERT_TRUE(results.ok());
  EXPECT_FALSE((*results)[0].passed);
  EXPECT_EQ((*results)[0].message, "loadgen_rss_slope = 68.66 MiB/h, limit < 47.68 MiB/h");
  EXPECT_TRUE((*results)[1].passed);
  EXPECT_FALSE((*results)[2].passed);
  EXPECT_TRUE((*results)[3].passed);
  // Under a load profile the rate changes on purpose: its drift tells nothing.
  r.load_profile = {{0, 100}, {100, 1000}};
  results = EvaluateGates(gates, r);
  ASSERT_TRUE(results.ok());
  EXPECT_FALSE((*results)[3].passed);
  EXPECT_NE((*results)[3].message.find("the rate follows a load profile"), std::string::npos)
      << (*results)[3].message;
  r.load_profile.clear();
  // Without samples there is nothing to pass.
  r.timeline = Timeline{};
  results = EvaluateGates(gates, r);
  ASSERT_TRUE(results.ok());
  EXPECT_FALSE((*results)[1].passed);
  EXPECT_NE((*results)[1].message.find("only 0 memory samples"), std::string::npos);
}

}  // namespace
}  // namespace aurigraph::loadgen
