// What follows a run interval by interval while it goes: metrics exporters,
// interval logs, the progress line. Called on the timeline collector's thread
// (never a worker's), once every worker has passed the interval.
#pragma once

#include "loadgen/recorder/interval_timeline.h"
#include "loadgen/result/run_description.h"
#include "loadgen/result/run_result.h"

namespace aurigraph::loadgen {

class IntervalObserver {
 public:
  virtual ~IntervalObserver() = default;
  virtual void OnRunStart(const RunDescription& run) = 0;
  // `slice` holds the interval's histograms; `point` its figures and process samples.
  virtual void OnInterval(const IntervalSlice& slice, const TimelinePoint& point) = 0;
  // A scheduled event (the scenario's events:) started or finished, between intervals.
  virtual void OnEvent(const EventResult& /*event*/) {}
  // After the last interval.
  virtual void OnRunEnd(const RunEnd& /*end*/) {}
};

}  // namespace aurigraph::loadgen
