#include "loadgen/compare/compare.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>
#include <tuple>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "common/units/units.h"

namespace aurigraph::loadgen {
namespace {

constexpr int kNoiseAwareRuns = 3;

struct Percentile {
  const char* metric;
  double percentile;
};
constexpr Percentile kPercentiles[] = {{"p50", 50}, {"p90", 90}, {"p99", 99}, {"p99.9", 99.9}};

double Median(std::vector<double> values) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  const size_t n = values.size();
  return n % 2 == 1 ? values[n / 2] : (values[n / 2 - 1] + values[n / 2]) / 2;
}

double Change(double baseline, double candidate, bool relative) {
  if (!relative) return candidate - baseline;
  if (baseline == candidate) return 0;
  if (baseline == 0) return 1e6;  // from nothing: beyond any threshold
  return std::clamp(candidate / baseline - 1, -1e6, 1e6);
}

// Mid-ranks of the pooled values, doubled so they are integers.
std::vector<int> DoubledMidRanks(const std::vector<double>& pooled) {
  std::vector<size_t> order(pooled.size());
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return pooled[a] < pooled[b]; });
  std::vector<int> ranks(pooled.size());
  for (size_t i = 0; i < order.size();) {
    size_t j = i;
    while (j + 1 < order.size() && pooled[order[j + 1]] == pooled[order[i]]) ++j;
    // Ranks i+1 .. j+1 share their mean; doubled: (i + 1) + (j + 1).
    for (size_t k = i; k <= j; ++k) ranks[order[k]] = static_cast<int>(i + j + 2);
    i = j + 1;
  }
  return ranks;
}

void Bootstrap(MetricComparison& m, bool relative, int resamples, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<double> changes;
  changes.reserve(static_cast<size_t>(resamples));
  std::vector<double> b(m.baseline.size()), c(m.candidate.size());
  std::uniform_int_distribution<size_t> pick_b(0, b.size() - 1), pick_c(0, c.size() - 1);
  for (int i = 0; i < resamples; ++i) {
    for (double& v : b) v = m.baseline[pick_b(rng)];
    for (double& v : c) v = m.candidate[pick_c(rng)];
    changes.push_back(Change(Median(b), Median(c), relative));
  }
  std::sort(changes.begin(), changes.end());
  m.change_low = changes[static_cast<size_t>(0.025 * (resamples - 1))];
  m.change_high = changes[static_cast<size_t>(0.975 * (resamples - 1))];
}

struct SamplingIntervals {
  std::pair<double, double> baseline, candidate;
};

MetricComparison CompareMetric(std::string metric, std::string unit, bool higher_is_worse,
                               bool relative, double threshold, std::vector<double> baseline,
                               std::vector<double> candidate, const CompareOptions& options,
                               const SamplingIntervals* sampling = nullptr) {
  MetricComparison m;
  m.metric = std::move(metric);
  m.unit = std::move(unit);
  m.higher_is_worse = higher_is_worse;
  m.threshold = threshold;
  m.baseline = std::move(baseline);
  m.candidate = std::move(candidate);
  m.baseline_median = Median(m.baseline);
  m.candidate_median = Median(m.candidate);
  m.change = Change(m.baseline_median, m.candidate_median, relative);
  m.change_low = m.change_high = m.change;
  m.noise_aware = m.baseline.size() >= kNoiseAwareRuns && m.candidate.size() >= kNoiseAwareRuns;
  if (!m.noise_aware && sampling != nullptr) {
    m.has_sampling_interval = true;
    std::tie(m.baseline_low, m.baseline_high) = sampling->baseline;
    std::tie(m.candidate_low, m.candidate_high) = sampling->candidate;
  }
  if (m.noise_aware) Bootstrap(m, relative, options.bootstrap_resamples, options.seed);

  // The p-value is for the direction the medians moved.
  if (m.noise_aware) {
    m.p_value = m.change >= 0 ? MannWhitneyGreaterP(m.baseline, m.candidate)
                              : MannWhitneyGreaterP(m.candidate, m.baseline);
  }
  const bool grew = m.change > threshold;
  if (!grew && m.change >= -threshold) return m;  // kSame
  const bool intervals_apart = !m.has_sampling_interval || m.candidate_low > m.baseline_high ||
                               m.candidate_high < m.baseline_low;
  // Noise-aware: provisional; AdjustForMultipleTests decides.
  const bool significant =
      m.noise_aware ? m.p_value <= options.alpha * (1 + 1e-9) : intervals_apart;
  const bool worse = grew == higher_is_worse;
  m.verdict = !significant ? Verdict::kNoise : worse ? Verdict::kRegression : Verdict::kImprovement;
  return m;
}

