// Internal to the transport component: completion-queue helpers shared by the
// unary and the streaming transports.
#pragma once

#include <grpcpp/alarm.h>
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "common/clock/clock.h"
#include "loadgen/interfaces/transport.h"

namespace aurigraph::loadgen {

inline gpr_timespec AfterNanos(int64_t nanos) {
  return gpr_time_add(gpr_now(GPR_CLOCK_MONOTONIC), gpr_time_from_nanos(nanos, GPR_TIMESPAN));
}

// One generic stub per channel.
inline std::vector<std::unique_ptr<grpc::GenericStub>> MakeStubs(
    const std::vector<std::shared_ptr<grpc::Channel>>& channels) {
  std::vector<std::unique_ptr<grpc::GenericStub>> stubs;
  for (const auto& channel : channels)
    stubs.push_back(std::make_unique<grpc::GenericStub>(channel));
  return stubs;
}

// Adds request metadata to a call about to start.
inline void AddHeaders(grpc::ClientContext& context, std::span<const Header> headers) {
  for (const Header& header : headers) {
    context.AddMetadata(std::string(header.key), std::string(header.value));
  }
}

// Shuts `queue` down and discards what is left on it; its calls must be over.
inline void ShutdownAndDrain(grpc::CompletionQueue& queue) {
  queue.Shutdown();
  void* tag;
  bool ok;
  while (queue.Next(&tag, &ok)) {
  }
}

// Copies a received message into `out` (reused), through `slices` (reused).
inline void FlattenByteBuffer(const grpc::ByteBuffer& buffer, std::vector<grpc::Slice>& slices,
                              std::string* out) {
  out->clear();
  slices.clear();
  if (!buffer.Dump(&slices).ok()) return;
  for (const grpc::Slice& slice : slices) {
    out->append(reinterpret_cast<const char*>(slice.begin()), slice.size());
  }
}

// Sleeps `nanos` with exact timers.
inline void SleepNanos(int64_t nanos) {
  UseExactTimers();
  std::this_thread::sleep_for(std::chrono::nanoseconds(nanos));
}

// Wakes a completion queue at a precise time. A completion queue's own timeout
// is rounded to whole milliseconds, which would make every open-loop send up to
// 1 ms late; instead a helper thread sleeps on the steady clock (tens of us of
// slack) and then posts an already-expired alarm, which wakes the queue at once.
// Each wake-up costs CPU (on a virtual machine, more than the call itself), so
// the helper is woken only when it must wake earlier than it already will: a
// later time or the same one again (the common case: a completion came first)
// only moves its target, and it goes back to sleep if it wakes too early.
class QueueKicker {
 public:
  explicit QueueKicker(grpc::CompletionQueue& queue) : queue_(queue), thread_([this] { Loop(); }) {}
  ~QueueKicker() {
    {
      std::lock_guard lock(mutex_);
      stopping_ = true;
    }
    changed_.notify_one();
    thread_.join();
  }

  static void* Tag() { return reinterpret_cast<void*>(~uintptr_t{0}); }

  // Kicks the queue at `when` (replacing the time set before, if it has not come).
  void ArmAt(std::chrono::steady_clock::time_point when) {
    bool sooner;
    {
      std::lock_guard lock(mutex_);
      // The same time asked again comes back a few us off (it is read as a
      // timeout from now): within kSameTime it is not worth a wake-up.
      sooner = !armed_ || when + kSameTime < when_;
      armed_ = true;
      when_ = when;
    }
    if (sooner) changed_.notify_one();
  }
  // Withdraws the time set, if it has not come; the helper is not woken for
  // it (it wakes at that time anyway, and goes back to sleep).
  void Disarm() {
    std::lock_guard lock(mutex_);
    armed_ = false;
  }
  // Called by the queue's owner when it took the kick off the queue.
  void Consumed() {
    bool armed;
    {
      std::lock_guard lock(mutex_);
      in_queue_ = false;
      armed = armed_;
    }
    if (armed) changed_.notify_one();  // it was armed again while its kick waited
  }

 private:
  void Loop() {
    UseExactTimers();
    std::unique_lock lock(mutex_);
    while (!stopping_) {
      if (!armed_ || in_queue_) {
        changed_.wait(lock);
        continue;
      }
      if (std::chrono::steady_clock::now() < when_) {
        changed_.wait_until(lock, when_);
        continue;
      }
      armed_ = false;
      in_queue_ = true;
      alarm_.Set(&queue_, gpr_inf_past(GPR_CLOCK_MONOTONIC), Tag());
    }
  }

  static constexpr std::chrono::microseconds kSameTime{5};
  grpc::CompletionQueue& queue_;
  grpc::Alarm alarm_;
  std::mutex mutex_;
  std::condition_variable changed_;
  bool armed_ = false;
  bool in_queue_ = false;
  bool stopping_ = false;
  std::chrono::steady_clock::time_point when_;
  std::thread thread_;
};

// A completion queue's timeout ends up to 2.2 ms late here (it is rounded to
// milliseconds twice); a wait that long before its time can use it alone.
inline constexpr int64_t kQueueTimeoutSlackNanos = 3'000'000;

// Waits on `queue` for at most `timeout_nanos` with the kicker's precision.
// Returns the tag, or nullptr on timeout or a kick. A kick set for an earlier
// wait may still come (it is not withdrawn, see QueueKicker): it reads as an
// early timeout, after which the caller looks at the time and waits again.
// Each wake-up of the kicker's helper costs as much CPU as a call, so it is
// used only for what it alone can do: with nothing `pending` on the queue no
// tag can come, and the caller sleeps on the clock itself; a long wait first
// blocks on the queue's own timeout until kQueueTimeoutSlackNanos before its
// end, which is where most tags come at low rates.
inline void* AwaitTag(grpc::CompletionQueue& queue, QueueKicker& kicker, int64_t timeout_nanos,
                      bool pending, bool* ok) {
  if (timeout_nanos > 0 && !pending) {
    kicker.Disarm();
    SleepNanos(timeout_nanos);
    return nullptr;
  }
  void* tag = nullptr;
  const auto taken = [&] {
    if (tag != QueueKicker::Tag()) return tag;
    kicker.Consumed();
    return static_cast<void*>(nullptr);
  };
  if (timeout_nanos > kQueueTimeoutSlackNanos) {
    kicker.Disarm();
    const auto start = std::chrono::steady_clock::now();
    if (queue.AsyncNext(&tag, ok, AfterNanos(timeout_nanos - kQueueTimeoutSlackNanos)) ==
        grpc::CompletionQueue::GOT_EVENT) {
      return taken();
    }
    timeout_nanos -= std::chrono::duration_cast<std::chrono::nanoseconds>(
                         std::chrono::steady_clock::now() - start)
                         .count();
  }
  gpr_timespec deadline = gpr_inf_past(GPR_CLOCK_MONOTONIC);
  if (timeout_nanos > 0) {
    kicker.ArmAt(std::chrono::steady_clock::now() + std::chrono::nanoseconds(timeout_nanos));
    // The queue's own timeout only backs up the kicker.
    deadline = AfterNanos(timeout_nanos + 5'000'000);
  }
  if (queue.AsyncNext(&tag, ok, deadline) != grpc::CompletionQueue::GOT_EVENT) return nullptr;
  return taken();
}

}  // namespace aurigraph::loadgen
