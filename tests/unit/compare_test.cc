// Baseline-versus-candidate verdicts on synthetic runs with known truth: a real
// 10% shift is flagged, run-to-run noise is not, and a tail percentile resting
// on a few samples is not called a regression from one run per side.
#include "loadgen/compare/compare.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "loadgen/histogram/latency.h"

namespace aurigraph::loadgen {
namespace {

// One run of one unary operation: lognormal latency (median 1 ms) scaled by
// `scale` and by a per-run factor in [1 - run_noise, 1 + run_noise].
RunResult SyntheticRun(uint64_t seed, double scale, double run_noise = 0.03,
                       int64_t samples = 20'000, int64_t errors = 0) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> noise(1 - run_noise, 1 + run_noise);
  const double factor = scale * noise(rng);
  std::lognormal_distribution<double> latency(std::log(1000.0), 0.5);
  auto histogram = std::make_shared<Histogram>(MakeLatencyHistogram());
  for (int64_t i = 0; i < samples; ++i) histogram->Record(std::llround(latency(rng) * factor));
  OperationResult op;
  op.name = "submit";
  op.rpc = "a.B/C";
  op.corrected = histogram;
  op.uncorrected = histogram;
  op.requests = samples;
  op.ok = samples - errors;
  op.achieved_rate = 1000;
  RunResult run;
  run.operations.push_back(op);
  return run;
}

std::vector<RunResult> Runs(uint64_t first_seed, int count, double scale, double run_noise) {
  std::vector<RunResult> runs;
  for (int i = 0; i < count; ++i) runs.push_back(SyntheticRun(first_seed + i, scale, run_noise));
  return runs;
}

const MetricComparison& Metric(const Comparison& c, const std::string& name) {
  for (const MetricComparison& m : c.operations.at(0).metrics) {
    if (m.metric == name) return m;
  }
  throw std::runtime_error("no metric " + name);
}

TEST(MannWhitney, ExactTailProbabilities) {
  EXPECT_DOUBLE_EQ(MannWhitneyGreaterP({1, 2, 3}, {4, 5, 6}), 1.0 / 20);
  EXPECT_DOUBLE_EQ(MannWhitneyGreaterP({4, 5, 6}, {1, 2, 3}), 1.0);
  EXPECT_DOUBLE_EQ(MannWhitneyGreaterP({1, 2, 3, 4, 5}, {6, 7, 8, 9, 10}), 1.0 / 252);
  // Interleaved: the middle of the distribution.
  EXPECT_NEAR(MannWhitneyGreaterP({1, 3, 5}, {2, 4, 6}), 0.35, 1e-12);
  // All tied: no evidence either way.
  EXPECT_DOUBLE_EQ(MannWhitneyGreaterP({7, 7}, {7, 7}), 1.0);
}

TEST(MannWhitney, NormalApproximationForLargeSamples) {
  std::vector<double> low, high;
  for (int i = 0; i < 40; ++i) {
    low.push_back(i);
    high.push_back(100 + i);
  }
  EXPECT_LT(MannWhitneyGreaterP(low, high), 1e-9);
  EXPECT_GT(MannWhitneyGreaterP(high, low), 0.999);
}

TEST(Compare, TenPercentP99RegressionIsFlaggedAcrossRepeatedRuns) {
  auto c = CompareRuns(Runs(1, 5, 1.0, 0.03), Runs(101, 5, 1.10, 0.03), CompareOptions{});
  ASSERT_TRUE(c.ok()) << c.status();
  const MetricComparison& p99 = Metric(*c, "p99");
  EXPECT_TRUE(p99.noise_aware);
  EXPECT_EQ(p99.verdict, Verdict::kRegression);
  EXPECT_NEAR(p99.change, 0.10, 0.04);
  EXPECT_LT(p99.p_value, 0.05);
  EXPECT_GT(p99.change_low, 0);  // the bootstrap interval excludes "no change"
  EXPECT_TRUE(c->regression());
}

TEST(Compare, RunToRunNoiseIsNotFlagged) {
  // Each run is off by up to ±8%, so single medians can differ by more than the
  // 5% threshold; across five runs per side the test sees no real shift.
  auto c = CompareRuns(Runs(1, 5, 1.0, 0.08), Runs(201, 5, 1.0, 0.08), CompareOptions{});
  ASSERT_TRUE(c.ok()) << c.status();
  for (const MetricComparison& m : c->operations[0].metrics) {
    EXPECT_NE(m.verdict, Verdict::kRegression) << m.metric << " change " << m.change;
  }
  EXPECT_FALSE(c->regression());
}

TEST(Compare, AChangeBeyondTheThresholdButNotSignificantIsWithinNoise) {
  // Three runs on each side, one candidate run an outlier: the median moves
  // but the runs overlap.
  std::vector<RunResult> candidate = {SyntheticRun(301, 0.99, 0), SyntheticRun(302, 1.07, 0),
                                      SyntheticRun(303, 1.30, 0)};
  std::vector<RunResult> baseline = {SyntheticRun(311, 1.0, 0), SyntheticRun(312, 1.01, 0),
                                     SyntheticRun(313, 0.98, 0)};
  auto c = CompareRuns(baseline, candidate, CompareOptions{});
  ASSERT_TRUE(c.ok());
  const MetricComparison& p50 = Metric(*c, "p50");
  EXPECT_GT(p50.change, 0.05);
  EXPECT_EQ(p50.verdict, Verdict::kNoise);
  EXPECT_FALSE(c->regression());
}

TEST(Compare, ALoneSeparationAmongManyNoisyMovesIsWithinNoise) {
  // Three operations, three runs a side. "a" happens to separate completely
  // (+7%, p = 0.05 for each percentile); "b" and "c" move as much but their runs
  // interleave. Tested together, a p of 0.05 is what chance alone gives now
  // and then, and the Benjamini-Hochberg adjustment does not call it.
  const auto side = [](const std::vector<std::vector<double>>& scales) {
    std::vector<RunResult> runs;
    for (size_t r = 0; r < scales[0].size(); ++r) {
      RunResult run;
      for (size_t op = 0; op < scales.size(); ++op) {
        OperationResult o = SyntheticRun(100 * op + r, scales[op][r], 0).operations[0];
        o.name = std::string(1, static_cast<char>('a' + op));
        run.operations.push_back(o);
      }
      runs.push_back(run);
    }
    return runs;
  };
  auto c = CompareRuns(side({{1.0, 1.01, 0.99}, {1.0, 1.2, 0.9}, {1.0, 1.2, 0.9}}),
                       side({{1.06, 1.07, 1.08}, {1.25, 0.95, 1.1}, {1.25, 0.95, 1.1}}),
                       CompareOptions{});
  ASSERT_TRUE(c.ok());
  const MetricComparison& a_p50 = c->operations[0].metrics[0];
  EXPECT_DOUBLE_EQ(a_p50.p_value, 0.05);
  EXPECT_GT(a_p50.adjusted_p_value, 0.05);
  EXPECT_EQ(a_p50.verdict, Verdict::kNoise);
  EXPECT_FALSE(c->regression());
  // With five runs a side the same shift, alone, is called.
  c = CompareRuns(side({{1.0, 1.01, 0.99, 1.0, 1.02}}), side({{1.06, 1.07, 1.08, 1.07, 1.06}}),
                  CompareOptions{});
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->operations[0].metrics[0].verdict, Verdict::kRegression);
}

TEST(Compare, SingleRunsUseSamplingIntervalsForPercentiles) {
  // 500 samples: p99.9 rests on the slowest one or two values.
  auto c =
      CompareRuns({SyntheticRun(1, 1.0, 0, 500)}, {SyntheticRun(2, 1.0, 0, 500)}, CompareOptions{});
  ASSERT_TRUE(c.ok());
  const MetricComparison& tail = Metric(*c, "p99.9");
  EXPECT_TRUE(tail.has_sampling_interval);
  EXPECT_NE(tail.verdict, Verdict::kRegression);
  // A 20% shift measured on 20,000 samples each is outside sampling noise.
  c = CompareRuns({SyntheticRun(1, 1.0, 0)}, {SyntheticRun(2, 1.2, 0)}, CompareOptions{});
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(Metric(*c, "p50").verdict, Verdict::kRegression);
  EXPECT_EQ(Metric(*c, "p99").verdict, Verdict::kRegression);
  EXPECT_TRUE(c->regression());
}

TEST(Compare, ErrorRatioIsComparedAsAnAbsoluteIncrease) {
  auto c = CompareRuns({SyntheticRun(1, 1.0, 0, 10'000, 0)}, {SyntheticRun(1, 1.0, 0, 10'000, 50)},
                       CompareOptions{});
  ASSERT_TRUE(c.ok());
  const MetricComparison& errors = Metric(*c, "error_ratio");
  EXPECT_DOUBLE_EQ(errors.change, 0.005);
  EXPECT_EQ(errors.verdict, Verdict::kRegression);
  EXPECT_EQ(Metric(*c, "p50").verdict, Verdict::kSame);  // same seed, same latency
}

TEST(Compare, ARunAskedForLessIsJudgedOnTheShareOfItsTargetItAchieved) {
  std::vector<RunResult> baseline = Runs(1, 3, 1.0, 0.03), candidate = Runs(11, 3, 1.0, 0.03);
  for (RunResult& run : baseline) run.operations[0].target_rate = 1000;
  for (RunResult& run : candidate) {
    run.operations[0].target_rate = 500;
    run.operations[0].achieved_rate = 500;
  }
  auto c = CompareRuns(baseline, candidate, CompareOptions{});
  ASSERT_TRUE(c.ok());
  EXPECT_THROW(Metric(*c, "rate"), std::runtime_error);
  const MetricComparison& share = Metric(*c, "rate_ratio");
  EXPECT_DOUBLE_EQ(share.baseline_median, 1.0);
  EXPECT_DOUBLE_EQ(share.candidate_median, 1.0);
  EXPECT_EQ(share.verdict, Verdict::kSame);
  EXPECT_FALSE(c->regression());
  // Half the target achieved at the same target is a regression of the rate.
  for (RunResult& run : candidate) run.operations[0].target_rate = 1000;
  c = CompareRuns(baseline, candidate, CompareOptions{});
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(Metric(*c, "rate").verdict, Verdict::kRegression);
}

TEST(Compare, AnOperationMissingFromTheCandidateIsARegression) {
  RunResult candidate = SyntheticRun(2, 1.0);
  candidate.operations[0].name = "renamed";
  auto c = CompareRuns({SyntheticRun(1, 1.0)}, {candidate}, CompareOptions{});
  ASSERT_TRUE(c.ok());
  ASSERT_EQ(c->operations.size(), 2u);
  EXPECT_TRUE(c->operations[0].missing_in_candidate);
  EXPECT_TRUE(c->operations[1].missing_in_baseline);
  EXPECT_TRUE(c->regression());
}

TEST(Compare, ThresholdsParse) {
  CompareOptions options;
  ASSERT_TRUE(ApplyThreshold("10%", &options).ok());
  EXPECT_DOUBLE_EQ(options.relative_thresholds.at("p50"), 0.10);
  EXPECT_DOUBLE_EQ(options.relative_thresholds.at("rate"), 0.10);
  ASSERT_TRUE(ApplyThreshold("p99=2%", &options).ok());
  EXPECT_DOUBLE_EQ(options.relative_thresholds.at("p99"), 0.02);
  ASSERT_TRUE(ApplyThreshold("error_ratio=0.5%", &options).ok());
  EXPECT_DOUBLE_EQ(options.error_ratio_threshold, 0.005);
  EXPECT_EQ(ApplyThreshold("p98=1%", &options).message(),
            "--threshold 'p98=1%': unknown metric (p50, p90, p99, p99.9, rate or error_ratio)");
  EXPECT_FALSE(ApplyThreshold("lots", &options).ok());
  EXPECT_FALSE(CompareRuns({}, {SyntheticRun(1, 1.0)}, options).ok());
}

}  // namespace
}  // namespace aurigraph::loadgen

namespace aurigraph::loadgen {
namespace {

// Results this tool did not write may hold histograms of another layout: they
// cannot be merged, and compare says so instead of comparing what it dropped.
TEST(Compare, HistogramsThatCannotBeMergedAreRefused) {
  std::vector<RunResult> baseline = Runs(1, 2, 1.0, 0.03);
  auto other = std::make_shared<Histogram>(1, 3'600'000'000, 2);
  other->Record(1000);
  baseline[1].operations[0].corrected = other;
  auto c = CompareRuns(baseline, Runs(10, 2, 1.0, 0.03), {});
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().message(),
            "baseline, operation submit: latency histograms that cannot be merged (different "
            "layouts, or counts past 64 bits)");
}

}  // namespace
}  // namespace aurigraph::loadgen
