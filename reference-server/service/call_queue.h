// Work that may take a while (a contract call runs up to its gas, or waits for
// another call to the same contract) on threads of its own, not gRPC's: gRPC's
// callback threads serve every other service. Tasks wait in a bounded queue;
// Push refuses one when it is full. With one thread, tasks run in the order
// they were pushed.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace aurigraph::refserver {

class CallQueue {
 public:
  // A task runs with true, or with false when the queue closes before its
  // turn (it must still answer its call).
  using Task = std::function<void(bool run)>;

  CallQueue(size_t threads, size_t bound);
  // Runs no more tasks: the threads finish the ones they hold, and the ones
  // still waiting run with false.
  ~CallQueue();
  CallQueue(const CallQueue&) = delete;
  CallQueue& operator=(const CallQueue&) = delete;

  bool Push(Task task);
  size_t bound() const { return bound_; }

 private:
  void Work();

  const size_t bound_;
  std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<Task> tasks_;
  bool closing_ = false;
  std::vector<std::thread> threads_;
};

}  // namespace aurigraph::refserver
