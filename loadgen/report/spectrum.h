// The latency percentile spectrum of a histogram, as HDR plots draw it: points
// evenly spaced in "nines" (x = log10(1 / (1 - q)), so 90% is 1, 99% is 2, ...)
// from the median to the highest percentile the sample count supports, then the
// maximum. Values are exact bucket values from the histogram, not estimates.
#pragma once

#include <cstdint>
#include <utility>
#include <vector>

#include "loadgen/histogram/histogram.h"

namespace aurigraph::loadgen {

// {x, value}; empty for an empty histogram.
std::vector<std::pair<double, int64_t>> PercentileSpectrum(const Histogram& histogram);

}  // namespace aurigraph::loadgen
