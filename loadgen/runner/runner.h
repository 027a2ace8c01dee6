// Runs a scenario against a target, in stages: plan the operations (catalog,
// templates, reflection), connect, plan the workers (shares and seeds), execute
// (workers on their own threads, the timeline collected as it goes), and build
// the result from the timeline, with the generator judged and the gates
// checked. Returns the result, or an error status: INVALID_ARGUMENT /
// NOT_FOUND for bad input, UNAVAILABLE when the target cannot be reached.
#pragma once

#include <atomic>
#include <functional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/clock/clock.h"
#include "loadgen/interfaces/interval_observer.h"
#include "loadgen/interfaces/load_model.h"
#include "loadgen/interfaces/run_hook.h"
#include "loadgen/interfaces/transport_factory.h"
#include "loadgen/result/run_result.h"
#include "loadgen/runner/event_actions.h"
#include "loadgen/scenario/scenario.h"

namespace aurigraph::loadgen {

// The start of a run whose processes' clocks differ: as every process records
// it (the coordinator's clock), and when it is on this machine's clock.
struct SharedStart {
  int64_t unix_nanos = 0;
  int64_t local_unix_nanos = 0;
};

struct RunOptions {
  std::string target;  // overrides the scenario's target when not empty
  const Clock* clock = &SteadyClock::Instance();
  // Unix time, for the run's timestamps and server send stamps.
  const Clock* wall_clock = &WallClock::Instance();
  // The wire; null = gRPC to the target, with the scenario's channel settings.
  TransportFactory* transport = nullptr;
  // Set to stop sending early; in-flight requests still drain.
  const std::atomic<bool>* stop = nullptr;
  // Told of the run's start, of each interval as the run goes (metrics,
  // interval logs, progress), and of its end.
  std::vector<IntervalObserver*> interval_observers;
  // What the system under test adds to the run, in order.
  std::vector<RunHook*> hooks;
  // The target's process, sampled each interval (RSS, CPU, open fds): a pid;
  // 0 = find it when the target listens on this machine; -1 = none.
  int watch_pid = 0;
  // A run split across generator processes: this process's share.
  Partition partition;
  // When the run starts, Unix nanoseconds: every process of a split run starts
  // at the same instant. 0: just after set-up. A start already past (set-up
  // took longer) is an error (FAILED_PRECONDITION), not a late, skewed start.
  int64_t start_unix_nanos = 0;
  // ${run}; empty: a random one. Every process of a split run is given the same.
  std::string run_id;
  // When set, called once the run is ready to start (connected, planned): a
  // split run's barrier. Returns the start (replacing start_unix_nanos), or an
  // error that ends the run before it starts.
  std::function<absl::StatusOr<SharedStart>()> await_start;
  // Scheduled events (the scenario's events:): where each command's output
  // goes (DIR/events/NN-NAME.log; empty: a temporary directory), and who names
  // the leader for calls to "leader" (a system plug-in; null: none can).
  std::string events_dir;
  LeaderFinder find_leader;
};

// The target a run loads: `override` when set, else the scenario's; INVALID_ARGUMENT
// when there is none or its port is not 1..65535.
absl::StatusOr<std::string> ResolveTarget(const Scenario& scenario, const std::string& override);

// The wire a scenario runs over: HTTP/1.1 for HTTP operations, gRPC otherwise.
std::unique_ptr<TransportFactory> MakeTransportFactory(const Scenario& scenario,
                                                       const std::string& target);

// With options.transport null, over MakeTransportFactory's wire.
absl::StatusOr<RunResult> RunScenario(const Scenario& scenario, const RunOptions& options);

}  // namespace aurigraph::loadgen
