// A cluster node's consensus as Prometheus metrics, read at scrape time from
// the node's own counters: term, commit and applied index, whether there is a
// leader, elections and leader changes, snapshots, how far each follower lags
// (on the leader), and histograms of commit latency, fsync time and the round
// trips of the RPCs to peers (AppendEntries, RequestVote: the voting latency).
#pragma once

#include <prometheus/collectable.h>

#include <vector>

#include "reference-server/consensus/cluster/membership.h"
#include "reference-server/consensus/node/consensus_node.h"
#include "reference-server/consensus/transport/grpc_peer_transport.h"

namespace aurigraph::refserver {

class ConsensusMetrics : public prometheus::Collectable {
 public:
  ConsensusMetrics(const consensus::ConsensusNode& node, const consensus::Membership& members,
                   const consensus::GrpcPeerTransport& transport)
      : node_(node), members_(members), transport_(transport) {}
  std::vector<prometheus::MetricFamily> Collect() const override;

 private:
  const consensus::ConsensusNode& node_;
  const consensus::Membership& members_;
  const consensus::GrpcPeerTransport& transport_;
};

}  // namespace aurigraph::refserver
