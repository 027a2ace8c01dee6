// Parsing of human-written quantities shared by scenarios and command lines:
// durations ("250us", "20ms", "5s", "2m", "1h"), ratios ("0.1%", "0.001") and
// sizes ("1GB", "512MiB").
#pragma once

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace aurigraph {

// Returns nanoseconds. A bare number is rejected: the unit is always required.
absl::StatusOr<int64_t> ParseDuration(absl::string_view text);

// "0.1%" -> 0.001. A bare number ("0.25") is refused: a fraction or a percent?
absl::StatusOr<double> ParseRatio(absl::string_view text);

// Bytes: "512MiB", "1GB", "64KiB", or a bare number of bytes.
absl::StatusOr<int64_t> ParseBytes(absl::string_view text);
// Renders bytes with binary units ("812.5 MiB").
std::string FormatBytes(int64_t bytes);

// Renders nanoseconds with the largest unit that keeps it readable ("1.5ms").
std::string FormatDuration(int64_t nanos);

// A rate per second with at most one decimal ("1950/s", "1234.5/s").
std::string FormatRate(double per_second);

// Unix time in nanoseconds as UTC ISO 8601 with milliseconds ("2026-11-22T21:43:06.120Z").
std::string FormatUnixTime(int64_t unix_nanos);

}  // namespace aurigraph
