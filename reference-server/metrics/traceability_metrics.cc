#include "reference-server/metrics/traceability_metrics.h"

#include "common/metrics/families.h"

namespace aurigraph::refserver {

std::vector<prometheus::MetricFamily> TraceabilityMetrics::Collect() const {
  using metrics::AddFamily;
  using prometheus::MetricType;
  const LinkLog::Counters& c = log_.counters();
  std::vector<prometheus::MetricFamily> out;
  AddFamily(out, "aurigraph_refserver_traceability_links_total",
            "Contract-to-asset links appended to the log.", MetricType::Counter, metrics::Read(c.linked));
  AddFamily(out, "aurigraph_refserver_traceability_links_stored", "Links in the log.",
            MetricType::Gauge, static_cast<double>(log_.size()));
  AddFamily(out, "aurigraph_refserver_traceability_duplicates_total",
            "Links refused with ALREADY_EXISTS: the same contract, asset and relation.",
            MetricType::Counter, metrics::Read(c.duplicates));
  AddFamily(out, "aurigraph_refserver_traceability_refused_total",
            "Links refused with RESOURCE_EXHAUSTED: the log held --traceability-max-links.",
            MetricType::Counter, metrics::Read(c.refused_full));
  AddFamily(out, "aurigraph_refserver_traceability_proofs_total",
            "Merkle inclusion proofs served (one per link in an answer).", MetricType::Counter,
            metrics::Read(c.proofs));
  return out;
}

}  // namespace aurigraph::refserver
