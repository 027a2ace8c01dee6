// How much earlier than a send an open-loop worker asks to be woken. A sleeping
// timer wakes late by a fairly steady amount (50-80 us on a virtual machine,
// whatever the timer slack), so asking that much earlier and polling the rest
// of the way puts the send near its time at the cost of a short poll, instead
// of every send being as late as a wake-up. The lead follows the running
// median of the lateness seen: half the wake-ups come before the send and poll
// for a few microseconds, half come after it by a few; a stall (a wake-up more
// than kMaxNanos later than the lead) moves it by 1 us. Pure: the worker
// measures, this only keeps the figure.
#pragma once

#include <cstdint>

namespace aurigraph::loadgen {

class WakeLead {
 public:
  // The most the lead grows to: lateness beyond it is a loaded machine, not a
  // timer, and polling that long before every send would load it more.
  static constexpr int64_t kMaxNanos = 100'000;

  // A sleep that was asked to end at some time ended `late_nanos` after it
  // (negative: before).
  void Observe(int64_t late_nanos);
  // How long before a send to ask to be woken, in [0, kMaxNanos].
  int64_t nanos() const { return lead_nanos_; }

 private:
  // Moves by kBaseStepNanos, doubling while the lateness stays on the same side
  // of the lead (so a lead far off is reached in a few sleeps), up to
  // kMaxStepNanos; a stall moves it by kBaseStepNanos.
  static constexpr int64_t kBaseStepNanos = 1'000;
  static constexpr int64_t kMaxStepNanos = 32'000;
  int64_t lead_nanos_ = 0;
  int64_t step_nanos_ = kBaseStepNanos;
  int last_side_ = 0;  // +1: the last lateness was above the lead; -1: below
};

}  // namespace aurigraph::loadgen
