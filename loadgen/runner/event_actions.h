// The scenario's events made ready to run (loadgen/faults/event_runner.h): a
// shell command as it is; a call through the gRPC wire to an address of the
// target, to each of them, or to the one a system plug-in names as the leader.
// Bad input (an unknown method, a request that does not compile, an event
// that does not fit the run) is INVALID_ARGUMENT naming the event.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "loadgen/catalog/catalog.h"
#include "loadgen/faults/event_runner.h"
#include "loadgen/interfaces/channel_options.h"
#include "loadgen/scenario/scenario.h"

namespace aurigraph::loadgen {

// Which of `addresses` leads the system now (e.g. a Raft leader); an error when none does.
using LeaderFinder =
    std::function<absl::StatusOr<std::string>(const std::vector<std::string>& addresses)>;

struct EventWiring {
  const MethodCatalog* catalog = nullptr;  // the run's methods
  std::vector<std::string> addresses;      // the target's
  ChannelOptions channel;
  LeaderFinder find_leader;  // null: "leader" is refused
};

absl::StatusOr<std::vector<FaultEvent>> MakeFaultEvents(const Scenario& scenario,
                                                        const EventWiring& wiring);

// What an event does, in words: its command, or "rpc METHOD -> TARGET".
std::string DescribeEventAction(const EventSpec& event);

}  // namespace aurigraph::loadgen
