// gRPC server reflection (grpc.reflection.v1alpha) as a client: asks a server
// for the file declaring a service and every file that file imports, so a
// service can be driven with no .proto at hand. Returns serialized
// FileDescriptorProtos; building descriptors from them is the catalog's job.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace grpc {
class Channel;
}

namespace aurigraph::loadgen {

// UNIMPLEMENTED when the server offers no reflection; NOT_FOUND when it does
// not know `service`; the error names the problem in a line.
absl::StatusOr<std::vector<std::string>> FetchServiceFiles(
    const std::shared_ptr<grpc::Channel>& channel, const std::string& service,
    int64_t timeout_nanos);

}  // namespace aurigraph::loadgen
