// The server's limits at work, as Prometheus metrics read at scrape time:
// unary calls in flight and shed by load shedding (admission/call_gate.h),
// and connections closed for abusing their streams (connections/).
#pragma once

#include <prometheus/collectable.h>

#include <vector>

#include "reference-server/admission/call_gate.h"
#include "reference-server/connections/connection_guard.h"

namespace aurigraph::refserver {

class LimitMetrics : public prometheus::Collectable {
 public:
  LimitMetrics(const CallGate& gate, const GuardCounters& guard) : gate_(gate), guard_(guard) {}
  std::vector<prometheus::MetricFamily> Collect() const override;

 private:
  const CallGate& gate_;
  const GuardCounters& guard_;
};

}  // namespace aurigraph::refserver
