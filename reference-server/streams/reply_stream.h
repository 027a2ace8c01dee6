// Bidirectional request/reply streams for the reference server: every request
// read gets one reply, given by the handler at once or later (a transaction
// waiting for consensus), then optionally held back by the fault injector. Backpressure
// runs end to end: replies are written one at a time, and the next request is
// read only while fewer than `window` replies are waiting, so a client that
// stops reading replies stops the server reading its requests and, through
// HTTP/2 flow control, its own writes. Memory per stream stays bounded.
// Requests arrive as Decoded<Request> (decoding/decoded_request.h): one that
// could not be decoded ends the stream with its status, after the replies
// already due are written.
#pragma once

#include <grpcpp/grpcpp.h>

#include <deque>
#include <functional>
#include <mutex>

#include "reference-server/decoding/decoded_request.h"
#include "reference-server/faults/delay_queue.h"
#include "reference-server/faults/fault_injector.h"
#include "reference-server/streams/event_stream.h"

namespace aurigraph::refserver {

template <typename Request, typename Reply>
class ReplyStream final : public grpc::ServerBidiReactor<Decoded<Request>, Reply> {
 public:
  // Calls its second argument exactly once with the reply, on any thread.
  using Handler = std::function<void(const Request&, std::function<void(Reply)>)>;

  static ReplyStream* Open(Handler handler, const FaultInjector& faults, DelayQueue& delays,
                           StreamCounters& counters, size_t window) {
    auto* stream = new ReplyStream(std::move(handler), faults, delays, counters, window);
    stream->StartRead(&stream->request_);
    return stream;
  }

 private:
  ReplyStream(Handler handler, const FaultInjector& faults, DelayQueue& delays,
              StreamCounters& counters, size_t window)
      : handler_(std::move(handler)),
        faults_(faults),
        delays_(delays),
        counters_(counters),
        window_(window) {
    counters_.client_streams_open.fetch_add(1, std::memory_order_relaxed);
  }

  void OnReadDone(bool ok) override {
    if (!ok) {
      {
        std::lock_guard lock(mutex_);
        reading_ = false;
        reads_done_ = true;
      }
      Advance();
      return;
    }
    if (!request_.error.ok()) {
      {
        std::lock_guard lock(mutex_);
        reading_ = false;
        reads_done_ = true;
        refused_ = request_.error;
      }
      Advance();
      return;
    }
    counters_.messages_received.fetch_add(1, std::memory_order_relaxed);
    {
      // Held from now until its reply is queued: the stream cannot finish before.
      std::lock_guard lock(mutex_);
      ++held_;
    }
    handler_(request_.message, [this](Reply reply) { Release(std::move(reply)); });
    {
      // Only now may the next read reuse request_: a write completing on another
      // thread resumes reading as soon as reading_ is false.
      std::lock_guard lock(mutex_);
      reading_ = false;
    }
    Advance();
  }

  // A reply from the handler, held as the fault injector decides.
  void Release(Reply reply) {
    int64_t release_at = 0;
    if (faults_.config().active()) release_at = faults_.Decide().release_at_nanos;
    if (release_at > faults_.clock().NowNanos()) {
      delays_.Schedule(release_at,
                       [this, reply = std::move(reply)]() mutable { Enqueue(std::move(reply)); });
    } else {
      Enqueue(std::move(reply));
    }
  }

  void Enqueue(Reply reply) {
    {
      std::lock_guard lock(mutex_);
      --held_;
      if (!cancelled_) replies_.push_back(std::move(reply));
    }
    Advance();
  }

  void OnWriteDone(bool ok) override {
    {
      std::lock_guard lock(mutex_);
      writing_ = false;
      if (!ok) cancelled_ = true;
    }
    if (ok) counters_.replies_written.fetch_add(1, std::memory_order_relaxed);
    Advance();
  }

  void OnCancel() override {
    {
      std::lock_guard lock(mutex_);
      cancelled_ = true;
      replies_.clear();
    }
    Advance();
  }

  // Decides the next step: write a reply, read a request, or finish.
  void Advance() {
    enum class Step { kNone, kWrite, kRead, kWriteAndRead, kFinish } step = Step::kNone;
    grpc::Status final_status;
    {
      std::lock_guard lock(mutex_);
      if (finished_) return;
      if (cancelled_) replies_.clear();
      const bool write = !writing_ && !replies_.empty();
      if (write) {
        current_ = std::move(replies_.front());
        replies_.pop_front();
        writing_ = true;
      }
      // A read is in flight from Open (or the last resume) until OnReadDone; resume
      // when this stream had paused reading and the replies have drained.
      const bool read = !reads_done_ && !cancelled_ && !reading_ &&
                        replies_.size() + held_ + (writing_ ? 1 : 0) < window_;
      if (read) reading_ = true;
      if (write && read)
        step = Step::kWriteAndRead;
      else if (write)
        step = Step::kWrite;
      else if (read)
        step = Step::kRead;
      else if (!writing_ && held_ == 0 && replies_.empty() && (reads_done_ || cancelled_)) {
        finished_ = true;
        step = Step::kFinish;
        final_status = cancelled_       ? grpc::Status::CANCELLED
                       : !refused_.ok() ? refused_
                                        : grpc::Status::OK;
      }
    }
    if (step == Step::kWrite || step == Step::kWriteAndRead) this->StartWrite(&current_);
    if (step == Step::kRead || step == Step::kWriteAndRead) this->StartRead(&request_);
    if (step == Step::kFinish) {
      this->Finish(final_status);
    }
  }

  void OnDone() override {
    counters_.client_streams_open.fetch_sub(1, std::memory_order_relaxed);
    delete this;
  }

  Handler handler_;
  const FaultInjector& faults_;
  DelayQueue& delays_;
  StreamCounters& counters_;
  const size_t window_;
  Decoded<Request> request_;
  Reply current_;
  std::mutex mutex_;
  std::deque<Reply> replies_;
  int64_t held_ = 0;     // replies not yet given by the handler or still in the delay queue
  bool reading_ = true;  // Open starts the first read
  bool reads_done_ = false;
  bool writing_ = false;
  bool cancelled_ = false;
  bool finished_ = false;
  grpc::Status refused_;  // a request that could not be decoded ends the stream with this
};

}  // namespace aurigraph::refserver
