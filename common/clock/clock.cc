#include "common/clock/clock.h"

#include <sys/prctl.h>

#include <chrono>

namespace aurigraph {

int64_t SteadyClock::NowNanos() const {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

const SteadyClock& SteadyClock::Instance() {
  static const SteadyClock clock;
  return clock;
}

int64_t WallClock::NowNanos() const { return UnixNanosNow(); }

const WallClock& WallClock::Instance() {
  static const WallClock clock;
  return clock;
}

void UseExactTimers() {
  thread_local const bool set = prctl(PR_SET_TIMERSLACK, 1UL, 0UL, 0UL, 0UL) == 0;
  (void)set;
}

int64_t UnixNanosNow() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace aurigraph
