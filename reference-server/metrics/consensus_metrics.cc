#include "reference-server/metrics/consensus_metrics.h"

#include <tuple>

#include "common/metrics/families.h"

namespace aurigraph::refserver {
namespace {

using metrics::AddFamily;
using metrics::AddSample;
using metrics::Family;
using prometheus::MetricType;

prometheus::ClientMetric HistogramMetric(const consensus::DurationHistogram& h) {
  prometheus::ClientMetric metric;
  uint64_t cumulative = 0;
  for (size_t i = 0; i < h.kBoundsNanos.size(); ++i) {
    cumulative += h.counts[i];
    metric.histogram.bucket.push_back({cumulative, static_cast<double>(h.kBoundsNanos[i]) / 1e9});
  }
  metric.histogram.bucket.push_back({h.count, std::numeric_limits<double>::infinity()});
  metric.histogram.sample_count = h.count;
  metric.histogram.sample_sum = static_cast<double>(h.sum_nanos) / 1e9;
  return metric;
}

prometheus::MetricFamily Histogram(std::string name, std::string help,
                                   const consensus::DurationHistogram& h) {
  prometheus::MetricFamily family = Family(std::move(name), std::move(help), MetricType::Histogram);
  family.metric.push_back(HistogramMetric(h));
  return family;
}

}  // namespace

std::vector<prometheus::MetricFamily> ConsensusMetrics::Collect() const {
  const consensus::NodeMetrics m = node_.metrics();
  const raft::Status& s = m.status;
  std::vector<prometheus::MetricFamily> out;
  const std::string p = "aurigraph_refserver_consensus_";
  AddFamily(out, p + "term", "Raft term this node is in.", MetricType::Gauge,
            static_cast<double>(s.term));
  AddFamily(out, p + "commit_index", "Highest log index known committed.", MetricType::Gauge,
            static_cast<double>(s.commit));
  AddFamily(out, p + "applied_index", "Highest log index applied to the transaction store.",
            MetricType::Gauge, static_cast<double>(s.applied));
  AddFamily(out, p + "last_index", "Last index of this node's log.", MetricType::Gauge,
            static_cast<double>(s.last_index));
  AddFamily(out, p + "snapshot_index", "Index the log is compacted through.", MetricType::Gauge,
            static_cast<double>(s.snapshot_index));
  AddFamily(out, p + "is_leader", "1 while this node is the leader.", MetricType::Gauge,
            s.role == raft::Role::kLeader ? 1 : 0);
  AddFamily(out, p + "has_leader", "1 while this node knows a leader of its term.",
            MetricType::Gauge, s.leader != raft::kNoNode ? 1 : 0);
  AddFamily(out, p + "elections_total", "Campaigns this node started.", MetricType::Counter,
            static_cast<double>(m.elections));
  AddFamily(out, p + "leader_changes_total", "Times the leader this node knows changed.",
            MetricType::Counter, static_cast<double>(m.leader_changes));
  AddFamily(out, p + "snapshots_total", "Snapshots taken here or installed from the leader.",
            MetricType::Counter, static_cast<double>(m.snapshots));
  AddFamily(out, p + "entries_appended_total", "Log entries persisted.", MetricType::Counter,
            static_cast<double>(m.entries_appended));
  AddFamily(out, p + "commands_applied_total", "Commands applied (many per batched entry).",
            MetricType::Counter, static_cast<double>(m.commands_applied));
  auto match = Family(p + "peer_match_index",
                      "On the leader: the last index each follower matches.", MetricType::Gauge);
  auto lag = Family(p + "peer_lag_entries", "On the leader: entries each follower is behind.",
                    MetricType::Gauge);
  auto active = Family(p + "peer_active",
                       "On the leader: 1 if the follower answered within the election timeout.",
                       MetricType::Gauge);
  for (const raft::PeerProgress& peer : m.peers) {
    if (peer.id == members_.self()) continue;
    const metrics::LabelPairs labels = {{"peer", members_.name(peer.id)}};
    AddSample(match, static_cast<double>(peer.match), labels);
    AddSample(lag, static_cast<double>(s.last_index > peer.match ? s.last_index - peer.match : 0),
              labels);
    AddSample(active, peer.active ? 1 : 0, labels);
  }
  out.push_back(std::move(match));
  out.push_back(std::move(lag));
  out.push_back(std::move(active));
  out.push_back(Histogram(
      p + "commit_latency_seconds",
      "On the leader: a proposal's wait until its entry was committed and applied.", m.commit));
  out.push_back(
      Histogram(p + "fsync_seconds", "Synced writes of the Raft log, one per Ready.", m.fsync));
  out.push_back(Histogram(p + "snapshot_seconds",
                          "Snapshots taken here: the state machine's copy and the log compacted.",
                          m.snapshot));
  const consensus::GrpcPeerTransport::RoundTrips trips = transport_.round_trips();
  auto round_trips = Family(
      p + "peer_rpc_seconds",
      "Round trips of the RPCs this node sent to peers that answered, from the send to the reply "
      "a peer gives once it has persisted the entries or its vote (Heartbeat: AppendEntries "
      "without entries).",
      MetricType::Histogram);
  auto failures = Family(p + "peer_rpc_failures_total",
                         "RPCs this node sent to peers that failed or got no answer in time.",
                         MetricType::Counter);
  for (const auto& [rpc, h, failed] :
       {std::tuple{"AppendEntries", &trips.append_entries, trips.append_entries_failed},
        std::tuple{"Heartbeat", &trips.heartbeat, trips.heartbeat_failed},
        std::tuple{"RequestVote", &trips.request_vote, trips.request_vote_failed}}) {
    prometheus::ClientMetric metric = HistogramMetric(*h);
    metric.label.push_back({"rpc", rpc});
    round_trips.metric.push_back(std::move(metric));
    AddSample(failures, static_cast<double>(failed), {{"rpc", rpc}});
  }
  out.push_back(std::move(round_trips));
  out.push_back(std::move(failures));
  return out;
}

}  // namespace aurigraph::refserver