// Differences between the runs' set-ups, named so a reader can judge them.
std::vector<std::string> ComparabilityNotes(const std::vector<RunResult>& baseline,
                                            const std::vector<RunResult>& candidate) {
  std::vector<std::string> notes;
  const auto differ = [&](const char* what, auto get) {
    std::vector<std::string> seen;
    for (const auto* side : {&baseline, &candidate}) {
      for (const RunResult& run : *side) {
        const std::string value = get(run);
        if (std::find(seen.begin(), seen.end(), value) == seen.end()) seen.push_back(value);
      }
    }
    if (seen.size() > 1)
      notes.push_back(absl::StrCat("runs differ in ", what, ": ", absl::StrJoin(seen, " / ")));
  };
  differ("scenario", [](const RunResult& r) { return r.scenario_name; });
  differ("load", [](const RunResult& r) {
    const std::string profile =
        DescribeLoadProfile(r.load_profile, r.load_model == "open" ? "/s" : " in flight");
    if (!profile.empty()) return absl::StrCat(r.load_model, " loop, ", profile);
    return r.load_model == "open" ? absl::StrCat("open loop at ", r.target_rate, "/s")
                                  : r.load_model;
  });
  differ("tool version", [](const RunResult& r) { return r.tool_version; });
  for (const auto* side : {&baseline, &candidate}) {
    for (const RunResult& run : *side) {
      if (run.schema_version < 4 && run.total.errors() > 0) {
        notes.push_back(absl::StrCat(
            "a run of ", run.scenario_name, " (result schema ", run.schema_version, ") timed its ",
            run.total.errors(),
            " failed calls in its latency histograms; newer results time successful calls "
            "only, so its latency is not comparable"));
      }
      if (!run.generator.kept_up) {
        notes.push_back(
            absl::StrCat("a run of ", run.scenario_name,
                         " is invalid (the generator fell behind): ", run.generator.verdict));
      }
    }
  }
  return notes;
}

// Many metrics are tested at once, so a few would cross alpha by chance alone.
// Benjamini-Hochberg over the noise-aware metrics that moved beyond their
// threshold keeps the expected share of false calls among them at alpha.
void AdjustForMultipleTests(Comparison& c) {
  std::vector<MetricComparison*> moved;
  for (OperationComparison& op : c.operations) {
    for (MetricComparison& m : op.metrics) {
      if (m.noise_aware && m.verdict != Verdict::kSame) moved.push_back(&m);
    }
  }
  std::sort(moved.begin(), moved.end(), [](const MetricComparison* a, const MetricComparison* b) {
    return a->p_value < b->p_value;
  });
  const double count = static_cast<double>(moved.size());
  double running_min = 1;
  for (size_t i = moved.size(); i-- > 0;) {
    running_min = std::min(running_min, moved[i]->p_value * count / static_cast<double>(i + 1));
    moved[i]->adjusted_p_value = running_min;
  }
  for (MetricComparison* m : moved) {
    const bool worse = (m->change > 0) == m->higher_is_worse;
    // The tolerance keeps an exact p of alpha (e.g. 1/20) from failing on rounding.
    m->verdict = m->adjusted_p_value > c.options.alpha * (1 + 1e-9) ? Verdict::kNoise
                 : worse                                            ? Verdict::kRegression
                                                                    : Verdict::kImprovement;
  }
}

