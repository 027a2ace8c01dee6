#include "loadgen/recorder/interval_timeline.h"

#include <algorithm>
#include <limits>

#include "loadgen/histogram/latency.h"

namespace aurigraph::loadgen {

IntervalOperation::IntervalOperation()
    : latency(MakeLatencyHistogram()), uncorrected(MakeLatencyHistogram()) {}

void IntervalOperation::RecordFailure(int code, int64_t latency_us, std::string_view message) {
  if (!failed[code]) failed[code].emplace(MakeLatencyHistogram());
  failed[code]->Record(latency_us);
  error_messages.Record(code, message);
}

namespace {

// Everything of `from` but its stream side.
void AddCalls(IntervalOperation& to, const IntervalOperation& from) {
  to.latency.Add(from.latency);
  to.uncorrected.Add(from.uncorrected);
  for (int code = 0; code < kStatusCodeCount; ++code) {
    if (!from.failed[code] || from.failed[code]->TotalCount() == 0) continue;
    if (!to.failed[code]) to.failed[code].emplace(MakeLatencyHistogram());
    to.failed[code]->Add(*from.failed[code]);
  }
  to.count += from.count;
  for (int i = 0; i < kStatusCodeCount; ++i) to.codes[i] += from.codes[i];
  to.error_messages.Merge(from.error_messages);
  to.items += from.items;
  if (from.finality) to.finals().Merge(*from.finality);
}

}  // namespace

void IntervalOperation::Merge(const IntervalOperation& other) {
  AddCalls(*this, other);
  if (other.stream) streams().MergeConcurrent(*other.stream);
}

void IntervalOperation::MergeLater(const IntervalOperation& other) {
  AddCalls(*this, other);
  if (other.stream) streams().MergeLater(*other.stream);
}

void IntervalOperation::Reset() {
  latency.Reset();
  uncorrected.Reset();
  for (std::optional<Histogram>& h : failed) {
    if (h) h->Reset();
  }
  count = 0;
  codes.fill(0);
  error_messages.Reset();
  items = 0;
  if (stream) stream->Reset();
  if (finality) *finality = FinalityCounts{};
}

int64_t IntervalOperation::completed() const {
  int64_t total = 0;
  for (const int64_t n : codes) total += n;
  return total;
}

void FinalityCounts::Merge(const FinalityCounts& other) {
  tracked += other.tracked;
  lost += other.lost;
  final_without_ack += other.final_without_ack;
  duplicates += other.duplicates;
  not_final_unacked += other.not_final_unacked;
  unmatched_events += other.unmatched_events;
  untracked += other.untracked;
  subscription_breaks += other.subscription_breaks;
}

void GeneratorCounts::Merge(const GeneratorCounts& other) {
  delayed_by_in_flight_bound += other.delayed_by_in_flight_bound;
  not_sent_generator_behind += other.not_sent_generator_behind;
  not_sent_in_flight_bound += other.not_sent_in_flight_bound;
  cancelled_at_drain += other.cancelled_at_drain;
  request_build_errors += other.request_build_errors;
  warmup_completions += other.warmup_completions;
  last_completion_nanos = std::max(last_completion_nanos, other.last_completion_nanos);
}

IntervalSlice::IntervalSlice(size_t operation_count)
    : operations(operation_count),
      schedule_lag(MakeLatencyHistogram()),
      generator_lag(MakeLatencyHistogram()) {}

void IntervalSlice::Merge(const IntervalSlice& other) {
  for (size_t i = 0; i < operations.size() && i < other.operations.size(); ++i) {
    operations[i].Merge(other.operations[i]);
  }
  schedule_lag.Add(other.schedule_lag);
  generator_lag.Add(other.generator_lag);
  sent += other.sent;
  generator.Merge(other.generator);
}

void IntervalSlice::Reset() {
  for (IntervalOperation& op : operations) op.Reset();
  schedule_lag.Reset();
  generator_lag.Reset();
  sent = 0;
  generator = GeneratorCounts{};
}

IntervalTimeline::IntervalTimeline(int64_t start_nanos, int64_t interval_nanos,
                                   size_t operation_count, int contributors,
                                   int64_t measured_start_nanos)
    : start_nanos_(start_nanos),
      interval_nanos_(interval_nanos),
      measured_start_nanos_(std::max(start_nanos, measured_start_nanos)),
      operation_count_(operation_count),
      next_index_(static_cast<size_t>(contributors), 0) {}

int64_t IntervalTimeline::IndexAt(int64_t nanos) const {
  return nanos <= start_nanos_ ? 0 : (nanos - start_nanos_) / interval_nanos_;
}

IntervalSlice IntervalTimeline::NewSlice(int64_t index) {
  if (spare_.empty()) {
    IntervalSlice slice(operation_count_);
    slice.index = index;
    return slice;
  }
  IntervalSlice slice = std::move(spare_.back());
  spare_.pop_back();
  slice.Reset();
  slice.index = index;
  return slice;
}

IntervalSlice& IntervalTimeline::SliceFor(int64_t index) {
  while (first_index_ + static_cast<int64_t>(pending_.size()) <= index) {
    pending_.push_back(NewSlice(first_index_ + static_cast<int64_t>(pending_.size())));
  }
  return pending_[static_cast<size_t>(index - first_index_)];
}

void IntervalTimeline::Recycle(std::vector<IntervalSlice> slices) {
  // Enough for the intervals in flight at once; more would only hold memory.
  constexpr size_t kMaxSpare = 8;
  std::lock_guard<std::mutex> lock(mu_);
  for (IntervalSlice& slice : slices) {
    if (spare_.size() == kMaxSpare) break;
    if (slice.operations.size() == operation_count_) spare_.push_back(std::move(slice));
  }
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
      out.push_back(NewSlice(first_index_));
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
      current_end_(timeline.start_nanos() + timeline.interval_nanos()),
      measured_(timeline.IsMeasured(0)) {}

void IntervalRecorder::Roll(int64_t now) {
  const int64_t next = timeline_.IndexAt(now);
  timeline_.Contribute(contributor_, current_, next);
  current_.Reset();
  current_.index = next;
  current_end_ = timeline_.start_nanos() + (next + 1) * timeline_.interval_nanos();
  measured_ = timeline_.IsMeasured(next);
}

void IntervalRecorder::Finish() {
  timeline_.Contribute(contributor_, current_, std::numeric_limits<int64_t>::max());
  current_.Reset();
}

}  // namespace aurigraph::loadgen
