#include "loadgen/progress/progress.h"

#include <cstdio>
#include <string>

#include "common/units/units.h"
#include "loadgen/histogram/latency.h"
#include "loadgen/result/run_result.h"

namespace aurigraph::loadgen {

ProgressPrinter::ProgressPrinter(std::ostream& out, bool terminal, double every_seconds)
    : out_(out),
      terminal_(terminal),
      every_seconds_(every_seconds),
      merged_(MakeLatencyHistogram()) {}

void ProgressPrinter::OnRunStart(const RunDescription& run) { run_ = run; }

void ProgressPrinter::OnInterval(const IntervalSlice& slice, const TimelinePoint& point) {
  int64_t count = 0;
  merged_.Reset();
  // The calls' figures: a finality operation counts the same requests again.
  const auto counted = [&](size_t i) {
    return i >= run_.operations.size() || !run_.operations[i].finality();
  };
  for (size_t i = 0; i < slice.operations.size(); ++i) {
    const IntervalOperation& op = slice.operations[i];
    if (!counted(i)) continue;
    if (op.latency.TotalCount() > 0) merged_.Add(op.latency);
    count += op.count;
  }
  for (size_t i = 0; i < point.operations.size(); ++i) {
    if (counted(i)) errors_ += point.operations[i].errors;
  }
  completed_ += count;
  const double elapsed = point.offset_seconds + point.seconds;
  if (!terminal_ && last_printed_ >= 0 && elapsed - last_printed_ < every_seconds_) return;
  last_printed_ = elapsed;

  char line[256];
  const std::string total =
      run_.duration_nanos > 0 ? " / " + FormatDuration(run_.duration_nanos) : "";
  const double rate = point.seconds > 0 ? static_cast<double>(count) / point.seconds : 0;
  char target[64] = "";
  // Against a rate profile, its mean over the interval.
  const double target_rate =
      run_.load_profile.empty() || run_.load_model != "open"
          ? run_.target_rate
          : LoadProfileMean(run_.load_profile, point.offset_seconds, elapsed);
  if (target_rate > 0) std::snprintf(target, sizeof target, " of %.0f/s", target_rate);
  const std::string p50 =
      merged_.TotalCount() ? FormatDuration(merged_.ValueAtPercentile(50) * 1000) : "-";
  const std::string p99 =
      merged_.TotalCount() ? FormatDuration(merged_.ValueAtPercentile(99) * 1000) : "-";
  std::snprintf(
      line, sizeof line, "[%s%s] %.0f/s%s  p50 %s  p99 %s  errors %lld (%.2f%%)%s",
      FormatDuration(static_cast<int64_t>(elapsed * 1e9)).c_str(), total.c_str(), rate, target,
      p50.c_str(), p99.c_str(), static_cast<long long>(errors_),
      completed_ > 0 ? 100.0 * static_cast<double>(errors_) / static_cast<double>(completed_) : 0.0,
      point.warmup ? "  warm-up" : "");
  if (terminal_) {
    out_ << "\r\033[K" << line << std::flush;  // rewrite the line in place
  } else {
    out_ << "progress " << line << std::endl;
  }
  printed_ = true;
}

void ProgressPrinter::Finish() {
  if (terminal_ && printed_) out_ << "\n" << std::flush;
}

}  // namespace aurigraph::loadgen
