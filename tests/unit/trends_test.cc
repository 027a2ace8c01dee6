// Memory trends and drift over a timeline, and the soak gates on them.
#include "loadgen/trends/trends.h"

#include <gtest/gtest.h>

#include <cmath>

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
  EXPECT_EQ(
      (*results)[0].message.rfind(
          "loadgen_rss_slope = 68.66 MiB/h, limit < 47.68 MiB/h (judged by 68.66 MiB/h: +- ", 0),
      0u)
      << (*results)[0].message;
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

// The same 72 MB/h as above, under alternating noise (an allocator's
// sawtooth). The slope is judged by the end of its noise band nearer the
// limit: under +-1 MB the band (about +-35 MB/h) reaches below 50 MB/h, so the
// bound is not broken; without noise the same growth breaks it; under +-5 MB
// the band is wider than the limit, which the message says.
TEST(Trends, ASlopeIsJudgedByItsNoiseBand) {
  const auto noisy = [](double amplitude) {
    RunResult r;
    r.timeline = MakeTimeline(100, 20'000, 1000, 1000);
    for (size_t i = 0; i < r.timeline.points.size(); ++i) {
      r.timeline.points[i].loadgen_rss_bytes +=
          static_cast<int64_t>(i % 2 == 0 ? amplitude : -amplitude);
    }
    return r;
  };
  RunResult r = noisy(1e6);
  const Trend trend = RssTrend(r.timeline, Process::kLoadgen);
  ASSERT_TRUE(trend.measured);
  // The fit is above the bound (the noise pulls it down a little: the samples
  // start high and end low); only its band reaches below.
  EXPECT_GT(trend.slope_per_hour, 60e6);
  // Residuals of +-1 MB over 80 samples one second apart: 1 MB / sqrt(sxx),
  // sxx = 80 (80^2 - 1) / 12 s^2, in hours.
  const double sxx_hours = 80.0 * (80 * 80 - 1) / 12 / (3600.0 * 3600.0);
  EXPECT_NEAR(trend.standard_error_per_hour, 1e6 / std::sqrt(sxx_hours), 1e6);
  EXPECT_LT(trend.r2, 0.9);
  auto less = ParseGate("loadgen_rss_slope < 50MB", "");
  auto more = ParseGate("loadgen_rss_slope > 100MB", "");
  ASSERT_TRUE(less.ok() && more.ok());
  auto results = EvaluateGates({*less, *more}, r);
  ASSERT_TRUE(results.ok());
  EXPECT_TRUE((*results)[0].passed) << (*results)[0].message;
  // The figure is the fitted slope; the message says what it was judged by.
  EXPECT_DOUBLE_EQ((*results)[0].measured, trend.slope_per_hour);
  EXPECT_NE((*results)[0].message.find("(judged by "), std::string::npos) << (*results)[0].message;
  // A bound from below is judged by the other end: 65-70 MB/h cannot be told
  // from 100 MB/h here either.
  EXPECT_TRUE((*results)[1].passed) << (*results)[1].message;
  // A steady leak has no noise to hide in.
  r.timeline = MakeTimeline(100, 20'000, 1000, 1000);
  EXPECT_LT(RssTrend(r.timeline, Process::kLoadgen).standard_error_per_hour, 1.0);
  results = EvaluateGates({*less}, r);
  ASSERT_TRUE(results.ok());
  EXPECT_FALSE((*results)[0].passed);
  // Noise five times as loud: the band is wider than the limit, which the
  // message says; the growth is not above the bound beyond the noise.
  results = EvaluateGates({*less}, noisy(5e6));
  ASSERT_TRUE(results.ok());
  EXPECT_TRUE((*results)[0].passed);
  EXPECT_NE((*results)[0].message.find("the band is wider than the limit"), std::string::npos)
      << (*results)[0].message;
}

}  // namespace
}  // namespace aurigraph::loadgen
