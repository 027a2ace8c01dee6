#include "loadgen/gates/gates.h"

#include <cmath>
#include <cstdio>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "absl/strings/strip.h"
#include "common/units/units.h"

namespace aurigraph::loadgen {
namespace {

bool LatencyPercentile(absl::string_view metric, double* percentile) {
  if (metric == "max") {
    *percentile = 100;
    return true;
  }
  if (metric.size() < 2 || metric[0] != 'p') return false;
  char* end = nullptr;
  const std::string number(metric.substr(1));
  *percentile = std::strtod(number.c_str(), &end);
  return end == number.c_str() + number.size() && *percentile > 0 && *percentile <= 100;
}

std::string FormatValue(double value, const std::string& unit) {
  char buf[64];
  if (unit == "us") return FormatDuration(static_cast<int64_t>(value * 1000));
  if (unit == "ratio") {
    std::snprintf(buf, sizeof buf, "%.4g%%", value * 100);
  } else {
    std::snprintf(buf, sizeof buf, "%.6g", value);
  }
  return buf;
}

const char* ComparisonText(Gate::Comparison c) {
  switch (c) {
    case Gate::Comparison::kLess:
      return "<";
    case Gate::Comparison::kLessOrEqual:
      return "<=";
    case Gate::Comparison::kGreater:
      return ">";
    case Gate::Comparison::kGreaterOrEqual:
      return ">=";
  }
  return "?";
}

}  // namespace

absl::StatusOr<Gate> ParseGate(const std::string& expression, const std::string& operation) {
  const auto error = [&](const std::string& why) {
    return absl::InvalidArgumentError(absl::StrCat("gate '", expression, "': ", why));
  };
  std::vector<std::string> parts = absl::StrSplit(expression, ' ', absl::SkipWhitespace());
  if (parts.size() != 3) return error("expected METRIC OP VALUE, e.g. 'p99 < 20ms'");
  Gate gate;
  gate.expression = expression;
  gate.operation = operation;
  gate.metric = parts[0];
  const std::string& op = parts[1];
  if (op == "<")
    gate.comparison = Gate::Comparison::kLess;
  else if (op == "<=")
    gate.comparison = Gate::Comparison::kLessOrEqual;
  else if (op == ">")
    gate.comparison = Gate::Comparison::kGreater;
  else if (op == ">=")
    gate.comparison = Gate::Comparison::kGreaterOrEqual;
  else
    return error(absl::StrCat("unknown comparison '", op, "' (use <, <=, >, >=)"));

  absl::string_view latency = gate.metric;
  absl::ConsumePrefix(&latency, "uncorrected_");
  double percentile = 0;
  if (LatencyPercentile(latency, &percentile) || latency == "mean") {
    auto nanos = ParseDuration(parts[2]);
    if (!nanos.ok()) return error(std::string(nanos.status().message()));
    gate.limit = static_cast<double>(*nanos) / 1000.0;
    gate.unit = "us";
    return gate;
  }
  if (gate.metric == "error_ratio" || gate.metric == "rate_ratio") {
    auto ratio = ParseRatio(parts[2]);
    if (!ratio.ok()) return error(std::string(ratio.status().message()));
    gate.limit = *ratio;
    gate.unit = "ratio";
    return gate;
  }
  if (gate.metric == "rate" || gate.metric == "requests") {
    char* end = nullptr;
    gate.limit = std::strtod(parts[2].c_str(), &end);
    if (end != parts[2].c_str() + parts[2].size()) return error("expected a number");
    gate.unit = gate.metric == "rate" ? "1/s" : "count";
    return gate;
  }
  return error(absl::StrCat("unknown metric '", gate.metric,
                            "' (p50, p99, p99.9, max, mean, uncorrected_p99, error_ratio, "
                            "rate_ratio, rate, requests)"));
}

absl::StatusOr<std::vector<GateResult>> EvaluateGates(const std::vector<Gate>& gates,
                                                      const RunResult& result) {
  std::vector<GateResult> out;
  for (const Gate& gate : gates) {
    const OperationResult* op = &result.total;
    if (!gate.operation.empty()) {
      op = nullptr;
      for (const auto& candidate : result.operations) {
        if (candidate.name == gate.operation) op = &candidate;
      }
      if (op == nullptr) {
        return absl::InvalidArgumentError(absl::StrCat(
            "gate '", gate.expression, "' names unknown operation '", gate.operation, "'"));
      }
    }
    double measured = 0;
    absl::string_view latency = gate.metric;
    const bool uncorrected = absl::ConsumePrefix(&latency, "uncorrected_");
    const Histogram& histogram = uncorrected ? *op->uncorrected : *op->corrected;
    double percentile = 0;
    if (latency == "mean")
      measured = histogram.Mean();
    else if (LatencyPercentile(latency, &percentile)) {
      measured = static_cast<double>(percentile >= 100 ? histogram.Max()
                                                       : histogram.ValueAtPercentile(percentile));
    } else if (gate.metric == "error_ratio")
      measured = op->error_ratio();
    else if (gate.metric == "rate")
      measured = op->achieved_rate;
    else if (gate.metric == "requests")
      measured = static_cast<double>(op->requests);
    else if (gate.metric == "rate_ratio") {
      measured = op->target_rate > 0 ? op->achieved_rate / op->target_rate : 0;
    }
    bool passed = false;
    switch (gate.comparison) {
      case Gate::Comparison::kLess:
        passed = measured < gate.limit;
        break;
      case Gate::Comparison::kLessOrEqual:
        passed = measured <= gate.limit;
        break;
      case Gate::Comparison::kGreater:
        passed = measured > gate.limit;
        break;
      case Gate::Comparison::kGreaterOrEqual:
        passed = measured >= gate.limit;
        break;
    }
    // Latency of a run with no completions is not a pass: nothing was measured.
    if (op->requests == 0 && gate.unit == "us") passed = false;
    GateResult r;
    r.expression = gate.expression;
    r.operation = gate.operation;
    r.metric = gate.metric;
    r.unit = gate.unit;
    r.measured = measured;
    r.limit = gate.limit;
    r.passed = passed;
    r.message = absl::StrCat(
        gate.metric, gate.operation.empty() ? "" : absl::StrCat("[", gate.operation, "]"), " = ",
        FormatValue(measured, gate.unit), ", limit ", ComparisonText(gate.comparison), " ",
        FormatValue(gate.limit, gate.unit), op->requests == 0 ? " (no requests completed)" : "");
    out.push_back(std::move(r));
  }
  return out;
}

}  // namespace aurigraph::loadgen
