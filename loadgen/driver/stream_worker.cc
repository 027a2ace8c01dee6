#include "loadgen/driver/stream_worker.h"

#include <algorithm>
#include <limits>

#include "common/backoff/backoff.h"
#include "loadgen/histogram/latency.h"

namespace aurigraph::loadgen {
namespace {
constexpr int kCancelled = 1;  // gRPC CANCELLED
constexpr int64_t kIdleWakeNanos = 50'000'000;
}  // namespace

StreamWorker::StreamWorker(const Clock& clock, const Clock& wall_clock, StreamTransport& transport,
                           StreamWorkerPlan plan)
    : clock_(clock),
      wall_clock_(wall_clock),
      transport_(transport),
      plan_(std::move(plan)),
      measured_start_(plan_.start_nanos + plan_.warmup_nanos),
      rng_(plan_.seed * 0x9E3779B97F4A7C15ULL + static_cast<uint64_t>(plan_.worker_index)) {
  end_nanos_ = plan_.duration_nanos > 0 ? plan_.start_nanos + plan_.duration_nanos
                                        : std::numeric_limits<int64_t>::max();
  const size_t ops = plan_.operations.size();
  free_slots_.resize(ops);
  next_open_.resize(ops);
  open_now_.assign(ops, 0);
  next_stream_number_.assign(ops, static_cast<uint64_t>(plan_.worker_index));
  next_message_sequence_.assign(ops, static_cast<uint64_t>(plan_.worker_index));
  for (uint32_t op = 0; op < ops; ++op) {
    const StreamOperationPlan& p = plan_.operations[op];
    next_open_[op] = plan_.start_nanos + p.delay_nanos;
    for (uint32_t i = 0; i < p.streams; ++i) {
      free_slots_[op].push_back(static_cast<uint32_t>(slots_.size()));
      Slot slot;
      slot.operation = op;
      if (p.mode == StreamMode::kBidi) slot.outstanding.reserve(std::min(p.max_outstanding, 4096u));
      slots_.push_back(std::move(slot));
    }
    std::reverse(free_slots_[op].begin(), free_slots_[op].end());
  }
}

uint64_t StreamWorker::NextSequence(uint32_t operation) {
  const uint64_t sequence = next_message_sequence_[operation];
  next_message_sequence_[operation] += static_cast<uint64_t>(plan_.worker_count);
  return sequence;
}

void StreamWorker::OpenStream(uint32_t index, int64_t intended) {
  Slot& s = slots_[index];
  const StreamOperationPlan& p = plan_.operations[s.operation];
  s.active = true;
  ++s.generation;
  s.number = next_stream_number_[s.operation];
  next_stream_number_[s.operation] += static_cast<uint64_t>(plan_.worker_count);
  s.intended_open = intended;
  s.last_message = -1;
  s.next_send = 0;
  s.send_closed_at = -1;
  s.sent = 0;
  s.received = 0;
  s.open = false;
  s.write_in_flight = false;
  s.ending = false;
  s.cancelled = false;
  s.abandoned = false;
  s.send_timer_armed = false;
  s.outstanding.clear();
  s.outstanding_head = 0;
  s.unanswered = 0;
  ++active_;
  if (p.lifetime_nanos > 0) {
    timers_.push(Timer{intended + p.lifetime_nanos, index, s.generation, TimerKind::kLifetime});
  }
  // A stream's metadata is rendered once, as the stream's number's request.
  transport_.Open(index, s.operation,
                  p.source != nullptr
                      ? p.source->BuildHeaders(RequestContext{s.number, s.number, 0})
                      : std::span<const Header>());
}

void StreamWorker::TrySend(uint32_t index, int64_t now) {
  Slot& s = slots_[index];
  const StreamOperationPlan& p = plan_.operations[s.operation];
  if (p.mode == StreamMode::kServerStream) return;  // its one request went out at open
  if (!sending_ || !s.open || s.ending || s.send_closed_at >= 0) return;
  if (p.messages > 0 && s.sent >= p.messages) return;
  if (s.next_send >= end_nanos_) return;  // due after the run
  if (s.next_send > now) {
    if (!s.send_timer_armed) {
      s.send_timer_armed = true;
      timers_.push(Timer{s.next_send, index, s.generation, TimerKind::kSend});
    }
    return;
  }
  if (s.write_in_flight || (p.mode == StreamMode::kBidi && s.unanswered >= p.max_outstanding)) {
    return;  // resumed by kWritten or by a matching reply
  }
  StreamStats& stats = Streams(s.operation, now);
  const std::string_view message = p.source->Build(
      RequestContext{NextSequence(s.operation), s.number, static_cast<uint64_t>(s.sent)});
  if (message.data() == nullptr) {  // not built (request_source.h): the stream ends
    ++plan_.intervals->generator().request_build_errors;
    EndStream(index, now);
    return;
  }
  // A message without a key cannot be matched with its reply: it is neither
  // timed nor tracked to finality.
  if (p.mode == StreamMode::kBidi && p.inspector != nullptr) {
    if (const auto key = p.inspector->RequestKey(message)) {
      const TrackedRequest tracked =
          p.tracker != nullptr ? p.tracker->Sent(p.tracked_operation, message, s.next_send, now)
                               : TrackedRequest{};
      s.outstanding.push_back(Pending{*key, s.next_send, now, tracked});
      ++s.unanswered;
    }
  }
  if (Measured(s.next_send)) {
    stats.send_lag.Record(NanosToMicros(now - s.next_send));
    ++stats.measured_sent;
  }
  // Closed loop (no rate) sends the next message as soon as it may; a rate
  // keeps each message's intended time, so a held-up stream catches up and
  // its replies' latency includes the hold-up.
  if (p.send_rate > 0) {
    const auto interval = static_cast<int64_t>(1e9 / p.send_rate);
    if (now - s.next_send >= interval) ++stats.delayed_sends;  // held past the next one's turn
    s.next_send += interval;
  } else {
    s.next_send = now;
  }
  s.write_in_flight = true;
  ++s.sent;
  ++stats.messages_sent;
  transport_.Write(index, message);
  if (p.messages > 0 && s.sent >= p.messages) EndStream(index, now);
}

void StreamWorker::EndStream(uint32_t index, int64_t now) {
  Slot& s = slots_[index];
  if (s.ending || !s.active) return;
  s.ending = true;
  const StreamOperationPlan& p = plan_.operations[s.operation];
  if (!s.open || p.mode == StreamMode::kServerStream) {
    s.cancelled = true;
    transport_.Cancel(index);
    return;
  }
  s.send_closed_at = now;
  // Closing a stream that cannot half-close would lose the replies on their way.
  if (transport_.HalfCloses() || s.unanswered == 0) transport_.CloseSend(index);
  timers_.push(
      Timer{now + plan_.drain_timeout_nanos, index, s.generation, TimerKind::kCloseTimeout});
}

void StreamWorker::Abandon(uint32_t index) {
  Slot& s = slots_[index];
  s.ending = true;
  s.cancelled = true;
  s.abandoned = true;
  transport_.Cancel(index);
}

StreamStats& StreamWorker::Streams(uint32_t operation, int64_t now) {
  plan_.intervals->AdvanceTo(now);
  return plan_.intervals->operation(operation).streams();
}

void StreamWorker::OnMessage(uint32_t index, std::string_view message, int64_t now) {
  Slot& s = slots_[index];
  const StreamOperationPlan& p = plan_.operations[s.operation];
  StreamStats& stats = Streams(s.operation, now);
  IntervalRecorder& intervals = *plan_.intervals;
  ++stats.messages_received;
  ++s.received;
  const bool measured = Measured(now);
  if (measured) ++stats.measured_received;
  if (s.last_message < 0) {
    if (Measured(s.intended_open)) stats.first_message.Record(NanosToMicros(now - s.intended_open));
  } else if (measured) {
    stats.inter_arrival.Record(NanosToMicros(now - s.last_message));
  }
  s.last_message = now;
  ++intervals.operation(s.operation).count;
  // Latency and codes by when the message was meant (bidi) or arrived.
  IntervalOperation* received = intervals.OperationFor(s.operation, now);
  if (p.inspector == nullptr) return;
  const MessageInspector::Reading reading = p.inspector->Inspect(message);
  bool matched = false;
  if (p.mode == StreamMode::kBidi && reading.key) {
    for (size_t i = s.outstanding_head; i < s.outstanding.size(); ++i) {
      Pending& pending = s.outstanding[i];
      if (pending.intended_nanos < 0 || pending.key != *reading.key) continue;
      if (IntervalOperation* reply = intervals.OperationFor(s.operation, pending.intended_nanos)) {
        reply->latency.Record(NanosToMicros(now - pending.intended_nanos));
        reply->uncorrected.Record(NanosToMicros(now - pending.sent_nanos));
      }
      if (p.tracker != nullptr) {
        p.tracker->Answered(pending.tracked, !reading.status_code || *reading.status_code == 0,
                            now);
      }
      pending.intended_nanos = -1;
      --s.unanswered;
      matched = true;
      if (s.unanswered == 0 && s.send_closed_at >= 0 && !transport_.HalfCloses()) {
        transport_.CloseSend(index);
      }
      break;
    }
    while (s.outstanding_head < s.outstanding.size() &&
           s.outstanding[s.outstanding_head].intended_nanos < 0) {
      ++s.outstanding_head;
    }
    if (s.outstanding_head == s.outstanding.size()) {
      s.outstanding.clear();
      s.outstanding_head = 0;
    } else if (s.outstanding.size() - s.outstanding_head > 2 * s.unanswered + 1024) {
      // A message never answered holds the head; drop the answered ones behind
      // it so the list stays as long as what is really outstanding.
      s.outstanding.erase(
          std::remove_if(s.outstanding.begin(), s.outstanding.end(),
                         [](const Pending& pending) { return pending.intended_nanos < 0; }),
          s.outstanding.end());
      s.outstanding_head = 0;
    }
    if (!matched) ++stats.unmatched_replies;
  }
  int64_t wall = -1;
  if (!matched && reading.sent_at_unix_nanos) {
    wall = wall_clock_.NowNanos();
    if (received != nullptr) {
      received->latency.Record(NanosToMicros(wall - *reading.sent_at_unix_nanos));
    }
  }
  if (reading.status_code && received != nullptr) {
    const int code =
        static_cast<unsigned>(*reading.status_code) < kStatusCodeCount ? *reading.status_code : 2;
    ++received->codes[code];
  }
  if (reading.phase_start_unix_nanos && measured) {
    if (wall < 0) wall = wall_clock_.NowNanos();
    stats.phase.Record(NanosToMicros(wall - *reading.phase_start_unix_nanos));
  }
}

int64_t StreamWorker::ReopenDelay(const StreamOperationPlan& plan, int failures) {
  return Backoff{plan.reopen_backoff_nanos, plan.reopen_backoff_max_nanos}.After(failures, 0.2,
                                                                                 rng_);
}

void StreamWorker::OnClosed(uint32_t index, int status_code, std::string_view status_message,
                            int64_t now) {
  Slot& s = slots_[index];
  StreamStats& stats = Streams(s.operation, now);
  const int code = static_cast<unsigned>(status_code) < kStatusCodeCount ? status_code : 2;
  // Ended by the target or the network with an error before it was meant to and
  // before it delivered anything: the slot waits out a backoff that grows with
  // each such failure in a row, so a dead target is not hammered with opens.
  const bool failed_to_open =
      !s.abandoned && !s.cancelled && !s.ending && code != 0 && s.received == 0;
  if (s.abandoned) {
    ++stats.streams_failed;
  } else if (s.cancelled) {
    ++stats.streams_completed;
  } else if (failed_to_open) {
    ++stats.streams_failed_to_open;
  } else if (!s.ending) {
    // Closed OK by the server: not an error (a server stream may be finite).
    ++(code == 0 ? stats.streams_ended_by_server : stats.streams_ended_early);
  } else {
    ++(code == 0 ? stats.streams_completed : stats.streams_failed);
  }
  // A stream we cancelled ended as we meant it to; any other end has its status.
  if (s.abandoned || !s.cancelled) {
    ++stats.close_codes[code];
    if (code != 0) stats.close_messages.Record(code, status_message);
  }
  if (s.send_closed_at >= 0 && Measured(s.send_closed_at)) {
    stats.close_latency.Record(NanosToMicros(now - s.send_closed_at));
  }
  Unacknowledged(s, now);
  s.outstanding.clear();
  s.outstanding_head = 0;
  s.unanswered = 0;
  if (s.open) --open_now_[s.operation];
  s.active = false;
  s.open = false;
  ++s.generation;
  --active_;
  if (failed_to_open) {
    const int64_t delay = ReopenDelay(plan_.operations[s.operation], ++s.failures);
    timers_.push(Timer{now + delay, index, s.generation, TimerKind::kReopen});
    return;
  }
  s.failures = 0;
  free_slots_[s.operation].push_back(index);
  next_open_[s.operation] = std::max(next_open_[s.operation], now);
}

void StreamWorker::Unacknowledged(const Slot& s, int64_t now) {
  RequestTracker* tracker = plan_.operations[s.operation].tracker;
  if (tracker == nullptr) return;
  for (size_t i = s.outstanding_head; i < s.outstanding.size(); ++i) {
    if (s.outstanding[i].intended_nanos >= 0)
      tracker->Answered(s.outstanding[i].tracked, false, now);
  }
}

void StreamWorker::OnEvent(const StreamTransport::Event& event, int64_t now) {
  Slot& s = slots_[event.slot];
  const StreamOperationPlan& p = plan_.operations[s.operation];
  switch (event.type) {
    case StreamTransport::EventType::kOpened:
      if (!event.ok) return;
      s.open = true;
      ++open_now_[s.operation];
      ++Streams(s.operation, now).streams_opened;
      if (s.ending) return;
      if (p.mode == StreamMode::kServerStream) {
        const std::string_view request =
            p.source->Build(RequestContext{NextSequence(s.operation), s.number, 0});
        if (request.data() == nullptr) {  // not built (request_source.h): the stream ends
          ++plan_.intervals->generator().request_build_errors;
          EndStream(event.slot, now);
          return;
        }
        s.write_in_flight = true;
        transport_.Write(event.slot, request);
        if (transport_.HalfCloses()) transport_.CloseSend(event.slot);
        return;
      }
      // A paced stream's messages are due from when it was meant to open: a
      // slow open (a loaded server, a reconnect) is then charged to the first
      // messages' latency and caught up, not dropped from the run's count.
      s.next_send = p.send_rate > 0 ? s.intended_open : now;
      TrySend(event.slot, now);
      return;
    case StreamTransport::EventType::kMessage:
      OnMessage(event.slot, event.message, now);
      if (p.mode == StreamMode::kServerStream && p.messages > 0 && s.received >= p.messages) {
        EndStream(event.slot, now);
      } else if (p.mode == StreamMode::kBidi) {
        TrySend(event.slot, now);
      }
      return;
    case StreamTransport::EventType::kWritten:
      s.write_in_flight = false;
      if (event.ok) TrySend(event.slot, now);
      return;
    case StreamTransport::EventType::kClosed:
      OnClosed(event.slot, event.status_code, event.status_message, now);
      return;
  }
}

void StreamWorker::SampleOpenStreams(int64_t now) {
  if (!sending_ || !Measured(now)) return;
  for (uint32_t op = 0; op < plan_.operations.size(); ++op) {
    StreamStats& stats = Streams(op, now);
    const int64_t open = open_now_[op];
    if (stats.min_open_streams < 0 || open < stats.min_open_streams) stats.min_open_streams = open;
    stats.max_open_streams = std::max(stats.max_open_streams, open);
  }
}

int64_t StreamWorker::UnsentBefore(const Slot& s, int64_t cutoff) const {
  const StreamOperationPlan& p = plan_.operations[s.operation];
  if (!s.active || s.ending || s.send_closed_at >= 0 || p.mode == StreamMode::kServerStream ||
      p.send_rate <= 0) {
    return 0;
  }
  // A stream not open yet owes its messages from its intended opening on.
  const int64_t next = s.open ? s.next_send : s.intended_open;
  if (next >= cutoff) return 0;
  const auto interval = static_cast<int64_t>(1e9 / p.send_rate);
  const int64_t due = (cutoff - next + interval - 1) / interval;
  return p.messages > 0 ? std::clamp<int64_t>(p.messages - s.sent, 0, due) : due;
}

bool StreamWorker::SendsDueBefore(int64_t end) const {
  for (const Slot& s : slots_) {
    if (s.open && UnsentBefore(s, end) > 0) return true;
  }
  return false;
}

void StreamWorker::Run(const std::atomic<bool>* stop) {
  const int64_t end = end_nanos_;
  // Sending ends at the end, or within the grace after it while messages due
  // before it are still going out.
  const int64_t last_send = end == std::numeric_limits<int64_t>::max()
                                ? end
                                : end + std::max<int64_t>(0, plan_.end_grace_nanos);
  int64_t drain_deadline = std::numeric_limits<int64_t>::max();
  bool cancelled_all = false;
  StreamTransport::Event event;
  for (;;) {
    int64_t now = clock_.NowNanos();
    plan_.intervals->AdvanceTo(now);
    const bool stopped = stop != nullptr && stop->load(std::memory_order_relaxed);
    if (sending_ && (stopped || now >= last_send || (now >= end && !SendsDueBefore(end)))) {
      SampleOpenStreams(now);
      // Messages due before the end (or the stop) that the grace did not let out.
      const int64_t cutoff = std::min(now, end);
      for (const Slot& s : slots_) {
        if (const int64_t unsent = UnsentBefore(s, cutoff); unsent > 0) {
          Streams(s.operation, now).messages_not_sent += unsent;
        }
      }
      sending_ = false;
      drain_deadline = now + plan_.drain_timeout_nanos;
      for (uint32_t i = 0; i < slots_.size(); ++i) {
        if (slots_[i].active) EndStream(i, now);
      }
    }
    if (sending_ && now >= plan_.start_nanos && now < end) {
      for (uint32_t op = 0; op < plan_.operations.size(); ++op) {
        const double rate = plan_.operations[op].open_rate;
        while (!free_slots_[op].empty() && now >= next_open_[op]) {
          const uint32_t slot = free_slots_[op].back();
          free_slots_[op].pop_back();
          OpenStream(slot, next_open_[op]);
          // Without an open rate, streams due together keep one intended time:
          // a worker that opens them late charges the delay to each of them.
          if (rate > 0) next_open_[op] += static_cast<int64_t>(1e9 / rate);
        }
      }
    }
    while (!timers_.empty() && timers_.top().when <= now) {
      const Timer timer = timers_.top();
      timers_.pop();
      Slot& s = slots_[timer.slot];
      if (timer.kind == TimerKind::kReopen) {
        if (!s.active && s.generation == timer.generation) {
          free_slots_[s.operation].push_back(timer.slot);
          next_open_[s.operation] = std::max(next_open_[s.operation], now);
        }
        continue;
      }
      if (!s.active || s.generation != timer.generation) continue;
      switch (timer.kind) {
        case TimerKind::kSend:
          s.send_timer_armed = false;
          TrySend(timer.slot, now);
          break;
        case TimerKind::kLifetime:
          if (sending_) EndStream(timer.slot, now);
          break;
        case TimerKind::kCloseTimeout:
          if (!s.cancelled) Abandon(timer.slot);
          break;
        case TimerKind::kReopen:
          break;
      }
    }
    SampleOpenStreams(now);
    if (!sending_ && active_ == 0) break;
    if (!sending_ && now >= drain_deadline && !cancelled_all) {
      cancelled_all = true;
      for (uint32_t i = 0; i < slots_.size(); ++i) {
        Slot& s = slots_[i];
        if (s.active && !s.cancelled) Abandon(i);
      }
    }

    int64_t wake = now + kIdleWakeNanos;
    if (now < plan_.start_nanos) wake = std::min(wake, plan_.start_nanos);
    if (sending_) {
      wake = std::min(wake, now < end ? end : last_send);
      for (uint32_t op = 0; op < plan_.operations.size(); ++op) {
        if (!free_slots_[op].empty()) wake = std::min(wake, next_open_[op]);
      }
    } else if (!cancelled_all) {
      wake = std::min(wake, drain_deadline);
    }
    if (!timers_.empty()) wake = std::min(wake, timers_.top().when);
    if (transport_.Next(std::max<int64_t>(0, wake - now), &event)) {
      OnEvent(event, clock_.NowNanos());
      while (transport_.Next(0, &event)) OnEvent(event, clock_.NowNanos());
    }
  }
  plan_.intervals->Finish();
}

}  // namespace aurigraph::loadgen
