#include "loadgen/faults/recovery.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace aurigraph::loadgen {
namespace {

// Interval offsets are sums of doubles: an interval ending "at" the event may
// be off by rounding.
constexpr double kEpsilonSeconds = 1e-9;

int64_t Length(const Window& window) { return window.end_nanos - window.start_nanos; }

// std heap order with the shortest gap at the front.
bool Longer(const Window& a, const Window& b) { return Length(a) > Length(b); }

// Both inputs sorted and disjoint.
std::vector<Window> Intersect(const std::vector<Window>& a, const std::vector<Window>& b) {
  std::vector<Window> both;
  size_t i = 0, j = 0;
  while (i < a.size() && j < b.size()) {
    const int64_t start = std::max(a[i].start_nanos, b[j].start_nanos);
    const int64_t end = std::min(a[i].end_nanos, b[j].end_nanos);
    if (start < end) both.push_back({start, end});
    (a[i].end_nanos < b[j].end_nanos ? i : j)++;
  }
  return both;
}

// One worker's periods without success, clipped to [run_start, run_end].
std::vector<Window> NoSuccess(const SuccessGaps& worker, int64_t run_start, int64_t run_end) {
  if (worker.first_success_nanos() < 0) return {{run_start, run_end}};
  std::vector<Window> periods = {{run_start, worker.first_success_nanos()}};
  for (const Window& gap : worker.Gaps()) periods.push_back(gap);
  periods.push_back({worker.last_success_nanos(), run_end});
  std::vector<Window> clipped;
  for (const Window& period : periods) {
    const Window inside = {std::max(period.start_nanos, run_start),
                           std::min(period.end_nanos, run_end)};
    if (Length(inside) > 0) clipped.push_back(inside);
  }
  return clipped;
}

double End(const RecoveryInterval& interval) { return interval.offset_seconds + interval.seconds; }

double Median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  const size_t middle = values.size() / 2;
  return values.size() % 2 == 1 ? values[middle] : (values[middle - 1] + values[middle]) / 2;
}

bool Within(double value, double baseline, double tolerance) {
  return std::abs(value - baseline) <= tolerance * baseline;
}

}  // namespace

SuccessGaps::SuccessGaps(int64_t threshold_nanos, size_t max_gaps)
    : threshold_nanos_(threshold_nanos), max_gaps_(max_gaps) {}

void SuccessGaps::OnSuccess(int64_t completed_nanos) {
  if (first_ < 0) {
    first_ = last_ = completed_nanos;
    return;
  }
  const Window gap = {last_, completed_nanos};
  last_ = std::max(last_, completed_nanos);
  if (Length(gap) < threshold_nanos_) return;
  if (gaps_.size() < max_gaps_) {
    gaps_.push_back(gap);
    if (gaps_.size() == max_gaps_) std::make_heap(gaps_.begin(), gaps_.end(), Longer);
    return;
  }
  ++dropped_;
  if (gaps_.empty() || !Longer(gap, gaps_.front())) return;
  std::pop_heap(gaps_.begin(), gaps_.end(), Longer);
  gaps_.back() = gap;
  std::push_heap(gaps_.begin(), gaps_.end(), Longer);
}

std::vector<Window> SuccessGaps::Gaps() const {
  std::vector<Window> sorted = gaps_;
  std::sort(sorted.begin(), sorted.end(),
            [](const Window& a, const Window& b) { return a.start_nanos < b.start_nanos; });
  return sorted;
}

std::vector<Window> SuccessGaps::Merge(const std::vector<const SuccessGaps*>& workers,
                                       int64_t run_start, int64_t run_end) {
  std::vector<Window> none = {{run_start, run_end}};
  int64_t threshold = 0;
  for (const SuccessGaps* worker : workers) {
    none = Intersect(none, NoSuccess(*worker, run_start, run_end));
    threshold = std::max(threshold, worker->threshold_nanos());
  }
  std::vector<Window> kept;
  for (const Window& window : none) {
    if (Length(window) > 0 && Length(window) >= threshold) {
      kept.push_back({window.start_nanos - run_start, window.end_nanos - run_start});
    }
  }
  return kept;
}

