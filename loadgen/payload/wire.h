// Protobuf wire-format reading shared by this folder's encoder
// (request_template.cc) and field readers (message_fields.cc).
#pragma once

#include <cstdint>
#include <string_view>

namespace aurigraph::loadgen::wire {

// Reads a varint off the front of `in`; false when it is cut short or overlong.
inline bool ReadVarint(std::string_view& in, uint64_t* value) {
  uint64_t result = 0;
  for (int shift = 0; shift < 64 && !in.empty(); shift += 7) {
    const auto byte = static_cast<uint8_t>(in.front());
    in.remove_prefix(1);
    result |= static_cast<uint64_t>(byte & 0x7F) << shift;
    if ((byte & 0x80) == 0) {
      *value = result;
      return true;
    }
  }
  return false;
}

}  // namespace aurigraph::loadgen::wire
