// The server's limits at work, as Prometheus metrics read at scrape time:
// unary calls in flight and shed by load shedding (admission/call_gate.h).
#pragma once

#include <prometheus/collectable.h>

#include <vector>

#include "reference-server/admission/call_gate.h"

namespace aurigraph::refserver {

class LimitMetrics : public prometheus::Collectable {
 public:
  explicit LimitMetrics(const CallGate& gate) : gate_(gate) {}
  std::vector<prometheus::MetricFamily> Collect() const override;

 private:
  const CallGate& gate_;
};

}  // namespace aurigraph::refserver
