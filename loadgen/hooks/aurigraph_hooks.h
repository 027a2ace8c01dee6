// What the bundled Aurigraph system adds to a generic run, plugged in by the
// CLI: the webhook deliveries of the run's events, received and reconciled
// (scenarios with webhook_sink:), and the server's own memory report from
// CheckHealth (report_server_memory: true). Both call the target over the
// run's gRPC wire.
#pragma once

#include <memory>
#include <vector>

#include "loadgen/interfaces/run_hook.h"
#include "loadgen/runner/event_actions.h"
#include "loadgen/scenario/scenario.h"
#include "loadgen/transport/grpc_transport_factory.h"

namespace aurigraph::loadgen {

// The leader of a reference cluster: the address whose node answers
// ConsensusService/GetNodeState as leader (events with target: leader).
LeaderFinder MakeAurigraphLeaderFinder(const ChannelOptions& channel);

// The hooks `scenario` asks for, in the order they run; `wire` must outlive them.
std::vector<std::unique_ptr<RunHook>> MakeAurigraphHooks(const Scenario& scenario,
                                                         const GrpcTransportFactory& wire);

}  // namespace aurigraph::loadgen
