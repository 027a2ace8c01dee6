#include "loadgen/recorder/interval_timeline.h"

#include <algorithm>
#include <limits>

#include "loadgen/recorder/operation_stats.h"

namespace aurigraph::loadgen {

IntervalOperation::IntervalOperation() : latency(MakeLatencyHistogram()) {}

void IntervalOperation::RecordFailure(int code, int64_t latency_us) {
  if (!failed[code]) failed[code].emplace(MakeLatencyHistogram());
  failed[code]->Record(latency_us);
}

void IntervalOperation::Merge(const IntervalOperation& other) {
  if (other.latency.TotalCount() > 0) latency.Add(other.latency);
  for (int code = 0; code < kStatusCodeCount; ++code) {
    if (!other.failed[code] || other.failed[code]->TotalCount() == 0) continue;
    if (!failed[code]) failed[code].emplace(MakeLatencyHistogram());
    failed[code]->Add(*other.failed[code]);
  }
  count += other.count;
  for (int i = 0; i < kStatusCodeCount; ++i) codes[i] += other.codes[i];
  items += other.items;
}

void IntervalOperation::Reset() {
  if (latency.TotalCount() > 0) latency.Reset();
  for (std::optional<Histogram>& h : failed) {
    if (h && h->TotalCount() > 0) h->Reset();
  }
  count = 0;
  codes.fill(0);
  items = 0;
}

IntervalSlice::IntervalSlice(size_t operation_count)
    : operations(operation_count), schedule_lag(MakeLatencyHistogram()) {}

void IntervalSlice::Merge(const IntervalSlice& other) {
  for (size_t i = 0; i < operations.size() && i < other.operations.size(); ++i) {
    operations[i].Merge(other.operations[i]);
  }
  if (other.schedule_lag.TotalCount() > 0) schedule_lag.Add(other.schedule_lag);
  sent += other.sent;
}

void IntervalSlice::Reset() {
  for (IntervalOperation& op : operations) op.Reset();
  if (schedule_lag.TotalCount() > 0) schedule_lag.Reset();
  sent = 0;
}

IntervalTimeline::IntervalTimeline(int64_t start_nanos, int64_t interval_nanos,
                                   size_t operation_count, int contributors)
    : start_nanos_(start_nanos),
      interval_nanos_(interval_nanos),
      operation_count_(operation_count),
      next_index_(static_cast<size_t>(contributors), 0) {}

int64_t IntervalTimeline::IndexAt(int64_t nanos) const {
  return nanos <= start_nanos_ ? 0 : (nanos - start_nanos_) / interval_nanos_;
}

IntervalSlice& IntervalTimeline::SliceFor(int64_t index) {
  while (first_index_ + static_cast<int64_t>(pending_.size()) <= index) {
    pending_.emplace_back(operation_count_);
    pending_.back().index = first_index_ + static_cast<int64_t>(pending_.size()) - 1;
  }
  return pending_[static_cast<size_t>(index - first_index_)];
}

void IntervalTimeline::Contribute(int contributor, const IntervalSlice& slice, int64_t next_index) {
  std::lock_guard<std::mutex> lock(mu_);
  // A slice for an interval already taken cannot happen: the collector only
  // takes intervals every contributor has declared passed.
  if (slice.index >= first_index_) SliceFor(slice.index).Merge(slice);
  next_index_[static_cast<size_t>(contributor)] = next_index;
}

void IntervalTimeline::Finish(int contributor) {
  std::lock_guard<std::mutex> lock(mu_);
  next_index_[static_cast<size_t>(contributor)] = std::numeric_limits<int64_t>::max();
}

std::vector<IntervalSlice> IntervalTimeline::TakeCompleted(int64_t end_index) {
  std::lock_guard<std::mutex> lock(mu_);
  const int64_t passed = *std::min_element(next_index_.begin(), next_index_.end());
  std::vector<IntervalSlice> out;
  // Intervals nobody recorded in still belong to the timeline (a quiet second is data).
  const bool all_finished = passed == std::numeric_limits<int64_t>::max();
  const int64_t end = std::min(
      end_index, all_finished ? first_index_ + static_cast<int64_t>(pending_.size()) : passed);
  while (first_index_ < end) {
    if (pending_.empty()) {
      out.emplace_back(operation_count_);
      out.back().index = first_index_;
    } else {
      out.push_back(std::move(pending_.front()));
      pending_.pop_front();
    }
    ++first_index_;
  }
  return out;
}

IntervalRecorder::IntervalRecorder(IntervalTimeline& timeline, int contributor,
                                   std::vector<uint32_t> operation_ids)
    : timeline_(timeline),
      contributor_(contributor),
      operation_ids_(std::move(operation_ids)),
      current_(timeline.operation_count()),
      current_end_(timeline.start_nanos() + timeline.interval_nanos()) {}

void IntervalRecorder::Roll(int64_t now) {
  const int64_t next = timeline_.IndexAt(now);
  timeline_.Contribute(contributor_, current_, next);
  current_.Reset();
  current_.index = next;
  current_end_ = timeline_.start_nanos() + (next + 1) * timeline_.interval_nanos();
}

void IntervalRecorder::Finish() {
  timeline_.Contribute(contributor_, current_, std::numeric_limits<int64_t>::max());
  current_.Reset();
}

}  // namespace aurigraph::loadgen
