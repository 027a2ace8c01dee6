// Time source injected wherever time matters, so schedules, recorders and the
// reference server's fault injection can be driven deterministically in tests.
#pragma once

#include <atomic>
#include <cstdint>

namespace aurigraph {

// Monotonic nanoseconds; the epoch is arbitrary but fixed for the process.
class Clock {
 public:
  virtual ~Clock() = default;
  virtual int64_t NowNanos() const = 0;
};

// std::chrono::steady_clock.
class SteadyClock final : public Clock {
 public:
  int64_t NowNanos() const override;
  static const SteadyClock& Instance();
};

// Wall-clock nanoseconds since the Unix epoch, for timestamps that cross processes.
class WallClock final : public Clock {
 public:
  int64_t NowNanos() const override;
  static const WallClock& Instance();
};

// A clock that only moves when told to; safe to read from several threads.
class ManualClock final : public Clock {
 public:
  explicit ManualClock(int64_t start_nanos = 0) : now_(start_nanos) {}
  int64_t NowNanos() const override { return now_.load(std::memory_order_acquire); }
  void Advance(int64_t nanos) { now_.fetch_add(nanos, std::memory_order_acq_rel); }
  void Set(int64_t nanos) { now_.store(nanos, std::memory_order_release); }

 private:
  std::atomic<int64_t> now_;
};

// WallClock::Instance().NowNanos().
int64_t UnixNanosNow();

// Linux lets a sleeping thread wake up to 50 us late by default (its timer
// slack), to batch wake-ups; a generator's sends are due at exact times. Asks
// for 1 ns of slack for the calling thread's sleeps and timed waits, once.
void UseExactTimers();

}  // namespace aurigraph
