// NetworkService's messages as Prometheus metrics, read at scrape time: per
// member, messages delivered to it, received from it and failed deliveries,
// and the latency of the last delivery.
#pragma once

#include <prometheus/collectable.h>

#include <vector>

#include "reference-server/network/peer_network.h"

namespace aurigraph::refserver {

class NetworkMetrics : public prometheus::Collectable {
 public:
  explicit NetworkMetrics(const PeerNetwork& network) : network_(network) {}
  std::vector<prometheus::MetricFamily> Collect() const override;

 private:
  const PeerNetwork& network_;
};

}  // namespace aurigraph::refserver
