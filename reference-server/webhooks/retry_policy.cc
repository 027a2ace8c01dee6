#include "reference-server/webhooks/retry_policy.h"

#include "common/backoff/backoff.h"

namespace aurigraph::refserver {

int64_t RetryPolicy::BackoffAfter(int attempt) const {
  return Backoff{initial_backoff_nanos, max_backoff_nanos, multiplier}.After(attempt);
}

}  // namespace aurigraph::refserver
