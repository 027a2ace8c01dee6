#include "loadgen/driver/wake_lead.h"

#include <algorithm>

namespace aurigraph::loadgen {

void WakeLead::Observe(int64_t late_nanos) {
  if (late_nanos - lead_nanos_ > kMaxNanos) {
    // A stall, not the timer: it counts as one wake-up above the median, and
    // the doubling starts again.
    lead_nanos_ = std::min(lead_nanos_ + kBaseStepNanos, kMaxNanos);
    step_nanos_ = kBaseStepNanos;
    last_side_ = 0;
    return;
  }
  const int side = late_nanos > lead_nanos_ ? 1 : late_nanos < lead_nanos_ ? -1 : 0;
  if (side == 0) return;
  step_nanos_ = side == last_side_ ? std::min(2 * step_nanos_, kMaxStepNanos) : kBaseStepNanos;
  last_side_ = side;
  lead_nanos_ = std::clamp(lead_nanos_ + side * step_nanos_, int64_t{0}, kMaxNanos);
}

}  // namespace aurigraph::loadgen
