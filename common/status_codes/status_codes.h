// gRPC status code names ("UNAVAILABLE") <-> numbers (14), without depending on gRPC.
#pragma once

#include <string>

#include "absl/status/statusor.h"

namespace aurigraph {

inline constexpr int kStatusCodeCount = 17;  // 0 (OK) .. 16 (UNAUTHENTICATED)

// The codes by name, for code that sets them without gRPC's own enum.
namespace status_code {
inline constexpr int kOk = 0;
inline constexpr int kCancelled = 1;
inline constexpr int kUnknown = 2;
inline constexpr int kInvalidArgument = 3;
inline constexpr int kDeadlineExceeded = 4;
inline constexpr int kNotFound = 5;
inline constexpr int kAlreadyExists = 6;
inline constexpr int kPermissionDenied = 7;
inline constexpr int kResourceExhausted = 8;
inline constexpr int kFailedPrecondition = 9;
inline constexpr int kUnimplemented = 12;
inline constexpr int kInternal = 13;
inline constexpr int kUnavailable = 14;
inline constexpr int kUnauthenticated = 16;
}  // namespace status_code

// "UNKNOWN" for numbers outside 0..16.
const char* StatusCodeName(int code);
// Case-insensitive name, or a number 0..16.
absl::StatusOr<int> ParseStatusCode(const std::string& name);

}  // namespace aurigraph
