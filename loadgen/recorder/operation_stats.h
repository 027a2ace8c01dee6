// What one worker measured for one operation: latency histograms (corrected from
// the intended send time, and uncorrected from the actual send) and completions
// by gRPC status code. Workers record without locks; stats merge exactly.
#pragma once

#include <array>
#include <cstdint>

#include "common/status_codes/status_codes.h"
#include "loadgen/histogram/histogram.h"

namespace aurigraph::loadgen {

// Latency histograms are in microseconds, 1 us to 1 hour, 3 significant digits.
Histogram MakeLatencyHistogram();
// Nanoseconds to the microsecond value recorded (rounded up, so nothing records as 0).
inline int64_t NanosToMicros(int64_t nanos) { return nanos <= 0 ? 0 : (nanos + 999) / 1000; }

class OperationStats {
 public:
  OperationStats();

  void RecordCompletion(int64_t intended_nanos, int64_t sent_nanos, int64_t done_nanos,
                        int status_code) {
    corrected_.Record(NanosToMicros(done_nanos - intended_nanos));
    uncorrected_.Record(NanosToMicros(done_nanos - sent_nanos));
    ++codes_[static_cast<unsigned>(status_code) < kStatusCodeCount ? status_code : 2 /* UNKNOWN */];
  }
  // Items reported by a completed response (e.g. transactions accepted in a batch).
  void AddItems(int64_t items) { items_ += items; }
  void Merge(const OperationStats& other);

  const Histogram& corrected() const { return corrected_; }
  const Histogram& uncorrected() const { return uncorrected_; }
  const std::array<int64_t, kStatusCodeCount>& codes() const { return codes_; }
  int64_t completed() const { return corrected_.TotalCount(); }
  int64_t items() const { return items_; }

 private:
  Histogram corrected_;
  Histogram uncorrected_;
  std::array<int64_t, kStatusCodeCount> codes_{};
  int64_t items_ = 0;
};

}  // namespace aurigraph::loadgen
