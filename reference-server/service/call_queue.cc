#include "reference-server/service/call_queue.h"

#include <utility>

namespace aurigraph::refserver {

CallQueue::CallQueue(size_t threads, size_t bound) : bound_(bound) {
  for (size_t i = 0; i < threads; ++i) threads_.emplace_back([this] { Work(); });
}

CallQueue::~CallQueue() {
  {
    std::lock_guard lock(mutex_);
    closing_ = true;
  }
  wake_.notify_all();
  for (std::thread& t : threads_) t.join();
  for (Task& task : tasks_) task(false);
}

bool CallQueue::Push(Task task) {
  {
    std::lock_guard lock(mutex_);
    if (closing_ || tasks_.size() >= bound_) return false;
    tasks_.push_back(std::move(task));
  }
  wake_.notify_one();
  return true;
}

void CallQueue::Work() {
  for (;;) {
    Task task;
    {
      std::unique_lock lock(mutex_);
      wake_.wait(lock, [this] { return closing_ || !tasks_.empty(); });
      if (closing_) return;
      task = std::move(tasks_.front());
      tasks_.pop_front();
    }
    task(true);
  }
}

}  // namespace aurigraph::refserver
