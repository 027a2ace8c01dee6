// gRPC status code names ("UNAVAILABLE") <-> numbers (14), without depending on gRPC.
#pragma once

#include <string>

#include "absl/status/statusor.h"

namespace aurigraph {

inline constexpr int kStatusCodeCount = 17;  // 0 (OK) .. 16 (UNAUTHENTICATED)

// "UNKNOWN" for numbers outside 0..16.
const char* StatusCodeName(int code);
// Case-insensitive name, or a number 0..16.
absl::StatusOr<int> ParseStatusCode(const std::string& name);

}  // namespace aurigraph
