// Resolves "package.Service/Method" names against the bundled Aurigraph API
// (the descriptors compiled from proto/), telling the runner each method's
// request type and call kind.
#pragma once

#include <string>

#include "absl/status/statusor.h"

namespace google::protobuf {
class Descriptor;
}

namespace aurigraph::loadgen {

enum class CallKind { kUnary, kServerStreaming, kClientStreaming, kBidiStreaming };

struct MethodInfo {
  std::string path;  // "/package.Service/Method", as gRPC sends it
  const google::protobuf::Descriptor* request_type = nullptr;
  const google::protobuf::Descriptor* response_type = nullptr;
  CallKind kind = CallKind::kUnary;
};

// NOT_FOUND naming the RPC when the bundled API has no such method.
absl::StatusOr<MethodInfo> FindBundledMethod(const std::string& rpc);

}  // namespace aurigraph::loadgen