// `runs` merged into one; refused when they do not merge (layouts that differ,
// or counts past 64 bits: results this tool did not write), naming `what`.
absl::StatusOr<std::shared_ptr<Histogram>> MergeAll(
    const std::vector<std::shared_ptr<Histogram>>& runs, const std::string& what) {
  auto merged = std::make_shared<Histogram>(*runs.front());
  merged->Reset();
  for (const auto& h : runs) {
    if (!merged->Add(*h)) {
      return absl::InvalidArgumentError(absl::StrCat(
          what,
          ": latency histograms that cannot be merged (different layouts, or counts past "
          "64 bits)"));
    }
  }
  return merged;
}

const OperationResult* FindOperation(const RunResult& run, const std::string& name) {
  for (const OperationResult& op : run.operations) {
    if (op.name == name) return &op;
  }
  return nullptr;
}

double RateOf(const OperationResult& op) { return op.achieved_rate; }

double ShareOfTarget(const OperationResult& op) { return op.achieved_rate / op.target_rate; }

// Whether the runs were asked for different rates (every run has a target).
bool TargetsDiffer(const std::vector<const OperationResult*>& baseline,
                   const std::vector<const OperationResult*>& candidate) {
  const double first = baseline.front()->target_rate;
  bool differ = false;
  for (const auto* side : {&baseline, &candidate}) {
    for (const OperationResult* op : *side) {
      if (op->target_rate <= 0) return false;
      differ = differ || std::abs(op->target_rate - first) > 1e-3 * first;
    }
  }
  return differ;
}

}  // namespace

const char* VerdictName(Verdict verdict) {
  switch (verdict) {
    case Verdict::kSame:
      return "no change";
    case Verdict::kNoise:
      return "within noise";
    case Verdict::kRegression:
      return "regression";
    case Verdict::kImprovement:
      return "improvement";
    case Verdict::kMissing:
      return "missing";
  }
  return "no change";
}

absl::Status ApplyThreshold(const std::string& text, CompareOptions* options) {
  const std::vector<std::string> parts = absl::StrSplit(text, absl::MaxSplits('=', 1));
  const std::string value_text = parts.back();
  auto value = ParseRatio(value_text);
  if (!value.ok() || *value < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("--threshold '", text, "': expected a percentage such as 5% or p99=10%"));
  }
  if (parts.size() == 1) {
    for (auto& [metric, threshold] : options->relative_thresholds) threshold = *value;
    return absl::OkStatus();
  }
  // p99_9 was this option's spelling before gates' p99.9 was adopted here.
  const std::string metric = parts.front() == "p99_9" ? "p99.9" : parts.front();
  if (metric == "error_ratio") {
    options->error_ratio_threshold = *value;
    return absl::OkStatus();
  }
  auto it = options->relative_thresholds.find(metric);
  if (it == options->relative_thresholds.end()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--threshold '", text, "': unknown metric (p50, p90, p99, p99.9, rate or error_ratio)"));
  }
  it->second = *value;
  return absl::OkStatus();
}

bool Comparison::regression() const {
  for (const OperationComparison& op : operations) {
    if (op.missing_in_candidate) return true;
    for (const MetricComparison& m : op.metrics) {
      if (m.verdict == Verdict::kRegression) return true;
    }
  }
  return false;
}

std::pair<double, double> PercentileInterval(const Histogram& histogram, double percentile) {
  const double n = static_cast<double>(histogram.TotalCount());
  if (n == 0) return {0, 0};
  // The rank of the q-quantile is Binomial(n, q); its 95% range bounds the value.
  const double q = percentile / 100;
  const double spread = 1.96 * std::sqrt(n * q * (1 - q));
  const double low_rank = std::max(1.0, std::floor(n * q - spread));
  const double high_rank = std::min(n, std::ceil(n * q + spread) + 1);
  return {static_cast<double>(histogram.ValueAtPercentile(100 * low_rank / n)),
          static_cast<double>(histogram.ValueAtPercentile(100 * high_rank / n))};
}

