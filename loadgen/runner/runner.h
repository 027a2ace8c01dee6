// Runs a scenario against a gRPC target: resolves and compiles its operations,
// connects, runs the workers on their own threads, merges what they measured
// and checks the gates. Returns the result, or an error status:
// INVALID_ARGUMENT / NOT_FOUND for bad input, UNAVAILABLE when the target
// cannot be reached.
#pragma once

#include <atomic>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/clock/clock.h"
#include "loadgen/result/run_result.h"
#include "loadgen/runner/interval_observer.h"
#include "loadgen/scenario/scenario.h"

namespace aurigraph::loadgen {

struct RunOptions {
  std::string target;  // overrides the scenario's target when not empty
  const Clock* clock = &SteadyClock::Instance();
  // Set to stop sending early; in-flight requests still drain.
  const std::atomic<bool>* stop = nullptr;
  // Told of each interval of the timeline as the run goes (metrics, interval logs, progress).
  std::vector<IntervalObserver*> interval_observers;
  // The target's process, sampled each interval (RSS, CPU, open fds): a pid;
  // 0 = find it when the target listens on this machine; -1 = none.
  int watch_pid = 0;
};

absl::StatusOr<RunResult> RunScenario(const Scenario& scenario, const RunOptions& options);

}  // namespace aurigraph::loadgen
