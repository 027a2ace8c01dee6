#include "common/metrics/process_metrics.h"

#include "common/metrics/families.h"
#include "common/process/process_stats.h"

namespace aurigraph::metrics {

std::vector<prometheus::MetricFamily> ProcessMetrics::Collect() const {
  using prometheus::MetricType;
  std::vector<prometheus::MetricFamily> out;
  const std::optional<ProcessStats> stats = ReadProcessStats();
  if (!stats) return out;
  AddFamily(out, "process_cpu_seconds_total", "Total user and system CPU time spent in seconds.",
            MetricType::Counter, stats->cpu_seconds);
  AddFamily(out, "process_resident_memory_bytes", "Resident memory size in bytes.",
            MetricType::Gauge, static_cast<double>(stats->resident_bytes));
  AddFamily(out, "process_virtual_memory_bytes", "Virtual memory size in bytes.", MetricType::Gauge,
            static_cast<double>(stats->virtual_bytes));
  AddFamily(out, "process_start_time_seconds",
            "Start time of the process since unix epoch in seconds.", MetricType::Gauge,
            stats->start_time_seconds);
  if (stats->open_fds >= 0) {
    AddFamily(out, "process_open_fds", "Number of open file descriptors.", MetricType::Gauge,
              static_cast<double>(stats->open_fds));
  }
  if (stats->max_fds >= 0) {
    AddFamily(out, "process_max_fds", "Maximum number of open file descriptors.", MetricType::Gauge,
              static_cast<double>(stats->max_fds));
  }
  return out;
}

}  // namespace aurigraph::metrics
