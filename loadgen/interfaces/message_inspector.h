// What the stream driver needs to know about messages, without knowing their
// types (implemented by the payload layer).
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace aurigraph::loadgen {

// The key that pairs a bidi reply with its request, the server's send stamp, a
// per-message status code and the start of a measured phase.
class MessageInspector {
 public:
  struct Reading {
    std::optional<uint64_t> key;
    std::optional<int64_t> sent_at_unix_nanos;
    std::optional<int> status_code;
    std::optional<int64_t> phase_start_unix_nanos;  // set only when the phase's condition holds
  };
  virtual ~MessageInspector() = default;
  virtual std::optional<uint64_t> RequestKey(std::string_view request) const = 0;
  virtual Reading Inspect(std::string_view response) const = 0;
};

}  // namespace aurigraph::loadgen
