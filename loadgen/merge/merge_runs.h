// Merges the runs of the generator processes one run was split across
// (`run --workers N --worker-index K`, or `run --local-workers N`) into the
// run they make together. Interval j of the merged run is the sum of every
// process's interval j: histograms bucket by bucket, counts, status codes and
// messages exactly; percentiles are never averaged. The merged intervals are
// written as one run's interval logs, and the result is rebuilt from them by
// the same code as any run's (RecoverRun), so its gates and the generator's
// verdict are judged on the merged data. A process that could not keep up
// makes the merged run's generator verdict fail; one that did not finish
// (killed) makes it incomplete, with everything it logged kept.
#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "loadgen/result/run_result.h"

namespace aurigraph::loadgen {

// `run_dirs`: each process's run directory (its interval logs), every process
// of the run once, in any order. Writes the merged interval logs into
// `out_dir` (which exists). INVALID_ARGUMENT naming the directory when they are
// not the processes of one run (another scenario, start, interval or split, a
// process missing or given twice); DATA_LOSS for a damaged log.
absl::StatusOr<RunResult> MergeRuns(const std::vector<std::string>& run_dirs,
                                    const std::string& out_dir);

}  // namespace aurigraph::loadgen
