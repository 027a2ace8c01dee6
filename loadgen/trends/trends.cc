#include "loadgen/trends/trends.h"

#include <algorithm>
#include <cmath>
#include <functional>
#include <vector>

namespace aurigraph::loadgen {
namespace {

constexpr int kMinimumTrendSamples = 10;
constexpr size_t kMinimumDriftIntervals = 4;

std::vector<const TimelinePoint*> Measured(const Timeline& timeline) {
  std::vector<const TimelinePoint*> out;
  for (const TimelinePoint& p : timeline.points) {
    // A short last interval (the drain) says little about the steady state.
    if (!p.warmup && p.seconds >= timeline.interval_seconds / 2) out.push_back(&p);
  }
  return out;
}

double Median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  const size_t n = values.size();
  return n % 2 == 1 ? values[n / 2] : (values[n / 2 - 1] + values[n / 2]) / 2;
}

Drift Quarters(const Timeline& timeline,
               const std::function<bool(const TimelinePoint&, double*)>& value, bool median) {
  std::vector<double> values;
  for (const TimelinePoint* p : Measured(timeline)) {
    double v = 0;
    if (value(*p, &v)) values.push_back(v);
  }
  Drift d;
  if (values.size() < kMinimumDriftIntervals) return d;
  const size_t quarter = values.size() / 4;
  const std::vector<double> first(values.begin(), values.begin() + quarter);
  const std::vector<double> last(values.end() - quarter, values.end());
  const auto mean = [](const std::vector<double>& v) {
    double sum = 0;
    for (double x : v) sum += x;
    return sum / static_cast<double>(v.size());
  };
  d.first = median ? Median(first) : mean(first);
  d.last = median ? Median(last) : mean(last);
  d.measured = d.first > 0;
  d.change = d.measured ? d.last / d.first - 1 : 0;
  return d;
}

}  // namespace

Trend RssTrend(const Timeline& timeline, Process process) {
  std::vector<std::pair<double, double>> samples;  // hours, bytes
  for (const TimelinePoint* p : Measured(timeline)) {
    const int64_t rss = process == Process::kLoadgen ? p->loadgen_rss_bytes : p->target_rss_bytes;
    if (rss > 0) samples.emplace_back((p->offset_seconds + p->seconds) / 3600.0, rss);
  }
  samples.erase(samples.begin(), samples.begin() + static_cast<ptrdiff_t>(samples.size() / 5));
  Trend t;
  t.samples = static_cast<int>(samples.size());
  if (t.samples < kMinimumTrendSamples) return t;
  double mean_x = 0, mean_y = 0;
  for (const auto& [x, y] : samples) {
    mean_x += x;
    mean_y += y;
  }
  mean_x /= t.samples;
  mean_y /= t.samples;
  double sxx = 0, sxy = 0, syy = 0;
  for (const auto& [x, y] : samples) {
    sxx += (x - mean_x) * (x - mean_x);
    sxy += (x - mean_x) * (y - mean_y);
    syy += (y - mean_y) * (y - mean_y);
  }
  if (sxx <= 0) return t;
  t.measured = true;
  t.slope_per_hour = sxy / sxx;
  t.r2 = syy > 0 ? (sxy * sxy) / (sxx * syy) : 1;
  const double residual = std::max(0.0, syy - t.slope_per_hour * sxy);
  t.standard_error_per_hour = std::sqrt(residual / (t.samples - 2) / sxx);
  return t;
}

Drift P99Drift(const Timeline& timeline) {
  return Quarters(
      timeline,
      [](const TimelinePoint& p, double* v) {
        int64_t highest = 0;
        for (const TimelineOperation& op : p.operations) {
          if (op.timed > 0) highest = std::max(highest, op.p99);
        }
        *v = static_cast<double>(highest);
        return highest > 0;
      },
      /*median=*/true);
}

Drift RateDrift(const RunResult& result) {
  return Quarters(
      result.timeline,
      [&result](const TimelinePoint& p, double* v) {
        int64_t count = 0;
        for (size_t i = 0; i < p.operations.size(); ++i) {
          if (i < result.operations.size() && result.operations[i].finality) continue;
          count += p.operations[i].count;
        }
        *v = static_cast<double>(count) / p.seconds;
        return true;
      },
      /*median=*/false);
}

}  // namespace aurigraph::loadgen
