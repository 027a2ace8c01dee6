// Load shedding: a bound on the unary calls the server holds at once (from
// the moment its handler runs until its response is released, injected
// latency included), shared fairly between connections.
//
// Under the bound every call is admitted. Beyond it, up to twice the bound, a
// call is admitted only if its connection holds fewer calls than an equal
// share of the bound among the connections that hold any; the rest are
// refused, for the server to answer RESOURCE_EXHAUSTED at once. So one client
// flooding the server is shed while a light client on another connection is
// still served, and the calls held never exceed twice the bound.
#pragma once

#include <atomic>
#include <cstdint>
#include <mutex>
#include <string>
#include <unordered_map>

namespace aurigraph::refserver {

class CallGate {
 public:
  explicit CallGate(int64_t limit) : limit_(limit) {}

  // Admits a call from `connection` (any stable id of it, e.g. the peer
  // address), or refuses it; each admitted call must be left with Leave.
  bool TryEnter(const std::string& connection);
  void Leave(const std::string& connection);

  int64_t limit() const { return limit_; }
  int64_t in_flight() const { return in_flight_.load(std::memory_order_relaxed); }
  int64_t refused() const { return refused_.load(std::memory_order_relaxed); }

 private:
  const int64_t limit_;
  std::mutex mutex_;
  std::unordered_map<std::string, int64_t> by_connection_;  // connections holding calls
  std::atomic<int64_t> in_flight_{0};
  std::atomic<int64_t> refused_{0};
};

}  // namespace aurigraph::refserver
