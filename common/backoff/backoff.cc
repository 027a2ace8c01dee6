#include "common/backoff/backoff.h"

#include <algorithm>
#include <cmath>

namespace aurigraph {

int64_t Backoff::After(int failures) const {
  const double wait =
      static_cast<double>(first_nanos) * std::pow(multiplier, std::max(failures - 1, 0));
  return wait >= static_cast<double>(max_nanos) ? max_nanos : static_cast<int64_t>(wait);
}

int64_t Backoff::After(int failures, double jitter, std::mt19937_64& random) const {
  const auto wait = static_cast<double>(After(failures));
  return static_cast<int64_t>(
      wait * std::uniform_real_distribution<double>(1 - jitter, 1 + jitter)(random));
}

}  // namespace aurigraph
