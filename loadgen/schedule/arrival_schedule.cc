#include "loadgen/schedule/arrival_schedule.h"

#include <cmath>
#include <utility>

namespace aurigraph::loadgen {

ArrivalSchedule::ArrivalSchedule(LoadProfile total_rate, ArrivalProcess process, int worker_index,
                                 int worker_count, uint64_t seed)
    : total_rate_(std::move(total_rate)),
      process_(process),
      worker_index_(worker_index),
      worker_count_(worker_count),
      rng_(seed ^ (0x9e3779b97f4a7c15ULL * static_cast<uint64_t>(worker_index + 1))) {}

int64_t ArrivalSchedule::Next() {
  if (process_ == ArrivalProcess::kConstant) {
    // Computed from the index, not accumulated, so rounding never drifts.
    const double global_index =
        static_cast<double>(issued_++) * worker_count_ + static_cast<double>(worker_index_);
    return total_rate_.TimeOfArea(global_index);
  }
  // This worker's arrivals are 1/worker_count of the area's: exponential gaps
  // of mean worker_count in it.
  std::uniform_real_distribution<double> uniform(0.0, 1.0);
  poisson_area_ += -std::log1p(-uniform(rng_)) * worker_count_;
  ++issued_;
  return total_rate_.TimeOfArea(poisson_area_);
}

}  // namespace aurigraph::loadgen
