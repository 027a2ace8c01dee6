// gRPC status messages as the tools keep them (failed calls' messages in
// results and interval logs): bounded whatever a target answers. A message is
// kept as well-formed UTF-8 on one line (ill-formed bytes become U+FFFD,
// control characters spaces, so it prints safely on a terminal) and at most
// kMaxStatusMessageBytes long (cut at a character boundary, ending in "…").
#pragma once

#include <cstddef>
#include <string_view>

namespace aurigraph {

inline constexpr size_t kMaxStatusMessageBytes = 200;
// Distinct messages kept per status code (per operation); the rest are counted together.
inline constexpr size_t kMaxStatusMessagesPerCode = 10;

// Writes `message` as kept into `out`; returns its length. No allocation.
size_t KeepStatusMessage(std::string_view message, char (&out)[kMaxStatusMessageBytes]);

// Whether `message` is as KeepStatusMessage keeps it (for text read back from files).
bool IsKeptStatusMessage(std::string_view message);

}  // namespace aurigraph
