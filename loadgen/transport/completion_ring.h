// Internal to the transport component: hands finished calls from the thread
// that watches a completion queue to the worker that owns the calls, without a
// lock, and sleeps to the microsecond (a completion queue's own timeout is
// rounded to whole milliseconds).
#pragma once

#include <atomic>
#include <cstdint>
#include <vector>

namespace aurigraph::loadgen {

// One producer (the watching thread), one consumer (the owner of the calls).
// At most `capacity` slots are pushed and not yet popped: a slot is pushed
// once per call, and the owner starts no call in a slot it has not popped.
class CompletionRing {
 public:
  explicit CompletionRing(uint32_t capacity);

  void Push(uint32_t slot);
  bool Pop(uint32_t* slot);
  bool Empty() const { return popped_ == pushed_.load(std::memory_order_acquire); }
  // Pops, waiting until `deadline_nanos` (CLOCK_MONOTONIC, as SteadyClock) for a slot to come.
  bool PopBefore(int64_t deadline_nanos, uint32_t* slot);

 private:
  std::vector<uint32_t> slots_;  // a power of two long
  const uint32_t mask_;
  std::atomic<uint32_t> pushed_{0};
  std::atomic<uint32_t> owner_waiting_{0};
  uint32_t popped_ = 0;  // the owner's
};

// Sleeps until `deadline_nanos` (CLOCK_MONOTONIC, as SteadyClock). The calling thread's timer
// slack is set to 1 ns first (Linux's default 50 us would make every wake-up
// that much later).
void SleepUntil(int64_t deadline_nanos);

}  // namespace aurigraph::loadgen
