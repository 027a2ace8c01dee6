// Takes finished intervals off the timeline while a run goes on: tells the
// observers, adds each interval to the run's totals and keeps only its figures
// (result.json's timeline points), so interval histograms never pile up over a
// long run. Samples this process and the target's as each interval is taken.
#pragma once

#include <sys/types.h>

#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <thread>
#include <vector>

#include "common/clock/clock.h"
#include "loadgen/interfaces/interval_observer.h"
#include "loadgen/recorder/interval_timeline.h"
#include "loadgen/recorder/run_totals.h"
#include "loadgen/result/run_result.h"

namespace aurigraph::loadgen {

class TimelineCollector {
 public:
  // Each point of the result's timeline merges `intervals_per_point` intervals;
  // `target_pid` <= 0: the target is not sampled.
  TimelineCollector(IntervalTimeline& timeline, const Clock& clock, int64_t intervals_per_point,
                    pid_t target_pid, std::vector<IntervalObserver*> observers);
  ~TimelineCollector();

  struct Collected {
    Timeline timeline;
    RunTotals totals;
  };
  // After every worker has finished (at `run_end_nanos` on the clock): the whole timeline.
  Collected Finish(int64_t run_end_nanos);
  // An event to tell the observers, on the collector's thread, before its next interval.
  void Post(EventResult event);

 private:
  void TellEvents();
  void Sample(TimelinePoint& point) const;
  void Summarize(int64_t end_index, int64_t run_end_nanos);
  void EmitMerged();

  IntervalTimeline& timeline_;
  const int64_t intervals_per_point_;
  const pid_t target_pid_;
  const std::vector<IntervalObserver*> observers_;
  RunTotals totals_;
  IntervalSlice merged_;
  int64_t merged_count_ = 0;
  int64_t merged_begin_ = 0;
  int64_t merged_end_ = 0;
  TimelinePoint merged_sample_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool done_ = false;
  std::vector<TimelinePoint> points_;
  std::mutex events_mu_;
  std::vector<EventResult> events_;  // posted, not yet told
  std::thread thread_;
};

// How many intervals each point of result.json's timeline merges: one, unless
// a run of `duration_nanos` needs more than about 1,800 points.
int64_t IntervalsPerResultPoint(int64_t duration_nanos, int64_t interval_nanos);

}  // namespace aurigraph::loadgen
