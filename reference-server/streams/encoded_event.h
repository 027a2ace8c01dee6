// An event published to many subscribers, serialized once: each subscriber's
// write sends the same bytes (a shared, reference-counted slice) with a field
// of its own appended, such as the moment it was sent. Protobuf reads fields
// in any order and keeps the last value of a scalar field, so appending a
// field to serialized bytes sets it without serializing the message again.
#pragma once

#include <google/protobuf/message_lite.h>
#include <grpcpp/support/byte_buffer.h>
#include <grpcpp/support/slice.h>

#include <cstdint>
#include <memory>
#include <utility>

namespace aurigraph::refserver {

template <typename Message>
struct EncodedEvent {
  Message message;    // what subscribers' filters look at
  grpc::Slice bytes;  // `message` serialized
};

template <typename Message>
std::shared_ptr<const EncodedEvent<Message>> Encode(Message message) {
  auto event = std::make_shared<EncodedEvent<Message>>();
  event->message = std::move(message);
  event->bytes = grpc::Slice(event->message.ByteSizeLong());
  event->message.SerializeWithCachedSizesToArray(const_cast<uint8_t*>(event->bytes.begin()));
  return event;
}

// `bytes` followed by int64 field `field_number` (a varint) set to `value`.
inline void WithInt64Field(const grpc::Slice& bytes, int field_number, int64_t value,
                           grpc::ByteBuffer* out) {
  uint8_t field[16];  // a tag (<= 5 bytes) and a varint (<= 10 bytes)
  size_t size = 0;
  const auto put_varint = [&](uint64_t v) {
    for (; v >= 0x80; v >>= 7) field[size++] = static_cast<uint8_t>(v | 0x80);
    field[size++] = static_cast<uint8_t>(v);
  };
  put_varint(static_cast<uint64_t>(field_number) << 3);  // wire type 0: varint
  put_varint(static_cast<uint64_t>(value));
  const grpc::Slice slices[] = {bytes, grpc::Slice(field, size)};
  *out = grpc::ByteBuffer(slices, 2);
}

}  // namespace aurigraph::refserver
