// SLO gates: expressions such as "p99 < 20ms", "error_ratio < 0.1%",
// "rate_ratio >= 99%" or "rate >= 50000", checked against a saved result.
// A pure function of the result, so a report can re-check a run's gates.
#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "loadgen/result/run_result.h"

namespace aurigraph::loadgen {

struct Gate {
  std::string expression;
  std::string operation;  // empty = all operations together
  std::string metric;     // p50 p90 p99 p99.9 p99.99 max mean (corrected latency),
                          // uncorrected_<percentile>, error_ratio, rate_ratio, rate, requests
  enum class Comparison { kLess, kLessOrEqual, kGreater, kGreaterOrEqual } comparison;
  double limit = 0;  // latency in microseconds, ratios as fractions, rates per second
  std::string unit;  // "us", "ratio", "1/s", "count"
};

absl::StatusOr<Gate> ParseGate(const std::string& expression, const std::string& operation);

// Fails with INVALID_ARGUMENT when a gate names an operation the result does not have.
absl::StatusOr<std::vector<GateResult>> EvaluateGates(const std::vector<Gate>& gates,
                                                      const RunResult& result);

}  // namespace aurigraph::loadgen
