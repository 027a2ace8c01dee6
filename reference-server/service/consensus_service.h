// ConsensusService (aurigraph.consensus.v1) on a cluster node: the Raft RPCs
// peers send (AppendEntries, RequestVote, InstallSnapshot, TimeoutNow), each
// answered with Raft's own answer once it is persisted, plus the node's state,
// metrics and leadership transfer. Requests are checked before Raft sees
// them: an unknown node id, entries that do not follow prev_log_index, or a
// message from a peer cut off by the admin service are refused with a status.
#pragma once

#include <grpcpp/impl/service_type.h>

#include <memory>

#include "reference-server/consensus/cluster/membership.h"
#include "reference-server/consensus/node/consensus_node.h"
#include "reference-server/consensus/transport/grpc_peer_transport.h"

namespace aurigraph::refserver {

std::unique_ptr<grpc::Service> MakeConsensusService(consensus::ConsensusNode& node,
                                                    const consensus::Membership& members,
                                                    const consensus::GrpcPeerTransport& transport,
                                                    int64_t election_timeout_nanos);

// ConsensusAdminService: crash, pause, partition, peer latency and heal, for
// failover scenarios. With `enabled` false (no --admin) every call is refused.
std::unique_ptr<grpc::Service> MakeConsensusAdminService(consensus::ConsensusNode& node,
                                                         const consensus::Membership& members,
                                                         consensus::GrpcPeerTransport& transport,
                                                         bool enabled);

}  // namespace aurigraph::refserver
