// gRPC server reflection as a client: asks a server for the file declaring a
// service and every file that file imports, so a service can be driven with no
// .proto at hand. grpc.reflection.v1 is asked first; a server that does not
// serve it (UNIMPLEMENTED: gRPC C++ before 1.57 serves only v1alpha) is asked
// grpc.reflection.v1alpha, whose messages are the same. Returns serialized
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

struct ServiceFiles {
  std::vector<std::string> files;  // serialized FileDescriptorProtos
  std::string protocol;            // the reflection that answered: "grpc.reflection.v1"...
};

// UNIMPLEMENTED when the server offers no reflection; NOT_FOUND when it does
// not know `service`, or lacks a file that one of its files imports; the error
// names the problem in a line.
absl::StatusOr<ServiceFiles> FetchServiceFiles(const std::shared_ptr<grpc::Channel>& channel,
                                               const std::string& service, int64_t timeout_nanos);

}  // namespace aurigraph::loadgen
