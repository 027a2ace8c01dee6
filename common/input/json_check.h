// A check of JSON parsed from an untrusted source (result files, interval
// logs, data files, request templates), before it is used:
//   - nesting at most kMaxJsonDepth deep: nlohmann's dump(), copies and
//     comparisons recurse, so a line of a million '[' overflows the stack;
//   - every floating-point number within the range of int64_t: nlohmann's
//     get<int64_t>() converts a float unchecked, undefined beyond it.
#pragma once

#include <nlohmann/json.hpp>

#include "absl/status/status.h"

namespace aurigraph {

inline constexpr int kMaxJsonDepth = 128;

// INVALID_ARGUMENT naming the first problem ("nested deeper than 128 levels",
// "number 1e+300 out of range").
absl::Status CheckUntrustedJson(const nlohmann::json& json);

}  // namespace aurigraph
