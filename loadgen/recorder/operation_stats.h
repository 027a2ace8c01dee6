// What one worker measured for one operation: latency histograms of the calls
// that succeeded (corrected from the intended send time, and uncorrected from
// the actual send), the latency of failed calls in a histogram per status code
// (never mixed in: a dead server answers fast), and completions by status code.
// Workers record without locks; stats merge exactly.
#pragma once

#include <array>
#include <cstdint>
#include <optional>

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
    const int code = static_cast<unsigned>(status_code) < kStatusCodeCount ? status_code : 2;
    ++codes_[code];
    if (code == 0) {
      corrected_.Record(NanosToMicros(done_nanos - intended_nanos));
      uncorrected_.Record(NanosToMicros(done_nanos - sent_nanos));
    } else {
      RecordFailure(code, NanosToMicros(done_nanos - intended_nanos));
    }
  }
  // Items reported by a completed response (e.g. transactions accepted in a batch).
  void AddItems(int64_t items) { items_ += items; }
  void Merge(const OperationStats& other);

  // Successful calls only.
  const Histogram& corrected() const { return corrected_; }
  const Histogram& uncorrected() const { return uncorrected_; }
  // Failed calls with `code` (from the intended send time); null when there were none.
  const Histogram* failed(int code) const { return failed_[code] ? &*failed_[code] : nullptr; }
  const std::array<int64_t, kStatusCodeCount>& codes() const { return codes_; }
  int64_t completed() const;
  int64_t items() const { return items_; }

 private:
  // Allocated on a code's first failure, so a run without errors carries none.
  void RecordFailure(int code, int64_t latency_us);

  Histogram corrected_;
  Histogram uncorrected_;
  std::array<std::optional<Histogram>, kStatusCodeCount> failed_;
  std::array<int64_t, kStatusCodeCount> codes_{};
  int64_t items_ = 0;
};

}  // namespace aurigraph::loadgen
