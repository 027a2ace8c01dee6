#include "common/status_codes/status_codes.h"

#include <cctype>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace aurigraph {
namespace {
constexpr const char* kNames[kStatusCodeCount] = {
    "OK",        "CANCELLED",      "UNKNOWN",           "INVALID_ARGUMENT",   "DEADLINE_EXCEEDED",
    "NOT_FOUND", "ALREADY_EXISTS", "PERMISSION_DENIED", "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION",
    "ABORTED",   "OUT_OF_RANGE",   "UNIMPLEMENTED",     "INTERNAL",           "UNAVAILABLE",
    "DATA_LOSS", "UNAUTHENTICATED"};
}  // namespace

const char* StatusCodeName(int code) {
  return code >= 0 && code < kStatusCodeCount ? kNames[code] : "UNKNOWN";
}

absl::StatusOr<int> ParseStatusCode(const std::string& name) {
  int number = 0;
  if (absl::SimpleAtoi(name, &number) && number >= 0 && number < kStatusCodeCount) return number;
  std::string upper;
  for (char c : name)
    upper.push_back(static_cast<char>(std::toupper(static_cast<unsigned char>(c))));
  for (int i = 0; i < kStatusCodeCount; ++i) {
    if (upper == kNames[i]) return i;
  }
  return absl::InvalidArgumentError(absl::StrCat("unknown gRPC status code '", name, "'"));
}

}  // namespace aurigraph
