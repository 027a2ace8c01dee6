#include "reference-server/metrics/storage_metrics.h"

#include "common/metrics/families.h"

namespace aurigraph::refserver {

std::vector<prometheus::MetricFamily> StorageMetrics::Collect() const {
  using metrics::AddFamily;
  using metrics::AddSample;
  using prometheus::MetricType;
  const auto read = [](const std::atomic<int64_t>& c) {
    return static_cast<double>(c.load(std::memory_order_relaxed));
  };
  const KvStore::Counters& c = store_.counters();
  std::vector<prometheus::MetricFamily> out;
  out.push_back(metrics::Family("aurigraph_refserver_storage_operations_total",
                                "StorageService operations that succeeded or missed, by kind.",
                                MetricType::Counter));
  AddSample(out.back(), read(c.puts), {{"operation", "put"}});
  AddSample(out.back(), read(c.gets), {{"operation", "get"}});
  AddSample(out.back(), read(c.deletes), {{"operation", "delete"}});
  AddSample(out.back(), read(c.scans), {{"operation", "scan"}});
  AddFamily(out, "aurigraph_refserver_storage_get_misses_total",
            "Gets that found no live value (missing, deleted, expired or not kept).",
            MetricType::Counter, read(c.get_misses));
  AddFamily(out, "aurigraph_refserver_storage_keys", "Keys held, their history included.",
            MetricType::Gauge, static_cast<double>(store_.keys_held()));
  AddFamily(out, "aurigraph_refserver_storage_value_bytes",
            "Value bytes held, every version kept counted.", MetricType::Gauge,
            static_cast<double>(store_.bytes_held()));
  out.push_back(metrics::Family("aurigraph_refserver_storage_refused_total",
                                "Writes refused with RESOURCE_EXHAUSTED, by the bound reached.",
                                MetricType::Counter));
  AddSample(out.back(), read(c.refused_keys), {{"bound", "keys"}});
  AddSample(out.back(), read(c.refused_bytes), {{"bound", "bytes"}});
  AddFamily(out, "aurigraph_refserver_storage_keys_purged_total",
            "Keys forgotten after being deleted or expired for the retention.", MetricType::Counter,
            read(c.purged));
  return out;
}

}  // namespace aurigraph::refserver
