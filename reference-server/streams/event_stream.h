// Server streaming for the reference server: an EventHub fans published events
// out to subscribers, and each subscriber is an EventStream (a gRPC callback
// write reactor) with its own bounded queue.
//
// Flow control and overflow: an EventStream writes one message at a time and
// takes the next only when gRPC reports the previous one written (while more
// wait, with a buffer hint, so several go out in one socket write), so a reader
// that does not keep up stops the writes (HTTP/2 flow control) and its events
// wait in its queue. When the queue already holds `queue_bound` events, the
// subscriber is cut off: its queue is dropped and the stream ends with
// RESOURCE_EXHAUSTED. A slow subscriber therefore never holds more than
// `queue_bound` events, never slows the publisher or other subscribers, and
// learns that it missed events instead of silently skipping some (a client
// resubscribes and reads the state it missed). A subscriber that disconnects
// is removed and its queue freed at once.
#pragma once

#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <atomic>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"

namespace aurigraph::refserver {

// What the streaming RPCs did, for tests and operators.
struct StreamCounters {
  std::atomic<int64_t> subscribers{0};          // server streams open now
  std::atomic<int64_t> subscriptions{0};        // server streams opened, ever
  std::atomic<int64_t> events_written{0};       // server-stream messages handed to gRPC to write
  std::atomic<int64_t> overflowed{0};           // subscribers cut off (queue full)
  std::atomic<int64_t> queue_peak{0};           // most events one subscriber had queued
  std::atomic<int64_t> messages_received{0};    // client and bidi stream messages read
  std::atomic<int64_t> replies_written{0};      // bidi stream replies written
  std::atomic<int64_t> client_streams_open{0};  // client and bidi streams open now

  void NotePeak(int64_t queued) {
    int64_t peak = queue_peak.load(std::memory_order_relaxed);
    while (queued > peak && !queue_peak.compare_exchange_weak(peak, queued)) {
    }
  }
};

template <typename Event>
class EventHub {
 public:
  class Subscriber {
   public:
    virtual ~Subscriber() = default;
    virtual void Deliver(const std::shared_ptr<const Event>& event) = 0;
  };

  void Add(std::shared_ptr<Subscriber> subscriber) {
    std::unique_lock lock(mutex_);
    subscribers_.push_back(std::move(subscriber));
    count_.store(static_cast<int64_t>(subscribers_.size()), std::memory_order_release);
  }
  void Remove(const Subscriber* subscriber) {
    std::unique_lock lock(mutex_);
    subscribers_.erase(std::remove_if(subscribers_.begin(), subscribers_.end(),
                                      [&](const auto& s) { return s.get() == subscriber; }),
                       subscribers_.end());
    count_.store(static_cast<int64_t>(subscribers_.size()), std::memory_order_release);
  }
  // Cheap check, so publishers build events only when someone listens.
  bool has_subscribers() const { return count_.load(std::memory_order_acquire) > 0; }
  uint64_t NextSequence() { return sequence_.fetch_add(1, std::memory_order_relaxed) + 1; }

  void Publish(const std::shared_ptr<const Event>& event) {
    std::shared_lock lock(mutex_);
    for (const auto& subscriber : subscribers_) subscriber->Deliver(event);
  }

 private:
  mutable std::shared_mutex mutex_;
  std::vector<std::shared_ptr<Subscriber>> subscribers_;
  std::atomic<int64_t> count_{0};
  std::atomic<uint64_t> sequence_{0};
};

// One subscriber's server stream. `Event` is what the hub publishes, `Message`
// what goes on the wire: `wants` filters events as they are published (so a
// subscriber queues only its own), `render` turns one into the message at the
// moment it is written (stamping the send time).
template <typename Event, typename Message>
class EventStream final : public grpc::ServerWriteReactor<Message> {
 public:
  using Wants = std::function<bool(const Event&)>;
  using Render = std::function<void(const Event&, Message*)>;

  // `backlog` is written first (e.g. a snapshot), outside the bound. With
  // `follow` the stream then carries `hub`'s events until the client leaves;
  // without, it ends (OK) once the backlog is written.
  static EventStream* Open(EventHub<Event>& hub, StreamCounters& counters, size_t queue_bound,
                           Wants wants, Render render,
                           std::deque<std::shared_ptr<const Event>> backlog = {},
                           bool follow = true) {
    auto* stream = new EventStream(hub, counters, queue_bound, std::move(wants), std::move(render));
    {
      std::lock_guard lock(stream->state_->mutex);
      stream->state_->queue = std::move(backlog);
      if (!follow && stream->state_->queue.empty()) stream->state_->finish_wanted = true;
      stream->state_->end_with_backlog = !follow;
    }
    if (follow) hub.Add(stream->state_);
    stream->state_->TryWrite();
    return stream;
  }

