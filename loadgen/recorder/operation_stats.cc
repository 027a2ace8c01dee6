#include "loadgen/recorder/operation_stats.h"

namespace aurigraph::loadgen {

Histogram MakeLatencyHistogram() { return Histogram(1, 3'600'000'000LL, 3); }

OperationStats::OperationStats()
    : corrected_(MakeLatencyHistogram()), uncorrected_(MakeLatencyHistogram()) {}

void OperationStats::Merge(const OperationStats& other) {
  corrected_.Add(other.corrected_);
  uncorrected_.Add(other.uncorrected_);
  for (int i = 0; i < kStatusCodeCount; ++i) codes_[i] += other.codes_[i];
  items_ += other.items_;
}

}  // namespace aurigraph::loadgen
