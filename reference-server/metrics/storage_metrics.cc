#include "reference-server/metrics/storage_metrics.h"

#include "common/metrics/families.h"

namespace aurigraph::refserver {

std::vector<prometheus::MetricFamily> StorageMetrics::Collect() const {
  using metrics::AddFamily;
  using metrics::AddSample;
  using prometheus::MetricType;
  const KvStore::Counters& c = store_.counters();
  std::vector<prometheus::MetricFamily> out;
  out.push_back(metrics::Family("aurigraph_refserver_storage_operations_total",
                                "StorageService operations that succeeded or missed, by kind.",
                                MetricType::Counter));
  AddSample(out.back(), metrics::Read(c.puts), {{"operation", "put"}});
  AddSample(out.back(), metrics::Read(c.gets), {{"operation", "get"}});
  AddSample(out.back(), metrics::Read(c.deletes), {{"operation", "delete"}});
  AddSample(out.back(), metrics::Read(c.scans), {{"operation", "scan"}});
  AddFamily(out, "aurigraph_refserver_storage_get_misses_total",
            "Gets that found no live value (missing, deleted, expired or not kept).",
            MetricType::Counter, metrics::Read(c.get_misses));
  AddFamily(out, "aurigraph_refserver_storage_keys", "Keys held, their history included.",
            MetricType::Gauge, static_cast<double>(store_.keys_held()));
  AddFamily(out, "aurigraph_refserver_storage_stored_bytes",
            "Bytes held as stored (keys, version headers and values of every version kept), "
            "before compression.",
            MetricType::Gauge, static_cast<double>(store_.bytes_held()));
  out.push_back(metrics::Family("aurigraph_refserver_storage_refused_total",
                                "Writes refused with RESOURCE_EXHAUSTED, by the bound reached.",
                                MetricType::Counter));
  AddSample(out.back(), metrics::Read(c.refused_keys), {{"bound", "keys"}});
  AddSample(out.back(), metrics::Read(c.refused_bytes), {{"bound", "bytes"}});
  AddFamily(out, "aurigraph_refserver_storage_keys_purged_total",
            "Keys forgotten after being deleted or expired for the retention.", MetricType::Counter,
            metrics::Read(c.purged));
  return out;
}

}  // namespace aurigraph::refserver
