// TraceabilityService's link log as Prometheus metrics, read at scrape time:
// links appended and held, duplicates and links refused at the bound, and
// inclusion proofs served.
#pragma once

#include <prometheus/collectable.h>

#include <vector>

#include "reference-server/traceability/link_log.h"

namespace aurigraph::refserver {

class TraceabilityMetrics : public prometheus::Collectable {
 public:
  explicit TraceabilityMetrics(const LinkLog& log) : log_(log) {}
  std::vector<prometheus::MetricFamily> Collect() const override;

 private:
  const LinkLog& log_;
};

}  // namespace aurigraph::refserver
