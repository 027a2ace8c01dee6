// The stream driver under a simulated clock and a scripted stream transport:
// per-message latency with coordinated-omission correction, bidi matching,
// message-count and lifetime endings (churn), early ends, without sleeping.
#include "loadgen/driver/stream_worker.h"

#include <gtest/gtest.h>

#include <charconv>
#include <functional>
#include <limits>
#include <map>
#include <set>
#include <string>

#include "loadgen/histogram/latency.h"
#include "loadgen/recorder/run_totals.h"

namespace aurigraph::loadgen {
namespace {

constexpr int64_t kMs = 1'000'000;
using Type = StreamTransport::EventType;

// A scripted server. Bidi: each write is echoed after `reply_latency(now)`.
// Server streams: once the request is in, a message every `interval`, carrying
// its send time, arriving `transit` later; optionally closed with `fail_code`
// after `fail_after` messages. Writes finish after `write_time(now)`. A stream
// the server ends with an error carries a status message.
class ScriptedStreams final : public StreamTransport {
 public:
  explicit ScriptedStreams(ManualClock& clock) : clock_(clock) {}

  std::function<int64_t(int64_t)> reply_latency = [](int64_t) { return 2 * kMs; };
  std::function<int64_t(int64_t)> write_time = [](int64_t) { return 0; };
  int64_t interval = kMs;
  int64_t transit = 300'000;
  int fail_after = -1;
  int fail_code = 14;
  int misanswered_write = -1;  // this write's reply carries a key no request had
  int64_t open_time = 100'000;

  // Opens refused (closed UNAVAILABLE at once) while `refuse_opens` and before `refuse_until`.
  bool refuse_opens = false;
  int64_t refuse_until = std::numeric_limits<int64_t>::max();

  void Open(uint32_t slot, uint32_t, std::span<const Header>) override {
    ++opens;
    if (refuse_opens && clock_.NowNanos() < refuse_until) {
      Push(clock_.NowNanos() + 100'000, slot, Type::kClosed, "connection refused", 14);
      return;
    }
    Push(clock_.NowNanos() + open_time, slot, Type::kOpened, "");
  }
  void Write(uint32_t slot, std::string_view message) override {
    const int64_t now = clock_.NowNanos();
    ++writes;
    Push(now + write_time(now), slot, Type::kWritten, "");
    if (message.rfind("subscribe", 0) == 0) {
      for (int i = 0; i < 10'000; ++i) {
        const int64_t sent = now + (i + 1) * interval;
        if (fail_after >= 0 && i == fail_after) {
          Push(sent, slot, Type::kClosed, "stream reset by the server", fail_code);
          break;
        }
        Push(sent + transit, slot, Type::kMessage, "ts:" + std::to_string(sent));
      }
      return;
    }
    Push(now + write_time(now) + reply_latency(now), slot, Type::kMessage,
         writes - 1 == misanswered_write ? "999999999" : std::string(message));
  }
  // Closing (half or whole) ends the stream 3 ms later; replies still on their way are lost.
  void CloseSend(uint32_t slot) override {
    ++close_sends;
    if (server_stream_slots.count(slot)) return;
    Push(clock_.NowNanos() + 3 * kMs, slot, Type::kClosed, "", 0);
  }
  void Cancel(uint32_t slot) override {
    for (auto it = events_.begin(); it != events_.end();) {
      it = it->second.slot == slot ? events_.erase(it) : std::next(it);
    }
    Push(clock_.NowNanos(), slot, Type::kClosed, "", 1);
  }
  bool Next(int64_t timeout_nanos, Event* event) override {
    const int64_t now = clock_.NowNanos();
    if (events_.empty() || events_.begin()->first > now + timeout_nanos) {
      clock_.Set(now + timeout_nanos);
      return false;
    }
    auto it = events_.begin();
    clock_.Set(std::max(now, it->first));
    held_ = it->second;
    events_.erase(it);
    event->type = held_.type;
    event->slot = held_.slot;
    event->ok = true;
    event->status_code = held_.code;
    (held_.type == Type::kClosed ? event->status_message : event->message) = held_.message;
    if (held_.type == Type::kClosed) {
      // Nothing more arrives on a closed stream.
      for (auto e = events_.begin(); e != events_.end();) {
        e = e->second.slot == held_.slot ? events_.erase(e) : std::next(e);
      }
    }
    return true;
  }

  bool HalfCloses() const override { return half_closes; }

  std::set<uint32_t> server_stream_slots;
  bool half_closes = true;
  int close_sends = 0;
  int opens = 0;
  int writes = 0;

 private:
  struct Scripted {
    uint32_t slot;
    Type type;
    std::string message;
    int code;
  };
  void Push(int64_t when, uint32_t slot, Type type, std::string message, int code = 0) {
    events_.emplace(when, Scripted{slot, type, std::move(message), code});
  }
  ManualClock& clock_;
  std::multimap<int64_t, Scripted> events_;
  Scripted held_;
};

// Messages are their own key ("17"); server messages are "ts:<send time>".
class TextInspector final : public MessageInspector {
 public:
  std::set<uint64_t> refused;  // replies to these carry status code 9
  std::optional<uint64_t> RequestKey(std::string_view request) const override {
    uint64_t key = 0;
    std::from_chars(request.data(), request.data() + request.size(), key);
    return key;
  }
  Reading Inspect(std::string_view response) const override {
    Reading reading;
    if (response.rfind("ts:", 0) == 0) {
      int64_t sent = 0;
      std::from_chars(response.data() + 3, response.data() + response.size(), sent);
      reading.sent_at_unix_nanos = sent;
    } else {
      reading.key = *RequestKey(response);
      reading.status_code = refused.count(*reading.key) ? 9 : 0;
    }
    return reading;
  }
};

class SequenceSource final : public RequestSource {
 public:
  explicit SequenceSource(std::string fixed = "") : fixed_(std::move(fixed)) {}
  std::string_view Build(const RequestContext& context) override {
    text_ = fixed_.empty() ? std::to_string(context.sequence) : fixed_;
    return text_;
  }

