// Runs a capacity search: each step the search proposes is a full open-loop
// run at a fixed rate, made by the caller's StepRunner (which knows the
// scenario and the wire; this knows neither), and judged by its gates (the
// SLOs) and by whether the generator kept up.
#pragma once

#include <atomic>
#include <functional>

#include "absl/status/statusor.h"
#include "common/clock/clock.h"
#include "loadgen/capacity/capacity_result.h"
#include "loadgen/result/run_result.h"

namespace aurigraph::loadgen {

// One step: a run at `rate` (requests/s), the SLOs as its gates.
using StepRunner = std::function<absl::StatusOr<RunResult>(double rate)>;

struct CapacityRunOptions {
  const Clock* clock = &SteadyClock::Instance();     // the search's time, for its budget
  const Clock* wall_clock = &WallClock::Instance();  // timestamps
  const std::atomic<bool>* stop = nullptr;           // ends the search after the current step
  // Told after every step (and at the end) with everything so far: to save
  // capacity.json and show progress.
  std::function<void(const CapacityResult&)> on_step;
};

// Whether a held run came within `margin` (a fraction) of one of its gates' limits.
bool NearALimit(const RunResult& run, double margin);

// Runs the search described by `search` (plan, near margin, SLOs, gates and
// names: filled in by the caller); returns it with its steps and answer. An
// error from a step ends the search with that error, after on_step was told of
// every step that finished.
absl::StatusOr<CapacityResult> RunCapacitySearch(CapacityResult search, const StepRunner& run_step,
                                                 const CapacityRunOptions& options);

}  // namespace aurigraph::loadgen