double MannWhitneyGreaterP(const std::vector<double>& baseline,
                           const std::vector<double>& candidate) {
  const size_t n = baseline.size(), m = candidate.size();
  if (n == 0 || m == 0) return 1;
  std::vector<double> pooled(baseline);
  pooled.insert(pooled.end(), candidate.begin(), candidate.end());
  const std::vector<int> ranks = DoubledMidRanks(pooled);
  int observed = 0;
  for (size_t i = n; i < pooled.size(); ++i) observed += ranks[i];
  const size_t total = n + m;
  if (total <= 60) {
    // ways[k][s]: subsets of k values whose doubled ranks sum to s (the
    // permutation distribution, exact even with ties).
    const int max_sum = std::accumulate(ranks.begin(), ranks.end(), 0);
    std::vector<std::vector<double>> ways(m + 1, std::vector<double>(max_sum + 1, 0));
    ways[0][0] = 1;
    for (size_t i = 0; i < total; ++i) {
      for (size_t k = std::min(m, i + 1); k >= 1; --k) {
        for (int s = max_sum; s >= ranks[i]; --s) ways[k][s] += ways[k - 1][s - ranks[i]];
      }
    }
    double at_least = 0, all = 0;
    for (int s = 0; s <= max_sum; ++s) {
      all += ways[m][s];
      if (s >= observed) at_least += ways[m][s];
    }
    return at_least / all;
  }
  // Normal approximation of U with tie correction and continuity correction.
  const double u = observed / 2.0 - static_cast<double>(m * (m + 1)) / 2;
  const double mean = static_cast<double>(n * m) / 2;
  std::vector<double> sorted(pooled);
  std::sort(sorted.begin(), sorted.end());
  double ties = 0;
  for (size_t i = 0; i < sorted.size();) {
    size_t j = i;
    while (j < sorted.size() && sorted[j] == sorted[i]) ++j;
    const double t = static_cast<double>(j - i);
    ties += t * t * t - t;
    i = j;
  }
  const double nt = static_cast<double>(total);
  const double variance = static_cast<double>(n * m) / 12 * ((nt + 1) - ties / (nt * (nt - 1)));
  if (variance <= 0) return 1;
  const double z = (u - mean - 0.5) / std::sqrt(variance);
  return 0.5 * std::erfc(z / std::sqrt(2.0));
}

