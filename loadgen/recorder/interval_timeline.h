// The run's timeline: what every worker measured in each fixed interval of the
// run (latency, completions, status codes, items, schedule lag), merged across
// workers. Workers record into their own IntervalRecorder without locks and hand
// an interval over when their clock passes its end; a collector takes intervals
// once every worker has moved past them, so memory stays bounded by the number
// of intervals in flight, not by the length of the run.
#pragma once

#include <array>
#include <cstdint>
#include <deque>
#include <limits>
#include <mutex>
#include <optional>
#include <vector>

#include "common/status_codes/status_codes.h"
#include "loadgen/histogram/histogram.h"

namespace aurigraph::loadgen {

// One operation within one interval. Unary: completions, the latency of the
// successful ones (from the intended send time) and that of the failed ones by
// status code. Streams: messages received, the latency of those that carry one,
// and per-message status codes.
struct IntervalOperation {
  IntervalOperation();
  Histogram latency;  // us
  // Failed calls' latency by status code (us); engaged at a code's first failure.
  std::array<std::optional<Histogram>, kStatusCodeCount> failed;
  int64_t count = 0;
  std::array<int64_t, kStatusCodeCount> codes{};
  int64_t items = 0;

  void Record(int64_t latency_us, int status_code) {
    const int code = static_cast<unsigned>(status_code) < kStatusCodeCount ? status_code : 2;
    ++count;
    ++codes[code];
    if (code == 0) {
      latency.Record(latency_us);
    } else {
      RecordFailure(code, latency_us);
    }
  }
  void RecordFailure(int code, int64_t latency_us);
  void Merge(const IntervalOperation& other);
  void Reset();
};

struct IntervalSlice {
  int64_t index = 0;  // interval i covers [start + i * length, start + (i + 1) * length)
  std::vector<IntervalOperation> operations;
  Histogram schedule_lag;  // us, requests sent in the interval
  int64_t sent = 0;
  explicit IntervalSlice(size_t operation_count);
  void Merge(const IntervalSlice& other);
  void Reset();
};

class IntervalTimeline {
 public:
  IntervalTimeline(int64_t start_nanos, int64_t interval_nanos, size_t operation_count,
                   int contributors);

  int64_t start_nanos() const { return start_nanos_; }
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

 private:
  IntervalSlice& SliceFor(int64_t index);

  const int64_t start_nanos_;
  const int64_t interval_nanos_;
  const size_t operation_count_;
  std::mutex mu_;
  std::vector<int64_t> next_index_;  // per contributor
  int64_t first_index_ = 0;          // of pending_.front()
  std::deque<IntervalSlice> pending_;
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
  void RecordSend(int64_t schedule_lag_us) {
    current_.schedule_lag.Record(schedule_lag_us);
    ++current_.sent;
  }
  // Hands over the current interval and ends this worker's contribution.
  void Finish();

 private:
  void Roll(int64_t now);

  IntervalTimeline& timeline_;
  const int contributor_;
  const std::vector<uint32_t> operation_ids_;
  IntervalSlice current_;
  int64_t current_end_;
};

}  // namespace aurigraph::loadgen
