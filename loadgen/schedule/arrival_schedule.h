// When requests are due in an open-loop run. Each worker owns one schedule for
// its share of the total rate; the intended send times it returns are what
// latency is measured from, so a stall cannot hide requests that were due.
#pragma once

#include <cstdint>
#include <random>

#include "loadgen/interfaces/load_model.h"

namespace aurigraph::loadgen {

class ArrivalSchedule {
 public:
  // `total_rate` requests/second across `worker_count` workers. Constant arrivals
  // interleave the workers exactly (worker w sends the w-th, (w+W)-th, ... request
  // of the global sequence); Poisson arrivals are independent per worker, which
  // sums to a Poisson process at the total rate.
  ArrivalSchedule(double total_rate, ArrivalProcess process, int worker_index, int worker_count,
                  uint64_t seed);

  // Offset from the start of the run, in nanoseconds, of the next intended send.
  // Non-decreasing.
  int64_t Next();

 private:
  double total_rate_;
  ArrivalProcess process_;
  int worker_index_;
  int worker_count_;
  uint64_t issued_ = 0;
  double poisson_offset_nanos_ = 0;
  std::mt19937_64 rng_;
};

}  // namespace aurigraph::loadgen