 private:
  std::string fixed_;
  std::string text_;
};

// What a stream operation measured, under the names of its figures: the
// stream side, and the per-message latency and codes the operation keeps.
struct Measured : StreamStats {
  Histogram message_latency = MakeLatencyHistogram();
  Histogram message_latency_uncorrected = MakeLatencyHistogram();
  std::array<int64_t, kStatusCodeCount> message_codes{};
};

struct Fixture {
  ManualClock clock{1'000 * kMs};
  // The worker's only record, 100 ms intervals from the plan's start.
  std::unique_ptr<IntervalTimeline> timeline;
  std::unique_ptr<IntervalRecorder> recorder;
  ScriptedStreams transport{clock};
  SequenceSource bidi_source;
  SequenceSource subscribe_source{"subscribe"};
  TextInspector inspector;

  StreamWorkerPlan Plan(StreamOperationPlan op, int64_t duration = 1'000 * kMs) {
    StreamWorkerPlan plan;
    plan.start_nanos = clock.NowNanos();
    plan.duration_nanos = duration;
    op.inspector = &inspector;
    if (op.source == nullptr)
      op.source = op.mode == StreamMode::kServerStream ? &subscribe_source : &bidi_source;
    plan.operations.push_back(op);
    timeline = std::make_unique<IntervalTimeline>(plan.start_nanos, 100 * kMs, 1, 1,
                                                  plan.start_nanos + plan.warmup_nanos);
    recorder = std::make_unique<IntervalRecorder>(*timeline, 0, std::vector<uint32_t>{0});
    plan.intervals = recorder.get();
    return plan;
  }
  // The run's figures, merged from the timeline as the runner merges them.
  Measured Totals() {
    RunTotals totals(1);
    for (const IntervalSlice& slice : timeline->TakeCompleted()) {
      totals.Add(slice, timeline->IsMeasured(slice.index));
    }
    const IntervalOperation& op = totals.operation(0);
    Measured m;
    if (op.stream) static_cast<StreamStats&>(m) = *op.stream;
    m.message_latency = op.latency;
    m.message_latency_uncorrected = op.uncorrected;
    m.message_codes = op.codes;
    return m;
  }
  Measured Run(StreamOperationPlan op, int64_t duration = 1'000 * kMs) {
    if (op.mode == StreamMode::kServerStream) {
      for (uint32_t i = 0; i < op.streams; ++i) transport.server_stream_slots.insert(i);
    }
    StreamWorker worker(clock, clock, transport, Plan(op, duration));
    worker.Run();
    return Totals();
  }
};

TEST(StreamWorker, BidiRepliesAreMatchedAndTimedPerMessage) {
  Fixture f;
  StreamOperationPlan op;
  op.mode = StreamMode::kBidi;
  op.streams = 2;
  op.send_rate = 100;
  const Measured s = f.Run(op);
  EXPECT_EQ(s.messages_sent, 200);
  EXPECT_EQ(s.messages_received, 200);
  EXPECT_EQ(s.unmatched_replies, 0);
  EXPECT_EQ(s.message_latency.TotalCount(), 200);
  EXPECT_EQ(s.message_latency.ValueAtPercentile(50), 2'000);  // us
  EXPECT_EQ(s.message_codes[0], 200);
  EXPECT_EQ(s.streams_opened, 2);
  EXPECT_EQ(s.streams_completed, 2);  // half-closed at the end, closed OK by the server
  EXPECT_EQ(s.close_latency.TotalCount(), 2);
  EXPECT_EQ(s.min_open_streams, 0);  // no warm-up: the window starts before the streams open
  EXPECT_EQ(s.max_open_streams, 2);
}

// Closed loop with a bound on unanswered messages: one reply that matches no
// request leaves one message unanswered for good, and the stream goes on (it
// used to stall once the bound's worth of later, answered messages piled up
// behind the unanswered one).
TEST(StreamWorker, AReplyThatMatchesNothingDoesNotStallTheStream) {
  Fixture f;
  f.transport.misanswered_write = 3;
  StreamOperationPlan op;
  op.mode = StreamMode::kBidi;
  op.streams = 1;
  op.max_outstanding = 4;
  const Measured s = f.Run(op, 200 * kMs);
  EXPECT_EQ(s.unmatched_replies, 1);
  // About one message every 2 ms round trip, four at a time, for 200 ms.
  EXPECT_GT(s.messages_sent, 300);
  EXPECT_EQ(s.messages_received, s.messages_sent);
  EXPECT_EQ(s.message_latency.TotalCount(), s.messages_sent - 1);
}

// A write that hangs for 100 ms holds the messages due behind it. Their latency
// counts from when they were due (corrected), not from when they went out.
TEST(StreamWorker, HeldUpSendsAreChargedFromTheirIntendedTime) {
  Fixture f;
  const int64_t start = f.clock.NowNanos();
  f.transport.write_time = [start](int64_t now) {
    return now >= start + 500 * kMs && now < start + 501 * kMs ? 100 * kMs : 0;
  };
  StreamOperationPlan op;
  op.mode = StreamMode::kBidi;
  op.streams = 1;
  op.send_rate = 1000;
  const Measured s = f.Run(op);
  EXPECT_EQ(s.messages_sent, 1000);  // caught up after the stall
  EXPECT_GE(s.message_latency.Max(), 100'000);
  EXPECT_LE(s.message_latency_uncorrected.Max(), 102'000 + 2'000);
  EXPECT_GE(s.message_latency.ValueAtPercentile(95), 40'000);
  EXPECT_EQ(s.message_latency_uncorrected.ValueAtPercentile(50), 2'000);
  EXPECT_GT(s.delayed_sends, 90);
  EXPECT_GE(s.send_lag.Max(), 99'000);
}

// A paced stream that takes 30 ms to open (a loaded server) still sends every
// message due in the run: those due while it opened go out at once, charged
// from when they were due (the pacing used to start at the open, and a loaded
// run sent fewer messages than it was asked for).
TEST(StreamWorker, MessagesDueWhileAStreamOpensAreSentAndChargedTheWait) {
  Fixture f;
  f.transport.open_time = 30 * kMs;
  StreamOperationPlan op;
  op.mode = StreamMode::kBidi;
  op.streams = 2;
  op.send_rate = 100;
  const Measured s = f.Run(op);
  EXPECT_EQ(s.messages_sent, 200);
  EXPECT_EQ(s.messages_received, 200);
  EXPECT_EQ(s.message_latency.Max() / 1000, 32);  // ms: the first message, due at the open
  EXPECT_EQ(s.message_latency.ValueAtPercentile(50), 2'000);
  EXPECT_EQ(s.send_lag.Max() / 1000, 30);
}

// A message due before the end but held behind a write that finishes after
// it still goes out within the grace; nothing due after the end is sent, and
// what the grace did not let out is counted as not sent.
TEST(StreamWorker, AMessageDueBeforeTheEndGoesOutWithinTheGrace) {
  for (const int64_t grace : {int64_t{0}, 10 * kMs}) {
    Fixture f;
    const int64_t start = f.clock.NowNanos();
    // The write of the message due at 80 ms takes 25 ms: the one due at 90 ms waits until 105 ms.
    f.transport.write_time = [start](int64_t now) {
      return now >= start + 80 * kMs && now < start + 81 * kMs ? 25 * kMs : 0;
    };
    StreamOperationPlan op;
    op.mode = StreamMode::kBidi;
    op.streams = 1;
    op.send_rate = 100;
    StreamWorkerPlan plan = f.Plan(op, 100 * kMs);
    plan.end_grace_nanos = grace;
    StreamWorker worker(f.clock, f.clock, f.transport, plan);
    worker.Run();
    const Measured s = f.Totals();
    // Due at 0, 10, ..., 90 ms: ten within the duration.
    EXPECT_EQ(s.messages_sent, grace > 0 ? 10 : 9) << "grace " << grace;
    EXPECT_EQ(s.messages_not_sent, grace > 0 ? 0 : 1) << "grace " << grace;
  }
}

// A worker that starts 15 ms after the run's start opens its streams late:
// each of them still owes every message due from the start, and is charged the
// delay (the later streams used to count from when the worker reached them).
TEST(StreamWorker, StreamsOpenedLateOweTheirMessagesFromTheStart) {
  Fixture f;
  StreamOperationPlan op;
  op.mode = StreamMode::kBidi;
  op.streams = 3;
  op.send_rate = 100;
  StreamWorkerPlan plan = f.Plan(op, 100 * kMs);
  plan.start_nanos -= 15 * kMs;
  StreamWorker worker(f.clock, f.clock, f.transport, plan);
  worker.Run();
  const Measured s = f.Totals();
  EXPECT_EQ(s.messages_sent, 3 * 10);
  EXPECT_EQ(s.messages_not_sent, 0);
  EXPECT_EQ(s.send_lag.Max() / 1000, 15);  // ms: the three first messages
}

// Writes that never finish: of two streams due 10 messages each in 100 ms,
// only the first of each goes out, and the other 18 are counted as not sent.
TEST(StreamWorker, MessagesHeldPastTheGraceAreCountedAsNotSent) {
  Fixture f;
  f.transport.write_time = [](int64_t) { return 10'000 * kMs; };
  StreamOperationPlan op;
  op.mode = StreamMode::kBidi;
  op.streams = 2;
  op.send_rate = 100;
  StreamWorkerPlan plan = f.Plan(op, 100 * kMs);
  plan.end_grace_nanos = 20 * kMs;
  plan.drain_timeout_nanos = 50 * kMs;
  StreamWorker worker(f.clock, f.clock, f.transport, plan);
  worker.Run();
  const Measured s = f.Totals();
  EXPECT_EQ(s.messages_sent, 2);
  EXPECT_EQ(s.messages_not_sent, 18);
}

TEST(StreamWorker, ServerStreamLatencyComesFromTheServersSendStamp) {
  Fixture f;
  StreamOperationPlan op;
  op.mode = StreamMode::kServerStream;
  op.streams = 3;
  op.messages = 50;  // end after 50 and reopen: churn
  const Measured s = f.Run(op, 500 * kMs);
  EXPECT_EQ(s.message_latency.ValueAtPercentile(50), 300);  // the scripted transit, us
  EXPECT_EQ(s.inter_arrival.ValueAtPercentile(50), 1'000);
  EXPECT_GT(s.streams_opened, 3 * 8);  // each stream lives ~50 ms
  EXPECT_EQ(s.streams_ended_early, 0);
  EXPECT_EQ(s.streams_completed, s.streams_opened);
  // 50 from every stream but the three the run's end cut short.
  EXPECT_GE(s.messages_received, 50 * (s.streams_opened - 3));
  EXPECT_LT(s.messages_received, 50 * s.streams_opened);
  EXPECT_EQ(s.first_message.ValueAtPercentile(50), 1'400);  // open 0.1 ms + first 1 ms + 0.3 ms
  EXPECT_EQ(f.transport.writes, s.streams_opened);          // one request per stream
}

TEST(StreamWorker, StreamsEndedByTheServerAreCountedAsEarlyWithTheirCode) {
  Fixture f;
  f.transport.fail_after = 10;
  StreamOperationPlan op;
  op.mode = StreamMode::kServerStream;
  op.streams = 1;
  const Measured s = f.Run(op, 100 * kMs);
  EXPECT_GT(s.streams_ended_early, 5);
  EXPECT_EQ(s.close_codes[14], s.streams_ended_early);  // UNAVAILABLE
  // ... each with the status message the server ended it with.
  ASSERT_EQ(s.close_messages.Top(14).size(), 1u);
  EXPECT_EQ(s.close_messages.Top(14)[0].message, "stream reset by the server");
  EXPECT_EQ(s.close_messages.Top(14)[0].count, s.streams_ended_early);
  EXPECT_EQ(s.close_messages.other(14), 0);
  // Ten messages from each stream the server ended, fewer from the one the run's end cut.
  EXPECT_GE(s.messages_received, 10 * s.streams_ended_early);
  EXPECT_LT(s.messages_received, 10 * (s.streams_ended_early + 1));
  EXPECT_EQ(s.streams_ended_early + s.streams_completed, s.streams_opened);
}

// A server stream the server ends with OK (a finite stream, or a subscription
// it closed) ended before the plan but without an error: counted apart from
// "early", and a success.
TEST(StreamWorker, StreamsTheServerClosesOkAreNotEndedEarly) {
  Fixture f;
  f.transport.fail_after = 10;
  f.transport.fail_code = 0;
  StreamOperationPlan op;
  op.mode = StreamMode::kServerStream;
  op.streams = 1;
  const Measured s = f.Run(op, 100 * kMs);
  EXPECT_EQ(s.streams_ended_early, 0);
  EXPECT_GT(s.streams_ended_by_server, 5);
  EXPECT_EQ(s.close_codes[0], s.streams_ended_by_server);
  EXPECT_EQ(s.streams_ended_by_server + s.streams_completed, s.streams_opened);
}

TEST(StreamWorker, StreamsADeadTargetRefusesAreReopenedWithGrowingBackoff) {
  Fixture f;
  f.transport.refuse_opens = true;
  StreamOperationPlan op;
  op.mode = StreamMode::kServerStream;
  op.streams = 8;
  op.reopen_backoff_nanos = 100 * kMs;
  op.reopen_backoff_max_nanos = 1'000 * kMs;
  const Measured s = f.Run(op, 5'000 * kMs);
  // Per slot: at 0, then after ~0.1, 0.2, 0.4, 0.8, 1, 1, 1 s (±20%): 7 to 9 opens in 5 s,
  // where reopening at once would have made thousands.
  EXPECT_GE(f.transport.opens, 8 * 6);
  EXPECT_LE(f.transport.opens, 8 * 10);
  EXPECT_EQ(s.streams_failed_to_open, f.transport.opens);
  EXPECT_EQ(s.close_codes[14], f.transport.opens);  // UNAVAILABLE, by code
  ASSERT_EQ(s.close_messages.Top(14).size(), 1u);
  EXPECT_EQ(s.close_messages.Top(14)[0].message, "connection refused");
  EXPECT_EQ(s.close_messages.total(14), f.transport.opens);
  EXPECT_EQ(s.streams_ended_early, 0);
  EXPECT_EQ(s.min_open_streams, 0);  // the outage shows as streams not open
}

TEST(StreamWorker, ATargetThatComesBackIsReopenedAndTheBackoffResets) {
  Fixture f;
  f.transport.refuse_opens = true;
  StreamOperationPlan op;
  op.mode = StreamMode::kServerStream;
  op.streams = 1;
  op.reopen_backoff_nanos = 100 * kMs;
  op.reopen_backoff_max_nanos = 100 * kMs;
  StreamWorker worker(f.clock, f.clock, f.transport, f.Plan(op, 2'000 * kMs));
  f.transport.server_stream_slots.insert(0);
  f.transport.refuse_until = f.clock.NowNanos() + 500 * kMs;
  worker.Run();
  const Measured s = f.Totals();
  EXPECT_GE(s.streams_failed_to_open, 3);
  EXPECT_LE(s.streams_failed_to_open, 7);
  // Back after 0.5 s: one stream, open until the run's end, with its messages.
  EXPECT_EQ(s.streams_completed, 1);
  EXPECT_GT(s.messages_received, 1'000);
}

// What the driver told a request tracker: every message sent, and how each ended.
class RecordingTracker final : public RequestTracker {
 public:
  struct Sent {
    uint32_t operation;
    std::string message;
    int64_t intended_nanos;
    int64_t sent_nanos;
    int answers = 0;
    bool ok = false;
    int64_t answered_nanos = -1;
  };
  TrackedRequest Sent(uint32_t operation, std::string_view message, int64_t intended_nanos,
                      int64_t sent_nanos) override {
    sent.push_back({operation, std::string(message), intended_nanos, sent_nanos});
    return TrackedRequest{sent.size() - 1, 1};
  }
  void Answered(TrackedRequest request, bool ok, int64_t now_nanos) override {
    ASSERT_LT(request.first, sent.size());
    struct Sent& s = sent[request.first];
    ++s.answers;
    s.ok = ok;
    s.answered_nanos = now_nanos;
  }
  std::vector<struct Sent> sent;
};

// Bidi streams at 100 messages/s each, told to `tracker`.
StreamOperationPlan TrackedBidi(RecordingTracker& tracker, uint32_t streams) {
  StreamOperationPlan op;
  op.mode = StreamMode::kBidi;
  op.streams = streams;
  op.send_rate = 100;
  op.tracker = &tracker;
  return op;
}

// Finality on a bidi stream: the tracker hears of each message as it is sent,
// under the operation's number in its own numbering, and of its matched reply
// once, as an acknowledgement unless the reply's status code refuses it.
TEST(StreamWorker, BidiMessagesAreTrackedAndAcknowledgedByTheirMatchedReplies) {
  Fixture f;
  f.inspector.refused = {4, 11};
  RecordingTracker tracker;
  StreamOperationPlan op = TrackedBidi(tracker, 2);
  op.tracked_operation = 3;
  const Measured s = f.Run(op);
  ASSERT_EQ(static_cast<int64_t>(tracker.sent.size()), s.messages_sent);
  EXPECT_EQ(tracker.sent.size(), 200u);
  int acknowledged = 0;
  for (const auto& sent : tracker.sent) {
    EXPECT_EQ(sent.operation, 3u);
    EXPECT_EQ(sent.answers, 1) << sent.message;
    EXPECT_EQ(sent.answered_nanos - sent.sent_nanos, 2 * kMs) << sent.message;
    EXPECT_EQ(sent.ok, sent.message != "4" && sent.message != "11") << sent.message;
    acknowledged += sent.ok;
  }
  EXPECT_EQ(acknowledged, 198);
}

// A message whose reply has not come when its stream ends (the server closed
// it, or the run ended) was never acknowledged: the tracker is told so once.
TEST(StreamWorker, BidiMessagesUnansweredWhenTheStreamEndsAreNotAcknowledged) {
  Fixture f;
  f.transport.reply_latency = [](int64_t) { return 50 * kMs; };
  f.transport.misanswered_write = 2;  // its reply matches nothing: never answered
  RecordingTracker tracker;
  const int64_t start = f.clock.NowNanos();
  const Measured s = f.Run(TrackedBidi(tracker, 1), 200 * kMs);
  ASSERT_EQ(tracker.sent.size(), 20u);
  // Due every 10 ms, answered 50 ms later; the server closes 3 ms after the
  // end, before the replies to those due from 160 ms on.
  EXPECT_EQ(s.messages_received, 16);
  int refused = 0;
  for (const auto& sent : tracker.sent) {
    EXPECT_EQ(sent.answers, 1) << sent.message;
    if (sent.ok) continue;
    ++refused;
    EXPECT_TRUE(sent.message == "2" || sent.intended_nanos - start >= 160 * kMs) << sent.message;
  }
  EXPECT_EQ(refused, 1 + 4);
}

// A wire that cannot half-close (WebSocket) closes the whole stream: the
// worker closes a bidi stream only once its messages are answered (the same
// run as above, where a half-close at the end lost 4 replies, loses none),
// and sends a server stream's one request without closing anything.
TEST(StreamWorker, AStreamThatCannotHalfCloseIsClosedOnceItsMessagesAreAnswered) {
  Fixture f;
  f.transport.half_closes = false;
  f.transport.reply_latency = [](int64_t) { return 50 * kMs; };
  RecordingTracker tracker;
  const Measured s = f.Run(TrackedBidi(tracker, 1), 200 * kMs);
  EXPECT_EQ(s.messages_sent, 20);
  EXPECT_EQ(s.messages_received, 20);
  EXPECT_EQ(s.message_latency.TotalCount(), 20);
  for (const auto& sent : tracker.sent) EXPECT_TRUE(sent.ok) << sent.message;
  EXPECT_EQ(f.transport.close_sends, 1);
  EXPECT_EQ(s.streams_completed, 1);
  // From the end of sending to the close: the last reply (due at 190 ms,
  // answered at 240 ms), then the close's 3 ms.
  EXPECT_EQ(s.close_latency.TotalCount(), 1);
  EXPECT_NEAR(s.close_latency.ValueAtPercentile(50), 43'000,
              50);  // us, to the histogram's precision
}

TEST(StreamWorker, AServerStreamOnAWireThatCannotHalfCloseIsNotClosedAfterItsRequest) {
  Fixture f;
  f.transport.half_closes = false;
  StreamOperationPlan op;
  op.mode = StreamMode::kServerStream;
  op.streams = 1;
  const Measured s = f.Run(op, 100 * kMs);
  EXPECT_EQ(f.transport.close_sends, 0);
  EXPECT_GT(s.messages_received, 90);
  EXPECT_EQ(s.streams_completed, 1);  // cancelled at the end, as planned
}

TEST(StreamWorker, LifetimeEndsAndReplacesStreamsAtTheOpenRate) {
  Fixture f;
  StreamOperationPlan op;
  op.mode = StreamMode::kBidi;
  op.streams = 2;
  op.send_rate = 100;
  op.lifetime_nanos = 200 * kMs;
  op.open_rate = 20;  // the two first opens are 50 ms apart
  const Measured s = f.Run(op);
  EXPECT_GE(s.streams_opened, 9);
  EXPECT_LE(s.streams_opened, 11);
  EXPECT_EQ(s.streams_failed + s.streams_ended_early, 0);
  EXPECT_EQ(s.messages_received, s.messages_sent);
  EXPECT_EQ(f.transport.opens, s.streams_opened);
}

}  // namespace
}  // namespace aurigraph::loadgen
