// When a failed webhook delivery is tried again: exponential backoff from an
// initial delay, doubling per attempt up to a cap, at most max_attempts tries
// in all; after the last the delivery is dead-lettered. A pure function of the
// attempt number, so the schedule is checked exactly without waiting.
#pragma once

#include <cstdint>

namespace aurigraph::refserver {

struct RetryPolicy {
  int64_t initial_backoff_nanos = 1'000'000'000;
  double multiplier = 2;
  int64_t max_backoff_nanos = 60'000'000'000;

  // The wait after failed attempt `attempt` (1-based) before the next one.
  int64_t BackoffAfter(int attempt) const;
};

}  // namespace aurigraph::refserver
