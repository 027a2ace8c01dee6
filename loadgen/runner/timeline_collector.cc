#include "loadgen/runner/timeline_collector.h"

#include <algorithm>
#include <chrono>
#include <limits>
#include <optional>

#include "common/process/process_stats.h"
#include "loadgen/assemble/result_builder.h"

namespace aurigraph::loadgen {
namespace {

// The figures of `slice`, which covers [begin, end) of the run.
TimelinePoint SummarizeInterval(const IntervalSlice& slice, int64_t run_start_nanos, int64_t begin,
                                int64_t end, int64_t measured_start_nanos) {
  // An interval the warm-up ends in holds only requests meant after it, which
  // complete after it: the point is its measured part, so a rate over it is right.
  if (begin < measured_start_nanos && measured_start_nanos < end) begin = measured_start_nanos;
  TimelinePoint p = SummarizeSlice(slice);
  p.offset_seconds = static_cast<double>(begin - run_start_nanos) / 1e9;
  p.seconds = static_cast<double>(end - begin) / 1e9;
  p.warmup = end <= measured_start_nanos;
  return p;
}

}  // namespace

int64_t IntervalsPerResultPoint(int64_t duration_nanos, int64_t interval_nanos) {
  constexpr int64_t kMaxPoints = 1800;
  const int64_t intervals = (duration_nanos + interval_nanos - 1) / interval_nanos;
  return std::max<int64_t>(1, (intervals + kMaxPoints - 1) / kMaxPoints);
}

TimelineCollector::TimelineCollector(IntervalTimeline& timeline, const Clock& clock,
                                     int64_t intervals_per_point, pid_t target_pid,
                                     std::vector<IntervalObserver*> observers)
    : timeline_(timeline),
      intervals_per_point_(intervals_per_point),
      target_pid_(target_pid),
      observers_(std::move(observers)),
      totals_(timeline.operation_count()),
      merged_(timeline.operation_count()) {
  thread_ = std::thread([this, &clock] {
    std::unique_lock<std::mutex> lock(mu_);
    while (!done_) {
      cv_.wait_for(lock, std::chrono::nanoseconds(timeline_.interval_nanos()));
      // Only intervals that have ended: none of them is cut short by the run's end.
      Summarize(timeline_.IndexAt(clock.NowNanos()), std::numeric_limits<int64_t>::max());
    }
  });
}

TimelineCollector::~TimelineCollector() {
  if (thread_.joinable()) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      done_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }
}

TimelineCollector::Collected TimelineCollector::Finish(int64_t run_end_nanos) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    done_ = true;
  }
  cv_.notify_all();
  thread_.join();
  Summarize(std::numeric_limits<int64_t>::max(), run_end_nanos);
  if (merged_count_ > 0) EmitMerged();
  Collected collected{Timeline{}, std::move(totals_)};
  collected.timeline.interval_seconds =
      static_cast<double>(timeline_.interval_nanos() * intervals_per_point_) / 1e9;
  collected.timeline.points = std::move(points_);
  return collected;
}

void TimelineCollector::Sample(TimelinePoint& point) const {
  if (const std::optional<ProcessStats> own = ReadProcessStats()) {
    point.loadgen_rss_bytes = own->resident_bytes;
  }
  if (target_pid_ <= 0) return;
  if (const std::optional<ProcessStats> target = ReadProcessStats(target_pid_)) {
    point.target_rss_bytes = target->resident_bytes;
    point.target_cpu_seconds = target->cpu_seconds;
    point.target_open_fds = target->open_fds;
  }
}

void TimelineCollector::Post(EventResult event) {
  std::lock_guard lock(events_mu_);
  events_.push_back(std::move(event));
}

void TimelineCollector::TellEvents() {
  std::vector<EventResult> events;
  {
    std::lock_guard lock(events_mu_);
    events.swap(events_);
  }
  for (const EventResult& event : events) {
    for (IntervalObserver* observer : observers_) observer->OnEvent(event);
  }
}

void TimelineCollector::Summarize(int64_t end_index, int64_t run_end_nanos) {
  TellEvents();
  const int64_t start = timeline_.start_nanos(), length = timeline_.interval_nanos();
  const int64_t measured_start = timeline_.measured_start_nanos();
  std::vector<IntervalSlice> slices = timeline_.TakeCompleted(end_index);
  for (const IntervalSlice& slice : slices) {
    const int64_t begin = start + slice.index * length;
    const int64_t end = std::min(begin + length, std::max(begin, run_end_nanos));
    TimelinePoint point = SummarizeInterval(slice, start, begin, end, measured_start);
    Sample(point);
    for (IntervalObserver* observer : observers_) observer->OnInterval(slice, point);
    totals_.Add(slice, !point.warmup);
    // result.json's point: this interval, or several merged exactly; never
    // warm-up and measured intervals together.
    if (merged_count_ > 0 && merged_sample_.warmup != point.warmup) EmitMerged();
    if (merged_count_ == 0) merged_begin_ = begin;
    merged_.Merge(slice);
    merged_end_ = end;
    merged_sample_ = point;
    if (++merged_count_ == intervals_per_point_) EmitMerged();
  }
  timeline_.Recycle(std::move(slices));
}

void TimelineCollector::EmitMerged() {
  TimelinePoint point = SummarizeInterval(merged_, timeline_.start_nanos(), merged_begin_,
                                          merged_end_, timeline_.measured_start_nanos());
  point.loadgen_rss_bytes = merged_sample_.loadgen_rss_bytes;
  point.target_rss_bytes = merged_sample_.target_rss_bytes;
  point.target_cpu_seconds = merged_sample_.target_cpu_seconds;
  point.target_open_fds = merged_sample_.target_open_fds;
  points_.push_back(std::move(point));
  merged_.Reset();
  merged_count_ = 0;
}

}  // namespace aurigraph::loadgen
