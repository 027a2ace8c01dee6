// Trends over a run's timeline, for long (soak) runs: whether memory grows
// (a least-squares line through the RSS samples, in bytes per hour) and whether
// latency or throughput drift (the end of the run against its beginning).
// Only the measured window counts, and its first fifth is left out of the
// memory fit: allocators and caches settle there, which is not a leak.
#pragma once

#include "loadgen/result/run_result.h"

namespace aurigraph::loadgen {

struct Trend {
  bool measured = false;  // enough samples (at least 10)
  double slope_per_hour = 0;
  double standard_error_per_hour = 0;  // of the slope: its noise, from the residuals
  double r2 = 0;                       // how well a line explains the samples
  int samples = 0;
};

enum class Process { kLoadgen, kTarget };
Trend RssTrend(const Timeline& timeline, Process process);

struct Drift {
  bool measured = false;  // at least 4 measured intervals with data
  double first = 0;       // the first quarter of the measured window
  double last = 0;        // the last quarter
  double change = 0;      // last / first - 1
};

// Per-interval p99 (the highest across operations), median over each quarter.
Drift P99Drift(const Timeline& timeline);
// Completions (and stream messages) per second, mean over each quarter; a
// finality operation's items are the same requests again, not counted.
Drift RateDrift(const RunResult& result);

}  // namespace aurigraph::loadgen
