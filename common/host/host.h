// The name of the machine this process runs on, as results and metrics label it.
#pragma once

#include <string>

namespace aurigraph {

std::string HostName();

}  // namespace aurigraph
