// One stream-driving worker: holds a number of streams open per operation,
// sends on client and bidi streams at a fixed per-stream rate (latency from the
// intended send time, as for unary), ends streams after a message count or a
// lifetime and reopens them (churn), and measures every message. Single-threaded
// and lock-free like Worker, recording into its own IntervalRecorder.
#pragma once

#include <atomic>
#include <cstdint>
#include <queue>
#include <random>
#include <string_view>
#include <vector>

#include "common/clock/clock.h"
#include "loadgen/interfaces/load_model.h"
#include "loadgen/interfaces/message_inspector.h"
#include "loadgen/interfaces/request_source.h"
#include "loadgen/interfaces/request_tracker.h"
#include "loadgen/interfaces/stream_transport.h"
#include "loadgen/recorder/interval_timeline.h"
#include "loadgen/recorder/stream_stats.h"

namespace aurigraph::loadgen {

struct StreamOperationPlan {
  StreamMode mode = StreamMode::kServerStream;
  uint32_t streams = 1;        // this worker's streams held open at once
  int64_t messages = 0;        // per stream: received (server) or sent (client, bidi); 0 = no bound
  int64_t lifetime_nanos = 0;  // a stream is ended and replaced after this; 0 = the whole run
  double open_rate = 0;        // this worker's stream opens per second; 0 = at once
  double send_rate = 0;        // client/bidi, messages per second per stream; 0 = closed loop
  int64_t delay_nanos = 0;     // the first streams open this long after the start
  uint32_t max_outstanding = 1024;  // bidi: unanswered messages per stream before sends wait
  // A stream that fails before it was meant to end and before any message is
  // reopened after this, doubled per such failure in a row up to the maximum,
  // with ±20% jitter.
  int64_t reopen_backoff_nanos = 100'000'000;
  int64_t reopen_backoff_max_nanos = 5'000'000'000;
  RequestSource* source = nullptr;  // server streams: the one request; otherwise each message
  const MessageInspector* inspector = nullptr;  // optional
  // Bidi with an inspector that matches replies: told of every message sent
  // with a key, and of the reply that acknowledges it (OK unless the reply's
  // status code says otherwise); a message still unanswered when its stream
  // ends was not acknowledged. `tracked_operation` is the operation in the
  // tracker's numbering.
  RequestTracker* tracker = nullptr;
  uint32_t tracked_operation = 0;
};

struct StreamWorkerPlan {
  int64_t start_nanos = 0;
  int64_t warmup_nanos = 0;
  int64_t duration_nanos = 0;
  int64_t drain_timeout_nanos = 5'000'000'000;
  // A client or bidi message due within the duration may still go out this
  // long after its end (held behind a write, or a late wake-up); none due
  // after the end is sent.
  int64_t end_grace_nanos = 0;
  int worker_index = 0;
  int worker_count = 1;
  uint64_t seed = 1;  // reopen jitter
  std::vector<StreamOperationPlan> operations;
  // Required: where everything is recorded, by interval (operation i is local
  // operation i): messages, their latency and status codes, the stream side.
  IntervalRecorder* intervals = nullptr;
};

class StreamWorker {
 public:
  // `clock` is monotonic; `wall_clock` reads Unix time, to compare with server send stamps.
  StreamWorker(const Clock& clock, const Clock& wall_clock, StreamTransport& transport,
               StreamWorkerPlan plan);

  // Runs until the duration has passed and every stream has closed (or was
  // cancelled at the drain timeout). `stop` ends the run early.
  void Run(const std::atomic<bool>* stop = nullptr);

 private:
  struct Pending {
    uint64_t key;
    int64_t intended_nanos;  // -1 once answered
    int64_t sent_nanos;
    TrackedRequest tracked;
  };
  struct Slot {
    uint32_t operation = 0;
    bool active = false;
    uint64_t number = 0;
    uint32_t generation = 0;
    int64_t intended_open = 0;
    int64_t last_message = -1;
    int64_t next_send = 0;
    int64_t send_closed_at = -1;
    int64_t sent = 0;
    int64_t received = 0;
    bool open = false;
    bool write_in_flight = false;
    bool ending = false;  // we decided to end it
    bool cancelled = false;
    bool abandoned = false;  // cancelled because it did not close in time: a failure
    bool send_timer_armed = false;
    std::vector<Pending> outstanding;  // bidi, in send order; answered ones are marked
    size_t outstanding_head = 0;
    size_t unanswered = 0;  // entries not yet answered (what max_outstanding bounds)
    int failures = 0;       // streams of this slot in a row that failed to open
  };
  enum class TimerKind { kSend, kLifetime, kCloseTimeout, kReopen };
  struct Timer {
    int64_t when;
    uint32_t slot;
    uint32_t generation;
    TimerKind kind;
    bool operator>(const Timer& other) const { return when > other.when; }
  };

  // A message sequence number unique across workers (this worker's share of them).
  uint64_t NextSequence(uint32_t operation);
  void OpenStream(uint32_t slot, int64_t intended);
  void TrySend(uint32_t slot, int64_t now);
  // How many of a paced client or bidi stream's messages due before `cutoff`
  // it has not sent (0 for a stream that is ending or not paced).
  int64_t UnsentBefore(const Slot& slot, int64_t cutoff) const;
  // Whether an open stream still has a message due before `end`.
  bool SendsDueBefore(int64_t end) const;
  void EndStream(uint32_t slot, int64_t now);
  void Abandon(uint32_t slot);
  void OnEvent(const StreamTransport::Event& event, int64_t now);
  // The stream side of `operation` in the interval holding `now`.
  StreamStats& Streams(uint32_t operation, int64_t now);
  void OnMessage(uint32_t index, std::string_view message, int64_t now);
  void OnClosed(uint32_t slot, int status_code, std::string_view status_message, int64_t now);
  // Tells the tracker that the slot's unanswered messages were never acknowledged.
  void Unacknowledged(const Slot& slot, int64_t now);
  // When the slot's next stream may open, after its `failures`-th failure in a row.
  int64_t ReopenDelay(const StreamOperationPlan& plan, int failures);
  void SampleOpenStreams(int64_t now);
  bool Measured(int64_t when) const { return when >= measured_start_; }

  const Clock& clock_;
  const Clock& wall_clock_;
  StreamTransport& transport_;
  StreamWorkerPlan plan_;
  int64_t measured_start_;
  std::vector<Slot> slots_;
  std::vector<std::vector<uint32_t>> free_slots_;  // per operation
  std::vector<int64_t> next_open_;                 // per operation: earliest next open
  std::vector<int64_t> open_now_;                  // per operation
  std::vector<uint64_t> next_stream_number_;       // per operation
  std::vector<uint64_t> next_message_sequence_;    // per operation
  std::priority_queue<Timer, std::vector<Timer>, std::greater<>> timers_;
  std::mt19937_64 rng_;
  bool sending_ = true;
  int64_t end_nanos_ = 0;  // of the duration; INT64_MAX without one
  int64_t active_ = 0;
};

}  // namespace aurigraph::loadgen
