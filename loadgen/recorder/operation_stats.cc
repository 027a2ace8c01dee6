#include "loadgen/recorder/operation_stats.h"

namespace aurigraph::loadgen {

Histogram MakeLatencyHistogram() { return Histogram(1, 3'600'000'000LL, 3); }

OperationStats::OperationStats()
    : corrected_(MakeLatencyHistogram()), uncorrected_(MakeLatencyHistogram()) {}

void OperationStats::RecordFailure(int code, int64_t latency_us) {
  if (!failed_[code]) failed_[code].emplace(MakeLatencyHistogram());
  failed_[code]->Record(latency_us);
}

int64_t OperationStats::completed() const {
  int64_t total = 0;
  for (const int64_t count : codes_) total += count;
  return total;
}

void OperationStats::Merge(const OperationStats& other) {
  corrected_.Add(other.corrected_);
  uncorrected_.Add(other.uncorrected_);
  for (int code = 0; code < kStatusCodeCount; ++code) {
    if (!other.failed_[code]) continue;
    if (!failed_[code]) failed_[code].emplace(MakeLatencyHistogram());
    failed_[code]->Add(*other.failed_[code]);
  }
  for (int i = 0; i < kStatusCodeCount; ++i) codes_[i] += other.codes_[i];
  items_ += other.items_;
}

}  // namespace aurigraph::loadgen
