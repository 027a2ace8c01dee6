// One run split across several generator processes: `run --workers N
// --worker-index K --start-at T` runs one process's share; `run --local-workers
// N` starts N such processes on this machine and merges them; `merge DIR...`
// merges the processes' run directories into the one run they make.
#pragma once

#include <boost/program_options.hpp>
#include <optional>
#include <string>
#include <vector>

#include "loadgen/runner/runner.h"
#include "loadgen/scenario/scenario.h"

namespace aurigraph::loadgen::cli {

// The flags of a split run, for `run`.
boost::program_options::options_description SplitRunFlags();

// This process's share and start from --workers, --worker-index (else
// JOB_COMPLETION_INDEX, as a Kubernetes Indexed Job sets it) and --start-at;
// the exit code when they are wrong.
std::optional<int> ReadSplitFlags(const boost::program_options::variables_map& vm,
                                  RunOptions* options);

// `run SCENARIO --local-workers N`: a coordinator in this process and N
// worker processes (`work`) that join it over loopback; their runs in
// OUT/worker-K, merged into OUT.
int RunLocalWorkers(const Scenario& scenario, const boost::program_options::variables_map& vm);

int MergeCommand(const std::vector<std::string>& args);
int CoordinateCommand(const std::vector<std::string>& args);
int WorkCommand(const std::vector<std::string>& args);

}  // namespace aurigraph::loadgen::cli