absl::StatusOr<Comparison> CompareRuns(const std::vector<RunResult>& baseline,
                                       const std::vector<RunResult>& candidate,
                                       const CompareOptions& options) {
  if (baseline.empty() || candidate.empty()) {
    return absl::InvalidArgumentError("compare needs at least one result on each side");
  }
  Comparison out;
  out.options = options;
  out.notes = ComparabilityNotes(baseline, candidate);
  std::vector<std::string> names;
  for (const RunResult& run : baseline) {
    for (const OperationResult& op : run.operations) {
      if (std::find(names.begin(), names.end(), op.name) == names.end()) names.push_back(op.name);
    }
  }
  for (const RunResult& run : candidate) {
    for (const OperationResult& op : run.operations) {
      if (std::find(names.begin(), names.end(), op.name) == names.end()) names.push_back(op.name);
    }
  }
  for (const std::string& name : names) {
    OperationComparison oc;
    oc.name = name;
    std::vector<const OperationResult*> base_ops, cand_ops;
    for (const RunResult& run : baseline) {
      if (const OperationResult* op = FindOperation(run, name)) base_ops.push_back(op);
    }
    for (const RunResult& run : candidate) {
      if (const OperationResult* op = FindOperation(run, name)) cand_ops.push_back(op);
    }
    oc.missing_in_baseline = base_ops.size() < baseline.size();
    oc.missing_in_candidate = cand_ops.size() < candidate.size();
    oc.kind = (base_ops.empty() ? cand_ops : base_ops).front()->kind;
    for (const OperationResult* op : base_ops) oc.baseline_runs.push_back(op->corrected);
    for (const OperationResult* op : cand_ops) oc.candidate_runs.push_back(op->corrected);
    if (base_ops.empty() || cand_ops.empty()) {
      out.operations.push_back(std::move(oc));
      continue;
    }
    auto baseline_latency = MergeAll(oc.baseline_runs, "baseline, operation " + name);
    if (!baseline_latency.ok()) return baseline_latency.status();
    auto candidate_latency = MergeAll(oc.candidate_runs, "candidate, operation " + name);
    if (!candidate_latency.ok()) return candidate_latency.status();
    oc.baseline_latency = *std::move(baseline_latency);
    oc.candidate_latency = *std::move(candidate_latency);
    const auto values = [](const std::vector<const OperationResult*>& ops, auto get) {
      std::vector<double> v;
      for (const OperationResult* op : ops) v.push_back(get(*op));
      return v;
    };
    const auto timed = [](const std::vector<const OperationResult*>& ops) {
      return std::all_of(ops.begin(), ops.end(),
                         [](const OperationResult* op) { return op->corrected->TotalCount() > 0; });
    };
    if (timed(base_ops) && timed(cand_ops)) {
      for (const Percentile& p : kPercentiles) {
        const auto at = [&p](const OperationResult& op) {
          return static_cast<double>(op.corrected->ValueAtPercentile(p.percentile));
        };
        const SamplingIntervals sampling{PercentileInterval(*oc.baseline_latency, p.percentile),
                                         PercentileInterval(*oc.candidate_latency, p.percentile)};
        oc.metrics.push_back(
            CompareMetric(p.metric, "us", true, true, options.relative_thresholds.at(p.metric),
                          values(base_ops, at), values(cand_ops, at), options, &sampling));
      }
    }
    // Failed calls are timed apart (a dead server answers fast): their p99 is
    // compared only where every run on both sides had failures to time.
    const auto failed_timed = [](const std::vector<const OperationResult*>& ops) {
      return std::all_of(ops.begin(), ops.end(),
                         [](const OperationResult* op) { return !op->failed.empty(); });
    };
    if (failed_timed(base_ops) && failed_timed(cand_ops)) {
      std::vector<double> failed_p99[2];
      for (int side = 0; side < 2; ++side) {
        for (const OperationResult* op : side == 0 ? base_ops : cand_ops) {
          std::vector<std::shared_ptr<Histogram>> by_code;
          for (const auto& [code, histogram] : op->failed) by_code.push_back(histogram);
          auto merged = MergeAll(by_code, absl::StrCat(side == 0 ? "baseline" : "candidate",
                                                       ", operation ", name, ", failed calls"));
          if (!merged.ok()) return merged.status();
          failed_p99[side].push_back(static_cast<double>((*merged)->ValueAtPercentile(99)));
        }
      }
      oc.metrics.push_back(CompareMetric("p99_failed", "us", true, true,
                                         options.relative_thresholds.at("p99"), failed_p99[0],
                                         failed_p99[1], options));
    }
    // A run asked for less sends less by design: then the share of its target
    // each side achieved is compared instead of the rate.
    if (TargetsDiffer(base_ops, cand_ops)) {
      oc.metrics.push_back(
          CompareMetric("rate_ratio", "ratio", false, false, options.relative_thresholds.at("rate"),
                        values(base_ops, ShareOfTarget), values(cand_ops, ShareOfTarget), options));
    } else {
      oc.metrics.push_back(
          CompareMetric("rate", "/s", false, true, options.relative_thresholds.at("rate"),
                        values(base_ops, RateOf), values(cand_ops, RateOf), options));
    }
    const auto error_ratio = [](const OperationResult& op) { return op.error_ratio(); };
    oc.metrics.push_back(CompareMetric("error_ratio", "ratio", true, false,
                                       options.error_ratio_threshold, values(base_ops, error_ratio),
                                       values(cand_ops, error_ratio), options));
    out.operations.push_back(std::move(oc));
  }
  AdjustForMultipleTests(out);
  return out;
}

}  // namespace aurigraph::loadgen
