// The pieces of HdrHistogram's V2 encoding that histogram_codec.cc assembles,
// exposed so that tests can build encodings the encoder never writes (hostile
// or corrupt ones) from the same primitives.
#pragma once

#include <cstdint>
#include <string>

#include "absl/strings/string_view.h"

namespace aurigraph::loadgen::v2 {

// The 40-byte header of an uncompressed V2 encoding whose counts payload is
// `payload_length` bytes long.
void PutHeader(std::string* out, uint32_t payload_length, int significant_digits,
               int64_t lowest_discernible, int64_t highest_trackable);

// One payload entry: a count (>= 0), or a run of -value empty buckets (value < 0),
// as ZigZag LEB128 of at most 9 bytes.
void PutZigZag(std::string* out, int64_t value);

// The compressed form of an uncompressed encoding: cookie, length, zlib stream.
std::string Compress(absl::string_view uncompressed);

}  // namespace aurigraph::loadgen::v2
