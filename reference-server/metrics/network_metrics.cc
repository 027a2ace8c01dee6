#include "reference-server/metrics/network_metrics.h"

#include "common/metrics/families.h"

namespace aurigraph::refserver {

std::vector<prometheus::MetricFamily> NetworkMetrics::Collect() const {
  using metrics::AddSample;
  using metrics::Family;
  using metrics::Read;
  using prometheus::MetricType;
  std::vector<prometheus::MetricFamily> out;
  out.push_back(Family("aurigraph_refserver_network_messages_sent_total",
                       "NetworkService messages delivered to each member (this node included).",
                       MetricType::Counter));
  out.push_back(Family("aurigraph_refserver_network_messages_received_total",
                       "NetworkService messages received from each member.", MetricType::Counter));
  out.push_back(Family("aurigraph_refserver_network_send_failures_total",
                       "NetworkService deliveries that failed, by member (unreachable, "
                       "partitioned, past the 2 s deadline).",
                       MetricType::Counter));
  out.push_back(Family("aurigraph_refserver_network_last_latency_seconds",
                       "The latency of the last delivery to each member.", MetricType::Gauge));
  const auto& members = network_.members();
  for (size_t i = 0; i < members.size(); ++i) {
    const PeerNetwork::Counters& c = network_.counters(i);
    const metrics::LabelPairs peer = {{"peer", members[i].name}};
    AddSample(out[0], Read(c.sent), peer);
    AddSample(out[1], Read(c.received), peer);
    AddSample(out[2], Read(c.failed), peer);
    AddSample(out[3], Read(c.last_latency_nanos) / 1e9, peer);
  }
  return out;
}

}  // namespace aurigraph::refserver
