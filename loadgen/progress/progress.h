// Live progress during a run: elapsed / planned time, the rate of the last
// interval against the target, its p50 and p99, and errors. On a terminal one
// line that updates in place; otherwise a plain line every `every_seconds`
// (for CI logs and 24-hour soaks that are watched with tail).
#pragma once

#include <ostream>

#include "loadgen/histogram/histogram.h"
#include "loadgen/interfaces/interval_observer.h"

namespace aurigraph::loadgen {

class ProgressPrinter : public IntervalObserver {
 public:
  ProgressPrinter(std::ostream& out, bool terminal, double every_seconds = 10);

  void OnRunStart(const RunDescription& run) override;
  void OnInterval(const IntervalSlice& slice, const TimelinePoint& point) override;
  // Ends the updating line (terminal) before the summary is printed.
  void Finish();

 private:
  std::ostream& out_;
  const bool terminal_;
  const double every_seconds_;
  RunDescription run_;
  Histogram merged_;
  double last_printed_ = -1;
  int64_t errors_ = 0;
  int64_t completed_ = 0;
  bool printed_ = false;
};

}  // namespace aurigraph::loadgen
