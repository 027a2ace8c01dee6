#include "loadgen/report/spectrum.h"

#include <cmath>

namespace aurigraph::loadgen {

std::vector<std::pair<double, int64_t>> PercentileSpectrum(const Histogram& histogram) {
  std::vector<std::pair<double, int64_t>> points;
  const int64_t count = histogram.TotalCount();
  if (count == 0) return points;
  // Ten points per nine, up to where one sample is left beyond the percentile.
  const double last_x = std::log10(static_cast<double>(count));
  constexpr double kStep = 0.1;
  for (double x = std::log10(2.0); x < last_x; x += kStep) {
    const double percentile = 100.0 * (1.0 - std::pow(10.0, -x));
    points.emplace_back(x, histogram.ValueAtPercentile(percentile));
  }
  points.emplace_back(std::max(last_x, std::log10(2.0)), histogram.Max());
  return points;
}

}  // namespace aurigraph::loadgen
