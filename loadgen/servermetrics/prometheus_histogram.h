// Histograms read from Prometheus's text exposition format (version 0.0.4),
// and what was observed between two reads of them. Pure functions: the
// scraping is in server_metrics_hook.h.
#pragma once

#include <map>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace aurigraph::loadgen {

// One histogram as read at one moment: the series of `metric` that carry
// every label asked for, added up. Counts are cumulative, as exposed.
struct HistogramReading {
  std::map<double, double> cumulative;  // upper bound (le, +inf included) -> count
  double count = 0;
  double sum = 0;
  int series = 0;  // how many series were added up
};

// NOT_FOUND when no series of the histogram has the labels; INVALID_ARGUMENT
// when the text is not the exposition format, or the series have different
// bucket bounds (they could not be added).
absl::StatusOr<HistogramReading> ReadHistogram(absl::string_view exposition,
                                               const std::string& metric,
                                               const std::map<std::string, std::string>& labels);

// What was observed from `before` to `after`. A counter that went down means
// the process restarted in between (as Prometheus's increase() assumes): then
// everything in `after` is new, and `restarted` says so (what it observed
// before its restart is lost). A `before` with no series (none existed yet)
// is nothing.
HistogramReading ObservedBetween(const HistogramReading& before, const HistogramReading& after,
                                 bool* restarted);

// `total` plus `more`; INVALID_ARGUMENT when their bounds differ.
absl::Status AddReading(HistogramReading& total, const HistogramReading& more);

}  // namespace aurigraph::loadgen
