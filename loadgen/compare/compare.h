// Baseline-versus-candidate comparison of saved runs. Per operation and metric
// (latency percentiles, throughput, error ratio) it reports the change of the
// candidate's median over runs against the baseline's. With several runs per
// side (3 or more) it separates a real shift from run-to-run noise: a change
// beyond its threshold counts only when a one-sided Mann-Whitney test over the
// runs is significant after a Benjamini-Hochberg adjustment across every metric
// that moved (many metrics are tested at once), and a bootstrap confidence
// interval of the change is reported beside it. With fewer
// runs there is no estimate of run-to-run noise; a latency percentile then
// counts only when the two runs' distribution-free 95% confidence intervals for
// it (from the order statistics in each histogram) do not overlap, so a tail
// percentile resting on a handful of samples is not called a regression.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "loadgen/histogram/histogram.h"
#include "loadgen/result/run_result.h"

namespace aurigraph::loadgen {

struct CompareOptions {
  // Relative change that counts, per metric: p50, p90, p99, p99.9 (spelt as in
  // gates), rate (for runs asked for different rates: the share of the target
  // achieved, compared in percentage points).
  std::map<std::string, double> relative_thresholds = {
      {"p50", 0.05}, {"p90", 0.05}, {"p99", 0.05}, {"p99.9", 0.05}, {"rate", 0.05}};
  double error_ratio_threshold = 0.001;  // absolute increase (0.1 percentage points)
  double alpha = 0.05;  // false discovery rate among moved metrics, 3+ runs per side
  int bootstrap_resamples = 2000;
  uint64_t seed = 1;  // the bootstrap's; the verdict does not depend on it
};

// Parses "5%" (every latency percentile and rate), "p99=10%", "rate=3%",
// "error_ratio=0.5%" into `options`.
absl::Status ApplyThreshold(const std::string& text, CompareOptions* options);

enum class Verdict { kSame, kNoise, kRegression, kImprovement, kMissing };
const char* VerdictName(Verdict verdict);

struct MetricComparison {
  std::string metric;  // "p99", "rate", "error_ratio", ...
  std::string unit;    // "us", "/s", "ratio"
  bool higher_is_worse = true;
  std::vector<double> baseline;  // one value per run
  std::vector<double> candidate;
  double baseline_median = 0;
  double candidate_median = 0;
  // Relative change of the medians (absolute for error_ratio); + is larger.
  double change = 0;
  double change_low = 0, change_high = 0;  // 95% bootstrap interval (several runs per side)
  double p_value = 1;                      // one-sided, in the direction the medians moved
  double adjusted_p_value = 1;             // Benjamini-Hochberg, across the metrics that moved
  double threshold = 0;
  bool noise_aware = false;  // at least 3 runs per side
  // Latency percentiles with fewer runs: each side's 95% sampling interval (merged runs).
  bool has_sampling_interval = false;
  double baseline_low = 0, baseline_high = 0, candidate_low = 0, candidate_high = 0;
  Verdict verdict = Verdict::kSame;
};

struct OperationComparison {
  std::string name;
  std::string kind;
  std::vector<MetricComparison> metrics;
  // Latency histograms, every run of a side merged (exact), and each run's own.
  std::shared_ptr<Histogram> baseline_latency;
  std::shared_ptr<Histogram> candidate_latency;
  std::vector<std::shared_ptr<Histogram>> baseline_runs;
  std::vector<std::shared_ptr<Histogram>> candidate_runs;
  bool missing_in_candidate = false;
  bool missing_in_baseline = false;
};

struct Comparison {
  std::vector<std::string> baseline_sources;
  std::vector<std::string> candidate_sources;
  // What makes the runs less comparable: different scenarios, loads or tool versions.
  std::vector<std::string> notes;
  std::vector<OperationComparison> operations;
  CompareOptions options;
  bool regression() const;
};

// Operations are matched by name. Requires at least one run per side.
absl::StatusOr<Comparison> CompareRuns(const std::vector<RunResult>& baseline,
                                       const std::vector<RunResult>& candidate,
                                       const CompareOptions& options);

// One-sided exact Mann-Whitney p-value that `candidate` tends to be larger than
// `baseline` (permutations enumerated up to 20 values in all; normal
// approximation with tie correction beyond).
// The distribution-free 95% confidence interval of a percentile from the order
// statistics of the recorded values: {low, high}.
std::pair<double, double> PercentileInterval(const Histogram& histogram, double percentile);

double MannWhitneyGreaterP(const std::vector<double>& baseline,
                           const std::vector<double>& candidate);

}  // namespace aurigraph::loadgen
