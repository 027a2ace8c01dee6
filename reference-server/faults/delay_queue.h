// Runs tasks at a release time on the steady clock: the fault injector's held
// responses. gRPC's own timers (grpc::Alarm) fire on a millisecond grid, too
// coarse for ground truth measured in microseconds; a condition variable wakes
// within tens of microseconds.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <queue>
#include <thread>
#include <vector>

#include "common/clock/clock.h"

namespace aurigraph::refserver {

class DelayQueue {
 public:
  explicit DelayQueue(const Clock& clock);
  // Runs every task still held, then stops.
  ~DelayQueue();

  void Schedule(int64_t release_at_nanos, std::function<void()> task);
  // Responses held now.
  size_t held() const;

 private:
  struct Held {
    int64_t release_at_nanos;
    uint64_t sequence;
    std::function<void()> task;
    bool operator>(const Held& other) const;
  };
  void Loop();

  const Clock& clock_;
  mutable std::mutex mutex_;
  std::condition_variable wake_;
  std::priority_queue<Held, std::vector<Held>, std::greater<>> pending_;
  uint64_t sequence_ = 0;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace aurigraph::refserver
