// The run's timeline: what every worker measured in each fixed interval of the
// run (latency, completions, status codes, items, stream figures, schedule lag),
// merged across workers. It is the only record of a run: its measured intervals
// merged are the run's figures (RunTotals), live or rebuilt from interval logs. Workers record into
// their own IntervalRecorder without locks and hand an interval over when their clock passes its
// end; a collector takes intervals once every worker has moved past them, so memory stays bounded
// by the number of intervals in flight, not by the length of the run.
#pragma once

#include <array>
#include <cstdint>
#include <deque>
#include <limits>
#include <mutex>
#include <optional>
#include <string_view>
#include <vector>

#include "common/status_codes/status_codes.h"
#include "loadgen/histogram/histogram.h"
#include "loadgen/recorder/error_messages.h"
#include "loadgen/recorder/stream_stats.h"

namespace aurigraph::loadgen {

// The finality side of an operation whose requests finish later, on an event
// stream (loadgen/finality): what only the stream tells. The finality latency
// (submit -> first seen final) is the operation's own histogram, OK counts
// those seen final, and DEADLINE_EXCEEDED those acknowledged but not seen final
// within the timeout: lost.
struct FinalityCounts {
  int64_t tracked = 0;              // request items sent (a batch's every item)
  int64_t lost = 0;                 // acknowledged OK, not seen final within the timeout
  int64_t final_without_ack = 0;    // seen final although the call failed (e.g. its reply was lost)
  int64_t duplicates = 0;           // seen final again on the same subscription
  int64_t not_final_unacked = 0;    // failed (or never answered) and never seen final: not lost
  int64_t unmatched_events = 0;     // events that matched no tracked item (others', or too late)
  int64_t untracked = 0;            // dropped unresolved when the tracking bound was full
  int64_t subscription_breaks = 0;  // subscriptions that ended and were reopened
  void Merge(const FinalityCounts& other);
};

// One operation within one interval. Unary: completions, the latency of the
// successful ones (from the intended send time, and from the actual send) and
// that of the failed ones by status code, with their status messages. Streams:
// messages received, the latency of those that carry one, per-message status
// codes, and the stream side (StreamStats).
//
// An interval that ends after warm-up holds only requests (messages) meant to
// be sent after warm-up, and one that ends within warm-up only warm-up ones, so
// the measured intervals merged are exactly the run's measured figures.
struct IntervalOperation {
  IntervalOperation();
  Histogram latency;      // us, successful calls from the intended send time
  Histogram uncorrected;  // us, successful calls from the actual send (unary; bidi replies)
  // Failed calls' latency by status code (us); engaged at a code's first failure.
  std::array<std::optional<Histogram>, kStatusCodeCount> failed;
  int64_t count = 0;
  std::array<int64_t, kStatusCodeCount> codes{};
  ErrorMessages error_messages;  // unary: of the failed calls
  int64_t items = 0;
  std::optional<StreamStats> stream;       // stream operations; engaged at its first figure
  std::optional<FinalityCounts> finality;  // finality operations; engaged at its first figure

  // `message`: a failed call's status message.
  void Record(int64_t latency_us, int64_t uncorrected_us, int status_code,
              std::string_view message = {}) {
    const int code = static_cast<unsigned>(status_code) < kStatusCodeCount ? status_code : 2;
    ++count;
    ++codes[code];
    if (code == 0) {
      latency.Record(latency_us);
      uncorrected.Record(uncorrected_us);
    } else {
      RecordFailure(code, latency_us, message);
    }
  }
  void RecordFailure(int code, int64_t latency_us, std::string_view message);
  StreamStats& streams() { return stream ? *stream : stream.emplace(); }
  FinalityCounts& finals() { return finality ? *finality : finality.emplace(); }
  // Another contributor's figures for the same interval.
  void Merge(const IntervalOperation& other);
  // A later interval's figures (stream bounds are over time, not across workers).
  void MergeLater(const IntervalOperation& other);
  void Reset();
  int64_t completed() const;
};

// What the generator itself did in an interval (open loop).
struct GeneratorCounts {
  int64_t delayed_by_in_flight_bound = 0;  // requests due while every slot was busy
  // Due before the end of the run but not sent when it ended: the generator was
  // behind its schedule, or every slot was busy.
  int64_t not_sent_generator_behind = 0;
  int64_t not_sent_in_flight_bound = 0;
  int64_t cancelled_at_drain = 0;      // still in flight when the drain timeout passed
  int64_t request_build_errors = 0;    // requests and stream messages that could not be built
  int64_t warmup_completions = 0;      // warm-up requests, wherever they completed
  int64_t last_completion_nanos = -1;  // from the run's start; the latest of any contributor
  void Merge(const GeneratorCounts& other);
};

struct IntervalSlice {
  int64_t index = 0;  // interval i covers [start + i * length, start + (i + 1) * length)
  std::vector<IntervalOperation> operations;
  // us, requests of the interval's kind (measured or warm-up) sent in it: their
  // lag behind the schedule, and the part of it the generator itself lost (not
  // waiting for an in-flight slot).
  Histogram schedule_lag;
  Histogram generator_lag;
  int64_t sent = 0;
  GeneratorCounts generator;
  explicit IntervalSlice(size_t operation_count);
  void Merge(const IntervalSlice& other);
  void Reset();
};

class IntervalTimeline {
 public:
  // Warm-up ends at `measured_start_nanos` (the start when there is none).
  IntervalTimeline(int64_t start_nanos, int64_t interval_nanos, size_t operation_count,
                   int contributors, int64_t measured_start_nanos = 0);

