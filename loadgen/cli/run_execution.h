// What every kind of run shares once its scenario is known (run, and a split
// run's worker): its flags, and carrying it out: the wire, the bundled
// system's hooks, metrics, interval logs, progress, the summary and result.json.
#pragma once

#include <boost/program_options.hpp>
#include <memory>
#include <string>
#include <vector>

#include "loadgen/interfaces/interval_observer.h"
#include "loadgen/runner/runner.h"
#include "loadgen/scenario/scenario.h"
#include "loadgen/transport/grpc_transport_factory.h"

namespace aurigraph::loadgen::cli {

// The flags of a scenario file's run and an ad-hoc call's alike.
boost::program_options::options_description CommonRunFlags();

// What a run of `scenario` over `wire` plugs in (the hooks in the order they
// run, events' working directory, the leader finder), set in `run_options`;
// the hooks returned must outlive the run, and `wire` them.
std::vector<std::unique_ptr<RunHook>> PlugIn(const Scenario& scenario, const TransportFactory& wire,
                                             const std::string& events_dir,
                                             RunOptions& run_options);

// Runs `scenario` with CommonRunFlags' values in `vm` and `run_options` as set
// so far, told to `extra_observers` too; writes --out/result.json and prints
// the summary. The exit code.
int ExecuteRun(const Scenario& scenario, const boost::program_options::variables_map& vm,
               RunOptions run_options, const std::vector<IntervalObserver*>& extra_observers);

}  // namespace aurigraph::loadgen::cli
