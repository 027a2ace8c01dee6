// aurigraph-loadgen capacity: searches for the highest fixed rate at which a
// scenario's SLOs hold against its target, one open-loop run per step, and
// writes every step and the answer to capacity.json.
#pragma once

#include <string>
#include <vector>

namespace aurigraph::loadgen::cli {

int CapacityCommand(const std::vector<std::string>& args);

}  // namespace aurigraph::loadgen::cli