  int64_t start_nanos() const { return start_nanos_; }
  int64_t measured_start_nanos() const { return measured_start_nanos_; }
  // Whether interval `index` is measured: it ends after warm-up.
  bool IsMeasured(int64_t index) const {
    return start_nanos_ + (index + 1) * interval_nanos_ > measured_start_nanos_;
  }
  int64_t interval_nanos() const { return interval_nanos_; }
  size_t operation_count() const { return operation_count_; }
  // The interval holding `nanos` (times before the start belong to interval 0).
  int64_t IndexAt(int64_t nanos) const;

  // Adds a contributor's measures for `slice.index`; `next_index` is the first
  // interval it may still add to (INT64_MAX when it has finished).
  void Contribute(int contributor, const IntervalSlice& slice, int64_t next_index);
  void Finish(int contributor);

  // Removes and returns, oldest first, the intervals every contributor has
  // passed, up to (not including) `end_index`.
  std::vector<IntervalSlice> TakeCompleted(int64_t end_index = std::numeric_limits<int64_t>::max());
  // Takes back slices TakeCompleted gave out, to hold later intervals: a long
  // run allocates its interval histograms once, not every interval.
  void Recycle(std::vector<IntervalSlice> slices);

 private:
  IntervalSlice& SliceFor(int64_t index);
  // A cleared slice for `index`, recycled when one is spare.
  IntervalSlice NewSlice(int64_t index);

  const int64_t start_nanos_;
  const int64_t interval_nanos_;
  const int64_t measured_start_nanos_;
  const size_t operation_count_;
  std::mutex mu_;
  std::vector<int64_t> next_index_;  // per contributor
  int64_t first_index_ = 0;          // of pending_.front()
  std::deque<IntervalSlice> pending_;
  std::vector<IntervalSlice> spare_;
};

// A worker's side of the timeline: single-threaded, no locks on Record.
class IntervalRecorder {
 public:
  // `operation_ids` maps the worker's operation i to the timeline's operation index.
  IntervalRecorder(IntervalTimeline& timeline, int contributor,
                   std::vector<uint32_t> operation_ids);

  // Hands over every interval that ends at or before `now`.
  void AdvanceTo(int64_t now) {
    if (now >= current_end_) Roll(now);
  }
  IntervalOperation& operation(uint32_t local_index) {
    return current_.operations[operation_ids_[local_index]];
  }
  // Whether the current interval holds what was meant after warm-up (see IntervalOperation).
  bool measured() const { return measured_; }
  // Where a request (message) meant at `intended_nanos` is recorded, or null when the
  // current interval is not its kind (a warm-up request completing after warm-up).
  IntervalOperation* OperationFor(uint32_t local_index, int64_t intended_nanos) {
    const bool measured_request = intended_nanos >= timeline_.measured_start_nanos();
    return measured_request == measured_ ? &operation(local_index) : nullptr;
  }
  // A send of a request meant at `intended_nanos`. `generator_lag_us`: the part of
  // its schedule lag that is the generator's own; `due_while_slots_busy`: it was
  // due while every in-flight slot was busy. Like latency, the lag of a warm-up
  // request sent after warm-up is not charted.
  void RecordSend(int64_t intended_nanos, int64_t schedule_lag_us, int64_t generator_lag_us,
                  bool due_while_slots_busy) {
    ++current_.sent;
    if ((intended_nanos >= timeline_.measured_start_nanos()) != measured_) return;
    current_.schedule_lag.Record(schedule_lag_us);
    current_.generator_lag.Record(generator_lag_us);
    if (due_while_slots_busy) ++current_.generator.delayed_by_in_flight_bound;
  }
  GeneratorCounts& generator() { return current_.generator; }
  // Hands over the current interval and ends this worker's contribution.
  void Finish();

 private:
  void Roll(int64_t now);

  IntervalTimeline& timeline_;
  const int contributor_;
  const std::vector<uint32_t> operation_ids_;
  IntervalSlice current_;
  int64_t current_end_;
  bool measured_;
};

}  // namespace aurigraph::loadgen
