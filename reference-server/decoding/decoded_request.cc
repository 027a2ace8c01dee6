#include "reference-server/decoding/decoded_request.h"

#include <grpc/byte_buffer.h>
#include <grpc/byte_buffer_reader.h>
#include <grpcpp/support/proto_buffer_reader.h>

#include "absl/strings/str_cat.h"
#include "reference-server/decoding/inflating_stream.h"

namespace aurigraph::refserver {
namespace {

// The message's bytes as they arrived, and how they were compressed: with
// gRPC's decompression off, the compressed flag of a message survives as the
// byte buffer's compression algorithm.
class ArrivedBytes final : public grpc::ProtoBufferReader {
 public:
  explicit ArrivedBytes(grpc::ByteBuffer* buffer) : grpc::ProtoBufferReader(buffer) {}
  grpc_compression_algorithm compression() { return reader()->buffer_in->data.raw.compression; }
};

}  // namespace

grpc::Status DecodeRequest(grpc::ByteBuffer* buffer, google::protobuf::MessageLite* message,
                           int64_t limit) {
  if (!buffer->Valid()) {
    return grpc::Status(grpc::StatusCode::INTERNAL, "the request carried no message");
  }
  grpc::Status status;
  const auto parse_failed = [&] {
    return grpc::Status(grpc::StatusCode::INTERNAL,
                        absl::StrCat("the request is not a valid ", message->GetTypeName()));
  };
  ArrivedBytes arrived(buffer);
  const grpc_compression_algorithm algorithm = arrived.compression();
  if (algorithm == GRPC_COMPRESS_NONE) {
    if (!message->ParseFromZeroCopyStream(&arrived)) status = parse_failed();
  } else if (algorithm == GRPC_COMPRESS_GZIP || algorithm == GRPC_COMPRESS_DEFLATE) {
    const auto format = algorithm == GRPC_COMPRESS_GZIP ? InflatingInputStream::Format::kGzip
                                                        : InflatingInputStream::Format::kZlib;
    const char* name = algorithm == GRPC_COMPRESS_GZIP ? "gzip" : "deflate";
    InflatingInputStream measure(&arrived, format, limit);
    measure.Consume();
    if (measure.exceeded_limit()) {
      status = grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED,
                            absl::StrCat("the ", name, " request inflates to more than ", limit,
                                         " bytes, the message limit"));
    } else if (!measure.error().empty()) {
      status = grpc::Status(grpc::StatusCode::INTERNAL,
                            absl::StrCat("the request is not valid ", name, ": ", measure.error()));
    } else {
      ArrivedBytes again(buffer);
      InflatingInputStream inflated(&again, format, limit);
      if (!message->ParseFromZeroCopyStream(&inflated)) status = parse_failed();
    }
  } else {
    status = grpc::Status(grpc::StatusCode::UNIMPLEMENTED,
                          absl::StrCat("request compression algorithm ", algorithm,
                                       " is not supported (gzip and deflate are)"));
  }
  buffer->Clear();
  return status;
}

}  // namespace aurigraph::refserver
