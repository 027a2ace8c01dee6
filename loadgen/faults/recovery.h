// Recovery figures for a fault event: how long nothing succeeded, how soon
// requests sent after the event succeeded again, and when latency and rate came
// back to what they were before it. Pure functions over what the workers and
// the interval timeline recorded; no threads, no clocks.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace aurigraph::loadgen {

// [start_nanos, end_nanos].
struct Window {
  int64_t start_nanos = 0;
  int64_t end_nanos = 0;
  bool operator==(const Window&) const = default;
};

// One worker thread's periods without a successful completion. Single-threaded;
// allocates only when it records a gap.
class SuccessGaps {
 public:
  static constexpr size_t kDefaultMaxGaps = 4096;

  // Gaps shorter than `threshold_nanos` are not kept. Beyond `max_gaps`, the
  // shortest are dropped (and counted), so the longest outages survive a long run.
  explicit SuccessGaps(int64_t threshold_nanos, size_t max_gaps = kDefaultMaxGaps);

  // A successful completion at `completed_nanos` (the run's clock), in
  // non-decreasing order as one thread reads a monotonic clock.
  void OnSuccess(int64_t completed_nanos);

  int64_t threshold_nanos() const { return threshold_nanos_; }
  int64_t first_success_nanos() const { return first_; }  // -1: none
  int64_t last_success_nanos() const { return last_; }    // -1: none
  // The gaps kept, between consecutive successes, by start time.
  std::vector<Window> Gaps() const;
  int64_t dropped_gaps() const { return dropped_; }

  // The periods within [run_start, run_end] in which no worker completed a
  // request successfully (before a worker's first success and after its last
  // count as its own such periods), at least the largest threshold long, by
  // start, in nanoseconds from run_start. Exact to the completion timestamps: a
  // period every worker spent without success is a gap of each, at least its
  // threshold long, so none is missed; periods shorter than the threshold are not
  // kept. Where a worker dropped gaps, periods may come out shorter or missing,
  // never longer. No workers: the whole run.
  static std::vector<Window> Merge(const std::vector<const SuccessGaps*>& workers,
                                   int64_t run_start, int64_t run_end);

 private:
  const int64_t threshold_nanos_;
  const size_t max_gaps_;
  int64_t first_ = -1;
  int64_t last_ = -1;
  std::vector<Window> gaps_;  // once full, a heap with the shortest first
  int64_t dropped_ = 0;
};

// What one worker records for recovery figures: its no-success gaps, and per
// event the earliest successful completion of a request meant at or after the
// event. Single-threaded; no allocation per call.
class SuccessRecorder {
 public:
  // `event_at_nanos`: the events' planned times on the run's clock, in order.
  SuccessRecorder(int64_t gap_threshold_nanos, std::vector<int64_t> event_at_nanos)
      : gaps_(gap_threshold_nanos),
        event_at_(std::move(event_at_nanos)),
        first_success_(event_at_.size(), -1) {}

  void OnSuccess(int64_t intended_nanos, int64_t completed_nanos) {
    gaps_.OnSuccess(completed_nanos);
    for (size_t k = first_open_; k < event_at_.size() && event_at_[k] <= intended_nanos; ++k) {
      if (first_success_[k] < 0) first_success_[k] = completed_nanos;
    }
    while (first_open_ < first_success_.size() && first_success_[first_open_] >= 0) ++first_open_;
  }
  const SuccessGaps& gaps() const { return gaps_; }
  // Per event: the run's clock, -1 none.
  const std::vector<int64_t>& first_success() const { return first_success_; }

 private:
  SuccessGaps gaps_;
  std::vector<int64_t> event_at_;
  std::vector<int64_t> first_success_;
  size_t first_open_ = 0;  // events before it have their first success
};

// One interval of the run's timeline, all operations together.
struct RecoveryInterval {
  double offset_seconds = 0;  // its start, from the run's start
  double seconds = 0;
  bool warmup = false;
  int64_t ok = 0;     // successful completions
  double p99_us = 0;  // of the successful ones; 0 when none
  std::map<std::string, int64_t> failed_by_code;
};

struct RecoveryEvent {
  std::string name;
  int64_t at_nanos = 0;  // when it ran, from the run's start
  // The earliest successful completion of a request intended at or after the
  // event, from the run's start; -1 none.
  int64_t first_success_nanos = -1;
};

struct RecoveryOptions {
  double baseline_window_seconds = 10;  // the most recent measured time before the event
  double tolerance = 0.10;              // of the baseline, either way
  int consecutive_intervals = 3;        // within tolerance, to call it recovered
};

struct RecoveryFigures {
  std::string event;
  double at_seconds = 0;
  double first_success_after_seconds = -1;  // -1: none
  // The longest no-success window overlapping the event's disturbance (from the
  // event to the recovery, at least to the end of the event's interval; to the
  // run's end when it never recovered), counted from the event at the earliest.
  double unavailable_max_seconds = 0;
  // From the event to the start of the first interval from which on rate and
  // p99 stay within tolerance of the baseline for `consecutive_intervals` (fewer
  // at the run's end). 0: the event's own interval was within. Precise to an
  // interval. -1: never, or no baseline (see note).
  double recovered_seconds = -1;
  // Failed completions in the intervals from the event's to the recovery's
  // (both included; to the run's end when it never recovered).
  std::map<std::string, int64_t> failed_by_code;
  // Over the measured intervals that ended by the event, the most recent
  // baseline_window_seconds of them: successes per second, and the median of
  // their p99s.
  double baseline_p99_us = 0;
  double baseline_rate = 0;
  std::string note;  // why a figure is missing; empty when none is
};

// `intervals` in time order, warm-up included; `no_success` from SuccessGaps::Merge.
RecoveryFigures ComputeRecovery(const RecoveryEvent& event,
                                const std::vector<RecoveryInterval>& intervals,
                                const std::vector<Window>& no_success,
                                const RecoveryOptions& options = {});

}  // namespace aurigraph::loadgen
