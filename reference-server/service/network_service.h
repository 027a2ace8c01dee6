// NetworkService (aurigraph.network.v1): messages between the members of a
// cluster (network/peer_network.h) over gRPC, and the link that carries them
// to the other members on the channels consensus already holds.
#pragma once

#include <grpcpp/impl/service_type.h>

#include <memory>

#include "reference-server/consensus/cluster/membership.h"
#include "reference-server/consensus/transport/grpc_peer_transport.h"
#include "reference-server/network/peer_network.h"
#include "reference-server/service/responder.h"
#include "reference-server/service/streaming.h"

namespace aurigraph::refserver {

std::unique_ptr<grpc::Service> MakeNetworkService(PeerNetwork& network, const Responder& responder,
                                                  const Streaming& streaming);

// Delivers to member i (raft node i + 1) with NetworkService/DeliverMessage,
// within 2 s; partitions injected on `transport` cut it too. Destroying it
// cancels the deliveries in flight and waits for them.
std::unique_ptr<PeerLink> MakeGrpcPeerLink(const consensus::Membership& members,
                                           const consensus::GrpcPeerTransport& transport);

}  // namespace aurigraph::refserver
