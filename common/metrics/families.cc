#include "common/metrics/families.h"

namespace aurigraph::metrics {

prometheus::MetricFamily Family(std::string name, std::string help, prometheus::MetricType type) {
  prometheus::MetricFamily family;
  family.name = std::move(name);
  family.help = std::move(help);
  family.type = type;
  return family;
}

void AddSample(prometheus::MetricFamily& family, double value, const LabelPairs& labels) {
  prometheus::ClientMetric metric;
  for (const auto& [name, label_value] : labels) metric.label.push_back({name, label_value});
  switch (family.type) {
    case prometheus::MetricType::Counter:
      metric.counter.value = value;
      break;
    case prometheus::MetricType::Gauge:
      metric.gauge.value = value;
      break;
    default:
      metric.untyped.value = value;
      break;
  }
  family.metric.push_back(std::move(metric));
}

void AddFamily(std::vector<prometheus::MetricFamily>& out, std::string name, std::string help,
               prometheus::MetricType type, double value) {
  out.push_back(Family(std::move(name), std::move(help), type));
  AddSample(out.back(), value);
}

}  // namespace aurigraph::metrics
