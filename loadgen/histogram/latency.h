// The one configuration every latency histogram of a run uses, so any two of
// them merge exactly: microseconds, 1 us to 1 hour, 3 significant digits.
#pragma once

#include <cstdint>

#include "loadgen/histogram/histogram.h"

namespace aurigraph::loadgen {

inline constexpr int64_t kLatencyLowestMicros = 1;
inline constexpr int64_t kLatencyHighestMicros = 3'600'000'000;
inline constexpr int kLatencySignificantDigits = 3;

inline Histogram MakeLatencyHistogram() {
  return Histogram(kLatencyLowestMicros, kLatencyHighestMicros, kLatencySignificantDigits);
}

// Nanoseconds to the microsecond value recorded (rounded up, so nothing records as 0).
inline int64_t NanosToMicros(int64_t nanos) { return nanos <= 0 ? 0 : (nanos + 999) / 1000; }

}  // namespace aurigraph::loadgen
