// Requests decoded by the server itself instead of by gRPC.
//
// gRPC 1.51's server inflates a compressed request in full before its size
// check (message_decompress filter), so one 1 MB gzip request that inflates to
// 1 GiB costs a gigabyte. The reference server therefore turns gRPC's
// decompression off (GRPC_ARG_ENABLE_PER_MESSAGE_DECOMPRESSION) and decodes
// each request of its own services here: a compressed request is inflated
// only as far as the message limit (twice: once to measure, once to parse, so
// that a bomb is refused having cost CPU for `limit` bytes and no memory),
// and a request that cannot be decoded ends its call with a status that says
// why (RESOURCE_EXHAUSTED beyond the limit, INTERNAL for bad gzip or bytes
// that are not the request message) instead of gRPC's bare UNIMPLEMENTED.
//
// Services take Decoded<Request> through the SerializationTraits below; see
// service/gated_service.h for how their methods are registered.
#pragma once

#include <google/protobuf/arena.h>
#include <google/protobuf/message_lite.h>
#include <grpcpp/impl/serialization_traits.h>
#include <grpcpp/support/byte_buffer.h>
#include <grpcpp/support/status.h>

#include <cstdint>

namespace aurigraph::refserver {

// The largest request message, compressed or once inflated.
inline constexpr int64_t kMaxMessageBytes = 64 << 20;

template <typename Message>
struct Decoded {
  Message message;
  grpc::Status error;  // not OK: the request could not be decoded; the call ends with it
};

// A unary call's request, decoded onto an arena that lives as long as the call
// (service/gated_service.h): its nested messages and string objects are taken
// from the arena's blocks and freed together, not one by one (a string longer
// than 15 bytes still has its characters from malloc). Decoded onto the heap,
// a batch of 10,000 transactions was about 80,000 allocations, and glibc's
// malloc and free were half the server's CPU in tps-batch.
template <typename Message>
struct ArenaDecoded {
  Message* message = nullptr;  // on the call's arena
  grpc::Status error;
};

// Decodes one request message from `buffer` (consuming it) into `message`.
grpc::Status DecodeRequest(grpc::ByteBuffer* buffer, google::protobuf::MessageLite* message,
                           int64_t limit = kMaxMessageBytes);

}  // namespace aurigraph::refserver

namespace grpc {

template <typename Message>
class SerializationTraits<aurigraph::refserver::Decoded<Message>, void> {
 public:
  // Always OK for gRPC: a request that cannot be decoded reaches the service
  // with `error` set, so the service can end the call with that status.
  static Status Deserialize(ByteBuffer* buffer, aurigraph::refserver::Decoded<Message>* decoded) {
    decoded->error = aurigraph::refserver::DecodeRequest(buffer, &decoded->message);
    return Status::OK;
  }
};

template <typename Message>
class SerializationTraits<aurigraph::refserver::ArenaDecoded<Message>, void> {
 public:
  static Status Deserialize(ByteBuffer* buffer,
                            aurigraph::refserver::ArenaDecoded<Message>* decoded) {
    decoded->error = aurigraph::refserver::DecodeRequest(buffer, decoded->message);
    return Status::OK;
  }
};

}  // namespace grpc
