// Exponential backoff: how long to wait before trying again after failures
// in a row, growing by `multiplier` per failure up to `max_nanos`. The
// jittered form spreads the wait, so clients that failed together (every
// stream of a dead target, every connection of a restarted server) do not
// all come back at once. Randomness is passed in, so schedules are checked
// exactly.
#pragma once

#include <cstdint>
#include <random>

namespace aurigraph {

struct Backoff {
  int64_t first_nanos = 1'000'000'000;
  int64_t max_nanos = 120'000'000'000;
  double multiplier = 2;

  // The wait after `failures` failures in a row (1: after the first).
  int64_t After(int failures) const;
  // The same, drawn uniformly within +-`jitter` of it (0.2: 80% to 120%).
  int64_t After(int failures, double jitter, std::mt19937_64& random) const;
};

}  // namespace aurigraph
