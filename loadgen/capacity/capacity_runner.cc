#include "loadgen/capacity/capacity_runner.h"

#include <cmath>
#include <optional>

namespace aurigraph::loadgen {

bool NearALimit(const RunResult& run, double margin) {
  for (const GateResult& gate : run.gates) {
    if (gate.limit == 0) continue;
    const double distance = std::abs(gate.measured - gate.limit) / std::abs(gate.limit);
    if (distance <= margin) return true;
  }
  return false;
}

absl::StatusOr<CapacityResult> RunCapacitySearch(CapacityResult search, const StepRunner& run_step,
                                                 const CapacityRunOptions& options) {
  CapacitySearch searcher(search.plan);
  const int64_t start = options.clock->NowNanos();
  search.start_unix_nanos = options.wall_clock->NowNanos();
  search.finished = false;
  const auto told = [&](bool finished, std::optional<CapacityStatus> status = std::nullopt) {
    search.answer = searcher.Answer();
    if (status) search.answer.status = *status;
    search.end_unix_nanos = options.wall_clock->NowNanos();
    search.finished = finished;
    EvaluateCapacityGates(search);
    if (options.on_step) options.on_step(search);
  };
  while (true) {
    const auto step = searcher.Next(options.clock->NowNanos() - start);
    if (!step) break;
    const int64_t step_start = options.clock->NowNanos();
    auto run = run_step(step->rate);
    if (!run.ok()) {
      told(false);
      return run.status();
    }
    const int64_t step_end = options.clock->NowNanos();
    if (options.stop != nullptr && options.stop->load()) {
      // A step cut short says nothing about its rate: it is not kept.
      told(true, CapacityStatus::kStopped);
      return search;
    }
    CapacityStep done;
    done.rate = step->rate;
    done.phase = step->phase;
    done.offset_seconds = static_cast<double>(step_start - start) / 1e9;
    done.seconds = static_cast<double>(step_end - step_start) / 1e9;
    done.held = run->passed();
    done.near = done.held && NearALimit(*run, search.near_margin);
    StepOutcome outcome;
    outcome.rate = step->rate;
    outcome.kept_up = run->generator.kept_up;
    outcome.held = done.held;
    outcome.near = done.near;
    outcome.nanos = step_end - step_start;
    searcher.Record(outcome);
    done.result = *std::move(run);
    search.steps.push_back(std::move(done));
    told(false);
  }
  told(true);
  return search;
}

}  // namespace aurigraph::loadgen
