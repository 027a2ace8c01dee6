// What follows a run interval by interval while it goes: metrics exporters,
// interval logs, the progress line. Called on the timeline collector's thread
// (never a worker's), once every worker has passed the interval.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "loadgen/recorder/interval_timeline.h"
#include "loadgen/result/run_result.h"

namespace aurigraph::loadgen {

struct IntervalOperationInfo {
  std::string name;
  std::string rpc;
  bool streaming = false;  // counts are messages received, not completed requests
  std::string kind;        // "unary", "server_streaming", "client_streaming", "bidi_streaming"
};

struct IntervalRunInfo {
  int64_t start_unix_nanos = 0;
  int64_t interval_nanos = 0;
  int64_t duration_nanos = 0;                     // planned; 0 = a request budget
  double target_rate = 0;                         // open loop; 0 otherwise
  std::vector<IntervalOperationInfo> operations;  // the timeline's, in order
};

class IntervalObserver {
 public:
  virtual ~IntervalObserver() = default;
  virtual void OnRunStart(const IntervalRunInfo& run) = 0;
  // `slice` holds the interval's histograms; `point` its figures and process samples.
  virtual void OnInterval(const IntervalSlice& slice, const TimelinePoint& point) = 0;
};

}  // namespace aurigraph::loadgen
