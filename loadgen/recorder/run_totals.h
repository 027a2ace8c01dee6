// The run's figures, merged from its intervals in order: per operation, the
// calls (and messages) of the measured intervals; the stream side and the
// generator over every interval, since they count the whole run and mark what
// is measured themselves. The live run and a run rebuilt from its interval logs
// both add the same intervals here, so they end with the same figures.
#pragma once

#include <cstddef>

#include "loadgen/recorder/interval_timeline.h"

namespace aurigraph::loadgen {

class RunTotals {
 public:
  explicit RunTotals(size_t operation_count);

  // `measured`: the interval ended after warm-up (IntervalTimeline::IsMeasured).
  void Add(const IntervalSlice& slice, bool measured);

  const IntervalOperation& operation(size_t index) const { return totals_.operations[index]; }
  size_t operation_count() const { return totals_.operations.size(); }
  // Every interval: requests sent, their schedule and generator lag, the generator's counts.
  const IntervalSlice& all() const { return totals_; }

 private:
  IntervalSlice totals_;
};

}  // namespace aurigraph::loadgen
