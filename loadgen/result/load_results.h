// Reads the results a report or a comparison is given: a result file, a
// comma-separated list of them, or a directory (every .json file below it, in
// name order, so repeated runs can be kept together). A run directory without
// a result file (a killed run) is rebuilt from its interval logs.
#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "loadgen/result/run_result.h"

namespace aurigraph::loadgen {

// NOT_FOUND for a directory with neither; the first unreadable file's error otherwise.
absl::StatusOr<std::vector<LoadedResult>> LoadResults(const std::string& spec);

}  // namespace aurigraph::loadgen
