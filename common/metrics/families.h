// Builds Prometheus metric families for collectors that compute their values
// at scrape time (process statistics, counters kept elsewhere), so nothing is
// updated on a request path just to be exported.
#pragma once

#include <prometheus/metric_family.h>

#include <atomic>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace aurigraph::metrics {

using LabelPairs = std::vector<std::pair<std::string, std::string>>;

// One family; add samples with AddSample.
prometheus::MetricFamily Family(std::string name, std::string help, prometheus::MetricType type);
void AddSample(prometheus::MetricFamily& family, double value, const LabelPairs& labels = {});

// A family of one unlabelled sample, appended to `out`.
void AddFamily(std::vector<prometheus::MetricFamily>& out, std::string name, std::string help,
               prometheus::MetricType type, double value);

// A counter kept elsewhere, read for a sample.
inline double Read(const std::atomic<int64_t>& counter) {
  return static_cast<double>(counter.load(std::memory_order_relaxed));
}

}  // namespace aurigraph::metrics
