// The standard process metrics, with the names Prometheus' own client
// libraries use (so existing dashboards work): process_resident_memory_bytes,
// process_virtual_memory_bytes, process_cpu_seconds_total, process_open_fds,
// process_max_fds and process_start_time_seconds. Read from /proc at scrape time.
#pragma once

#include <prometheus/collectable.h>

#include <vector>

namespace aurigraph::metrics {

class ProcessMetrics : public prometheus::Collectable {
 public:
  std::vector<prometheus::MetricFamily> Collect() const override;
};

}  // namespace aurigraph::metrics
