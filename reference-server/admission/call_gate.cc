#include "reference-server/admission/call_gate.h"

namespace aurigraph::refserver {

bool CallGate::TryEnter(const std::string& connection) {
  std::lock_guard lock(mutex_);
  const int64_t total = in_flight_.load(std::memory_order_relaxed);
  if (total >= 2 * limit_) {
    refused_.fetch_add(1, std::memory_order_relaxed);
    return false;
  }
  if (total >= limit_) {
    const auto found = by_connection_.find(connection);
    const int64_t held = found == by_connection_.end() ? 0 : found->second;
    // Connections holding calls, this one included.
    const int64_t holders = by_connection_.size() + (held == 0 ? 1 : 0);
    if (held >= limit_ / holders) {
      refused_.fetch_add(1, std::memory_order_relaxed);
      return false;
    }
  }
  ++by_connection_[connection];
  in_flight_.store(total + 1, std::memory_order_relaxed);
  return true;
}

void CallGate::Leave(const std::string& connection) {
  std::lock_guard lock(mutex_);
  const auto found = by_connection_.find(connection);
  if (found == by_connection_.end()) return;
  if (--found->second == 0) by_connection_.erase(found);
  in_flight_.fetch_sub(1, std::memory_order_relaxed);
}

}  // namespace aurigraph::refserver
