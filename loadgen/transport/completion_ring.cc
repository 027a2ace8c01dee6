#include "loadgen/transport/completion_ring.h"

#include <linux/futex.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cerrno>

#include "common/clock/clock.h"

namespace aurigraph::loadgen {
namespace {

constexpr int64_t kNanosPerSecond = 1'000'000'000;

void UsePreciseTimers() {
  thread_local bool set = false;
  if (set) return;
  prctl(PR_SET_TIMERSLACK, 1UL, 0UL, 0UL, 0UL);
  set = true;
}

uint32_t* FutexWord(std::atomic<uint32_t>& word) { return reinterpret_cast<uint32_t*>(&word); }

}  // namespace

CompletionRing::CompletionRing(uint32_t capacity)
    : slots_(std::bit_ceil(std::max<uint32_t>(capacity, 1))),
      mask_(static_cast<uint32_t>(slots_.size() - 1)) {}

void CompletionRing::Push(uint32_t slot) {
  const uint32_t pushed = pushed_.load(std::memory_order_relaxed);
  slots_[pushed & mask_] = slot;
  pushed_.store(pushed + 1, std::memory_order_seq_cst);
  // Paired with PopBefore: either it sees this push before it sleeps, or this
  // sees it waiting and wakes it.
  if (owner_waiting_.load(std::memory_order_seq_cst) != 0) {
    syscall(SYS_futex, FutexWord(pushed_), FUTEX_WAKE_PRIVATE, 1, nullptr, nullptr, 0);
  }
}

bool CompletionRing::Pop(uint32_t* slot) {
  if (popped_ == pushed_.load(std::memory_order_acquire)) return false;
  *slot = slots_[popped_ & mask_];
  ++popped_;
  return true;
}

bool CompletionRing::PopBefore(int64_t deadline_nanos, uint32_t* slot) {
  UsePreciseTimers();
  for (;;) {
    if (Pop(slot)) return true;
    const int64_t left = deadline_nanos - SteadyClock::Instance().NowNanos();
    if (left <= 0) return false;
    owner_waiting_.store(1, std::memory_order_seq_cst);
    const uint32_t seen = pushed_.load(std::memory_order_seq_cst);
    if (seen == popped_) {
      const timespec timeout{static_cast<time_t>(left / kNanosPerSecond),
                             static_cast<long>(left % kNanosPerSecond)};
      syscall(SYS_futex, FutexWord(pushed_), FUTEX_WAIT_PRIVATE, seen, &timeout, nullptr, 0);
    }
    owner_waiting_.store(0, std::memory_order_relaxed);
  }
}

void SleepUntil(int64_t deadline_nanos) {
  UsePreciseTimers();
  const timespec until{static_cast<time_t>(deadline_nanos / kNanosPerSecond),
                       static_cast<long>(deadline_nanos % kNanosPerSecond)};
  while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &until, nullptr) == EINTR) {
  }
}

}  // namespace aurigraph::loadgen
