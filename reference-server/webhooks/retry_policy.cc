#include "reference-server/webhooks/retry_policy.h"

#include <algorithm>
#include <cmath>

namespace aurigraph::refserver {

int64_t RetryPolicy::BackoffAfter(int attempt) const {
  const double backoff =
      static_cast<double>(initial_backoff_nanos) * std::pow(multiplier, std::max(attempt - 1, 0));
  return backoff >= static_cast<double>(max_backoff_nanos) ? max_backoff_nanos
                                                           : static_cast<int64_t>(backoff);
}

}  // namespace aurigraph::refserver