RecoveryFigures ComputeRecovery(const RecoveryEvent& event,
                                const std::vector<RecoveryInterval>& intervals,
                                const std::vector<Window>& no_success,
                                const RecoveryOptions& options) {
  RecoveryFigures figures;
  figures.event = event.name;
  figures.at_seconds = event.at_nanos / 1e9;
  if (event.first_success_nanos >= 0) {
    figures.first_success_after_seconds = (event.first_success_nanos - event.at_nanos) / 1e9;
  }

  // The event's interval: the first that ends after it.
  const size_t n = intervals.size();
  size_t first = 0;
  while (first < n && End(intervals[first]) <= figures.at_seconds + kEpsilonSeconds) ++first;

  // The baseline: the measured intervals before the event's, the most recent
  // baseline_window_seconds of them.
  double base_ok = 0, base_seconds = 0;
  std::vector<double> base_p99s;
  for (size_t i = first; i-- > 0 && !intervals[i].warmup;) {
    if (intervals[i].offset_seconds <
        End(intervals[first - 1]) - options.baseline_window_seconds - kEpsilonSeconds) {
      break;
    }
    base_ok += intervals[i].ok;
    base_seconds += intervals[i].seconds;
    if (intervals[i].ok > 0) base_p99s.push_back(intervals[i].p99_us);
  }
  if (base_seconds > 0) figures.baseline_rate = base_ok / base_seconds;
  if (!base_p99s.empty()) figures.baseline_p99_us = Median(base_p99s);

  // Recovery: the first interval from the event's on that starts a run of
  // consecutive intervals within tolerance.
  size_t recovered = n;
  if (first == n) {
    figures.note = "no interval ends after the event";
  } else if (base_seconds == 0) {
    figures.note = "no baseline: the event came in the run's first measured interval";
  } else if (figures.baseline_rate == 0 || figures.baseline_p99_us == 0) {
    figures.note = "no baseline: nothing succeeded before the event";
  } else {
    size_t run = 0;  // consecutive intervals within, ending at i
    const int needed = std::max(options.consecutive_intervals, 1);
    for (size_t i = first; i < n; ++i) {
      const RecoveryInterval& interval = intervals[i];
      const bool within =
          interval.ok > 0 && interval.seconds > 0 &&
          Within(interval.ok / interval.seconds, figures.baseline_rate, options.tolerance) &&
          Within(interval.p99_us, figures.baseline_p99_us, options.tolerance);
      run = within ? run + 1 : 0;
      if (run > 0 && (run == static_cast<size_t>(needed) || i == n - 1)) {
        recovered = i + 1 - run;
        break;
      }
    }
    if (recovered < n) {
      figures.recovered_seconds =
          std::max(0.0, intervals[recovered].offset_seconds - figures.at_seconds);
    } else {
      figures.note = "did not recover by the run's end";
    }
  }

  for (size_t i = first; i < n && i <= recovered; ++i) {
    for (const auto& [code, count] : intervals[i].failed_by_code) {
      figures.failed_by_code[code] += count;
    }
  }

  // The disturbance lasts at least to the end of the event's interval, where
  // the recovery's precision ends.
  int64_t until = std::numeric_limits<int64_t>::max();
  if (recovered < n) {
    until =
        std::llround(std::max(intervals[recovered].offset_seconds, End(intervals[first])) * 1e9);
  }
  int64_t longest = 0;
  for (const Window& window : no_success) {
    if (window.end_nanos <= event.at_nanos || window.start_nanos >= until) continue;
    longest = std::max(longest, window.end_nanos - std::max(window.start_nanos, event.at_nanos));
  }
  figures.unavailable_max_seconds = longest / 1e9;
  return figures;
}

}  // namespace aurigraph::loadgen
