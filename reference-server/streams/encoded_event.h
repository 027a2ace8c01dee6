// An event published to many subscribers is serialized once: each
// subscriber's write sends the same bytes (a shared, reference-counted slice)
// with a field of its own appended, such as the moment it was sent. Protobuf
// reads fields in any order and keeps the last value of a scalar field, so
// appending a field to serialized bytes sets it without serializing the
// message again.
#pragma once

#include <google/protobuf/io/coded_stream.h>
#include <grpcpp/support/byte_buffer.h>
#include <grpcpp/support/slice.h>

#include <cstdint>

namespace aurigraph::refserver {

// `bytes` followed by int64 field `field_number` (a varint) set to `value`.
inline void WithInt64Field(const grpc::Slice& bytes, int field_number, int64_t value,
                           grpc::ByteBuffer* out) {
  uint8_t field[16];  // a tag (<= 5 bytes) and a varint (<= 10 bytes)
  using google::protobuf::io::CodedOutputStream;
  uint8_t* end =
      CodedOutputStream::WriteTagToArray(static_cast<uint32_t>(field_number) << 3, field);
  end = CodedOutputStream::WriteVarint64ToArray(static_cast<uint64_t>(value), end);
  const size_t size = static_cast<size_t>(end - field);
  const grpc::Slice slices[] = {bytes, grpc::Slice(field, size)};
  *out = grpc::ByteBuffer(slices, 2);
}

}  // namespace aurigraph::refserver
