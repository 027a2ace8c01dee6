#include "loadgen/schedule/arrival_schedule.h"

#include <cmath>

namespace aurigraph::loadgen {

ArrivalSchedule::ArrivalSchedule(double total_rate, ArrivalProcess process, int worker_index,
                                 int worker_count, uint64_t seed)
    : total_rate_(total_rate),
      process_(process),
      worker_index_(worker_index),
      worker_count_(worker_count),
      rng_(seed ^ (0x9e3779b97f4a7c15ULL * static_cast<uint64_t>(worker_index + 1))) {}

int64_t ArrivalSchedule::Next() {
  if (process_ == ArrivalProcess::kConstant) {
    // Computed from the index, not accumulated, so rounding never drifts.
    const double global_index =
        static_cast<double>(issued_++) * worker_count_ + static_cast<double>(worker_index_);
    return static_cast<int64_t>(global_index * 1e9 / total_rate_);
  }
  std::uniform_real_distribution<double> uniform(0.0, 1.0);
  const double per_worker_rate = total_rate_ / worker_count_;
  poisson_offset_nanos_ += -std::log1p(-uniform(rng_)) / per_worker_rate * 1e9;
  ++issued_;
  return static_cast<int64_t>(poisson_offset_nanos_);
}

}  // namespace aurigraph::loadgen
