// capacity.json: a capacity search as its steps ran, each a full run result
// (whose gates are the SLOs), and the answer. Versioned like result.json;
// rewritten whole after every step, so a search that is killed keeps every
// step it finished. What `report` and `compare` read.
#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "loadgen/capacity/capacity_search.h"
#include "loadgen/result/run_result.h"

namespace aurigraph::loadgen {

inline constexpr int kCapacitySchemaVersion = 1;

struct CapacityStep {
  double rate = 0;  // as asked
  StepPhase phase = StepPhase::kExplore;
  double offset_seconds = 0;  // from the search's start
  double seconds = 0;         // start to end, connecting and draining included
  bool held = false;          // every SLO held and the generator kept up
  bool near = false;          // an SLO figure came within the margin of its limit
  RunResult result;
};

struct CapacityResult {
  std::string tool_version;
  std::string host;
  std::string scenario_name;
  std::string target;
  std::vector<std::string> slos;
  CapacityPlan plan;
  double near_margin = 0.1;
  double step_seconds = 0;  // each step's measured duration
  double warmup_seconds = 0;
  int64_t start_unix_nanos = 0;
  int64_t end_unix_nanos = 0;
  bool finished = false;  // false while the search runs (or if it was killed)
  std::vector<CapacityStep> steps;
  CapacityAnswer answer;
  // Gates on the answer, e.g. "capacity >= 40000" (metric "capacity", unit "1/s").
  std::vector<GateResult> gates;
  // The search finished with an answer (found, or above the highest rate) and every gate passed.
  bool passed() const;
};

// A step's point on the latency-throughput curve: its unary calls together,
// or in a scenario of streams only, its first operation that timed anything
// (per-message latency, messages per second).
const OperationResult& CurveFigures(const RunResult& step);

// The answer in one sentence, e.g. "capacity 1,950/s: the SLOs held in all 3
// runs of it and broke at 1,990/s in 3 of 3 runs; 13 steps in 26.4s".
std::string DescribeCapacityAnswer(const CapacityResult& result);

// Baseline against candidate: lower when the candidate broke at a rate the
// baseline held in every run of; higher when the candidate held at a rate the
// baseline broke at; inconclusive when a side held at its max rate (its
// capacity is only a lower bound) and so neither follows; else the same
// within the searches' precision and noise.
enum class CapacityVerdict { kLower, kSame, kHigher, kInconclusive };
struct CapacityChange {
  CapacityVerdict verdict = CapacityVerdict::kSame;
  double change = 0;  // candidate / baseline capacity - 1
  // The change's interval, from each side's [capacity, broke at): its lowest
  // (candidate capacity against baseline broke at) and its highest; a side
  // with no broken rate (held at its max rate) leaves that end open (NaN).
  double change_low = 0;
  double change_high = 0;
};
// INVALID_ARGUMENT when either search ended without an answer (found, or above its max rate).
absl::StatusOr<CapacityChange> CompareCapacity(const CapacityResult& baseline,
                                               const CapacityResult& candidate);

// A gate on the capacity: "capacity >= 40000" (or >, <, <=; /s allowed).
absl::StatusOr<GateResult> ParseCapacityGate(const std::string& expression);
// Fills each gate's measured value, verdict and message from the answer.
void EvaluateCapacityGates(CapacityResult& result);

std::string CapacityResultToJson(const CapacityResult& result);
absl::StatusOr<CapacityResult> CapacityResultFromJson(const std::string& text,
                                                      const std::string& source);
absl::StatusOr<CapacityResult> ReadCapacityFile(const std::string& path);
// Written to a temporary name and renamed, so a reader never sees half a file.
absl::Status WriteCapacityFile(const CapacityResult& result, const std::string& path);
// Whether `path` is a capacity file (by its schema), without reading it all.
bool IsCapacityFile(const std::string& path);

}  // namespace aurigraph::loadgen
