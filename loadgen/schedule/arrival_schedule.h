// When requests are due in an open-loop run. Each worker owns one schedule for
// its share of the total rate; the intended send times it returns are what
// latency is measured from, so a stall cannot hide requests that were due.
#pragma once

#include <cstdint>
#include <random>

#include "loadgen/interfaces/load_model.h"
#include "loadgen/schedule/load_profile.h"

namespace aurigraph::loadgen {

class ArrivalSchedule {
 public:
  // `total_rate` requests/second (a profile of them over the run) across
  // `worker_count` workers. Worker w sends the w-th, (w+W)-th, ... request of
  // the run's one sequence of arrivals, so the workers' schedules together are
  // exactly the one-worker schedule, however many threads and processes share
  // it. Constant: the k-th is due when the area under the rate reaches k.
  // Poisson: a Poisson process in that area drawn from `seed` alone, which
  // every worker walks whole (W draws per request it sends) to take its own.
  ArrivalSchedule(LoadProfile total_rate, ArrivalProcess process, int worker_index,
                  int worker_count, uint64_t seed);
  ArrivalSchedule(double total_rate, ArrivalProcess process, int worker_index, int worker_count,
                  uint64_t seed)
      : ArrivalSchedule(LoadProfile::Constant(total_rate), process, worker_index, worker_count,
                        seed) {}

  // Offset from the start of the run, in nanoseconds, of the next intended send
  // (LoadProfile::kNever when none is ever due). Non-decreasing.
  int64_t Next();

 private:
  LoadProfile total_rate_;
  ArrivalProcess process_;
  int worker_index_;
  int worker_count_;
  uint64_t issued_ = 0;
  double poisson_area_ = 0;
  std::mt19937_64 rng_;
};

}  // namespace aurigraph::loadgen