 private:
  // The part the hub holds: it outlives the reactor until it is removed from the
  // hub, and touches the reactor only while the stream is not finished.
  struct State final : EventHub<Event>::Subscriber {
    EventStream* stream = nullptr;
    std::mutex mutex;
    std::deque<std::shared_ptr<const Event>> queue;
    size_t bound = 0;
    size_t live = 0;  // queued events counted against the bound (not the backlog)
    bool writing = false;
    bool finished = false;
    bool finish_wanted = false;
    bool end_with_backlog = false;
    grpc::Status finish_status;
    Wants wants;

    void Deliver(const std::shared_ptr<const Event>& event) override {
      if (!wants(*event)) return;
      {
        std::lock_guard lock(mutex);
        if (finished || finish_wanted) return;
        if (live >= bound) {
          queue.clear();
          live = 0;
          finish_wanted = true;
          finish_status = grpc::Status(
              grpc::StatusCode::RESOURCE_EXHAUSTED,
              absl::StrCat("subscriber too slow: ", bound, " events queued; events were dropped"));
          stream->counters_.overflowed.fetch_add(1, std::memory_order_relaxed);
        } else {
          queue.push_back(event);
          ++live;
          stream->counters_.NotePeak(static_cast<int64_t>(live));
        }
      }
      TryWrite();
    }

    // Starts the next write, or finishes, if nothing is in flight.
    void TryWrite() {
      std::shared_ptr<const Event> next;
      bool finish = false;
      bool more = false;
      {
        std::lock_guard lock(mutex);
        if (writing || finished) return;
        if (finish_wanted) {
          finished = true;
          finish = true;
        } else if (!queue.empty()) {
          next = std::move(queue.front());
          queue.pop_front();
          if (live > queue.size()) live = queue.size();
          writing = true;
          more = !queue.empty();
          if (!more && end_with_backlog) finish_wanted = true;
        }
      }
      if (finish) {
        stream->Finish(finish_status);
      } else if (next) {
        stream->render_(*next, &stream->current_);
        // While more events wait, gRPC may hold this one back to send it with
        // them: one socket write for many events, not one each. The last
        // event queued goes without the hint, which sends what was held.
        stream->StartWrite(&stream->current_,
                           more ? grpc::WriteOptions().set_buffer_hint() : grpc::WriteOptions());
      }
    }
  };

  EventStream(EventHub<Event>& hub, StreamCounters& counters, size_t queue_bound, Wants wants,
              Render render)
      : hub_(hub),
        counters_(counters),
        render_(std::move(render)),
        state_(std::make_shared<State>()) {
    state_->stream = this;
    state_->bound = std::max<size_t>(1, queue_bound);
    state_->wants = std::move(wants);
    counters_.subscribers.fetch_add(1, std::memory_order_relaxed);
    counters_.subscriptions.fetch_add(1, std::memory_order_relaxed);
  }

  void OnWriteDone(bool ok) override {
    {
      std::lock_guard lock(state_->mutex);
      state_->writing = false;
      if (!ok && !state_->finish_wanted) {
        state_->finish_wanted = true;
        state_->finish_status = grpc::Status(grpc::StatusCode::CANCELLED, "stream broken");
      }
    }
    if (ok) counters_.events_written.fetch_add(1, std::memory_order_relaxed);
    state_->TryWrite();
  }

  void OnCancel() override {
    {
      std::lock_guard lock(state_->mutex);
      state_->queue.clear();
      state_->live = 0;
      if (!state_->finish_wanted) {
        state_->finish_wanted = true;
        state_->finish_status = grpc::Status::CANCELLED;
      }
    }
    state_->TryWrite();
  }

  void OnDone() override {
    hub_.Remove(state_.get());
    counters_.subscribers.fetch_sub(1, std::memory_order_relaxed);
    delete this;
  }

  EventHub<Event>& hub_;
  StreamCounters& counters_;
  Render render_;
  Message current_;
  std::shared_ptr<State> state_;
};

}  // namespace aurigraph::refserver
