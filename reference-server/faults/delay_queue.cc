#include "reference-server/faults/delay_queue.h"

#include <tuple>

namespace aurigraph::refserver {

bool DelayQueue::Held::operator>(const Held& other) const {
  return std::tie(release_at_nanos, sequence) > std::tie(other.release_at_nanos, other.sequence);
}

DelayQueue::DelayQueue(const Clock& clock) : clock_(clock), thread_([this] { Loop(); }) {}

DelayQueue::~DelayQueue() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_one();
  thread_.join();
}

void DelayQueue::Schedule(int64_t release_at_nanos, std::function<void()> task) {
  {
    std::lock_guard lock(mutex_);
    pending_.push(Held{release_at_nanos, sequence_++, std::move(task)});
  }
  wake_.notify_one();
}

void DelayQueue::Loop() {
  std::unique_lock lock(mutex_);
  for (;;) {
    if (pending_.empty()) {
      if (stopping_) return;
      wake_.wait(lock);
      continue;
    }
    const int64_t wait = pending_.top().release_at_nanos - clock_.NowNanos();
    if (wait > 0 && !stopping_) {
      wake_.wait_for(lock, std::chrono::nanoseconds(wait));
      continue;
    }
    std::function<void()> task = std::move(const_cast<Held&>(pending_.top()).task);
    pending_.pop();
    lock.unlock();
    task();
    lock.lock();
  }
}

size_t DelayQueue::held() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return pending_.size();
}

}  // namespace aurigraph::refserver
