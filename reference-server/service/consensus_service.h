// ConsensusService (aurigraph.consensus.v1) on a cluster node: the Raft RPCs
// peers send (AppendEntries, RequestVote, InstallSnapshot, TimeoutNow), each
// answered with Raft's own answer once it is persisted, plus the node's state,
// metrics and leadership transfer. Requests are checked before Raft sees
// them: an unknown node id, entries that do not follow prev_log_index, or a
// message from a peer cut off by the admin service are refused with a status.
#pragma once

#include <grpcpp/impl/service_type.h>

#include <functional>
#include <memory>

#include "aurigraph/consensus/v1/consensus.pb.h"
#include "common/clock/clock.h"
#include "reference-server/consensus/cluster/membership.h"
#include "reference-server/consensus/node/consensus_node.h"
#include "reference-server/consensus/transport/grpc_peer_transport.h"
#include "reference-server/streams/event_stream.h"

namespace aurigraph::refserver {

// What the node saw change, for StreamConsensusEvents: the node's events as
// the service's messages (see ConsensusEventPublisher).
using ConsensusEvents = EventHub<consensus::v1::ConsensusEvent>;

std::unique_ptr<grpc::Service> MakeConsensusService(consensus::ConsensusNode& node,
                                                    const consensus::Membership& members,
                                                    const consensus::GrpcPeerTransport& transport,
                                                    ConsensusEvents& events,
                                                    StreamCounters& counters, size_t queue_bound);

// A NodeOptions::on_event that publishes each event to `events`, stamped with `wall`'s time.
std::function<void(const consensus::NodeEvent&)> ConsensusEventPublisher(
    const consensus::Membership& members, ConsensusEvents& events, const Clock& wall);

// ConsensusAdminService: crash, pause, partition, peer latency and heal, for
// failover scenarios. With `enabled` false (no --admin) every call is refused.
std::unique_ptr<grpc::Service> MakeConsensusAdminService(consensus::ConsensusNode& node,
                                                         const consensus::Membership& members,
                                                         consensus::GrpcPeerTransport& transport,
                                                         bool enabled);

}  // namespace aurigraph::refserver
