// A cluster node's consensus as Prometheus metrics, read at scrape time from
// the node's own counters: term, commit and applied index, whether there is a
// leader, elections and leader changes, snapshots, how far each follower lags
// (on the leader), and histograms of commit latency and fsync time.
#pragma once

#include <prometheus/collectable.h>

#include <vector>

#include "reference-server/consensus/cluster/membership.h"
#include "reference-server/consensus/node/consensus_node.h"

namespace aurigraph::refserver {

class ConsensusMetrics : public prometheus::Collectable {
 public:
  ConsensusMetrics(const consensus::ConsensusNode& node, const consensus::Membership& members)
      : node_(node), members_(members) {}
  std::vector<prometheus::MetricFamily> Collect() const override;

 private:
  const consensus::ConsensusNode& node_;
  const consensus::Membership& members_;
};

}  // namespace aurigraph::refserver
