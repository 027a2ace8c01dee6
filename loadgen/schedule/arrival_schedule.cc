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
      rng_(seed) {}

int64_t ArrivalSchedule::Next() {
  if (process_ == ArrivalProcess::kConstant) {
    // Computed from the index, not accumulated, so rounding never drifts.
    const double global_index =
        static_cast<double>(issued_++) * worker_count_ + static_cast<double>(worker_index_);
    return total_rate_.TimeOfArea(global_index);
  }
  // Up to this worker's next arrival of the run's sequence: the (w+1)-th first,
  // then every W-th.
  std::uniform_real_distribution<double> uniform(0.0, 1.0);
  const int gaps = issued_++ == 0 ? worker_index_ + 1 : worker_count_;
  for (int i = 0; i < gaps; ++i) poisson_area_ += -std::log1p(-uniform(rng_));
  return total_rate_.TimeOfArea(poisson_area_);
}

}  // namespace aurigraph::loadgen
