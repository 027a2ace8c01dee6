// The human-readable summary printed at the end of a run: a pure function of
// the saved result, so it can be reprinted from result.json.
#pragma once

#include <string>

#include "loadgen/result/run_result.h"

namespace aurigraph::loadgen {

std::string FormatSummary(const RunResult& result);

}  // namespace aurigraph::loadgen
