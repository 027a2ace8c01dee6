// What the runner asks of a wire: connect to the target, describe its services,
// and make each worker's transports. gRPC in production (GrpcTransportFactory);
// a scripted fake in tests, so a whole run is tested without sockets.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "loadgen/interfaces/stream_transport.h"
#include "loadgen/interfaces/transport.h"

namespace aurigraph::loadgen {

// A unary method as a transport calls it.
struct UnaryMethod {
  std::string path;            // "/package.Service/Method"
  int64_t deadline_nanos = 0;  // per call; 0 = none
  bool keep_response = false;  // hand OK responses' bytes to the driver
};

// What a wire's connections carried, as the kernel counted it.
struct ConnectionBytes {
  int64_t sent = 0;
  int64_t received = 0;
};

// Services as the target describes them (server reflection).
struct ServiceDescriptions {
  std::vector<std::string> files;  // serialized FileDescriptorProtos with their dependencies
  std::string protocol;            // the reflection service that answered ("grpc.reflection.v1")
};

class TransportFactory {
 public:
  virtual ~TransportFactory() = default;
  // Connects to the target; UNAVAILABLE naming it when it cannot be reached.
  // Called once, before anything else.
  virtual absl::Status Connect() = 0;
  // The target's own description of `services` (server reflection).
  virtual absl::StatusOr<ServiceDescriptions> DescribeServices(
      const std::vector<std::string>& services) = 0;
  // Worker `worker` of `workers`: its transport for `methods` with at most
  // `slots` calls in flight, and its stream transport for `paths` with `slots` streams.
  virtual std::unique_ptr<Transport> MakeTransport(int worker, int workers,
                                                   std::vector<UnaryMethod> methods,
                                                   uint32_t slots) = 0;
  virtual std::unique_ptr<StreamTransport> MakeStreamTransport(int worker, int workers,
                                                               std::vector<std::string> paths,
                                                               uint32_t slots) = 0;
  // Starts what ConnectionBytesSinceMark counts (the run's start).
  virtual void MarkConnectionBytes() {}
  // What the wire's connections to the target sent and received since
  // MarkConnectionBytes, all operations together, for a wire whose
  // transports cannot count whole bytes themselves; nothing when unknown.
  virtual std::optional<ConnectionBytes> ConnectionBytesSinceMark() { return std::nullopt; }
  // The target's addresses: one, or each node of a cluster target given as a list.
  virtual std::vector<std::string> Addresses() const { return {"the target"}; }
  // A stream transport for `path` with a slot per address, slot i streaming
  // from Addresses()[i] on its own connection (e.g. an event subscription to
  // every node). Called after Connect.
  virtual std::unique_ptr<StreamTransport> MakeTransportPerAddress(std::string path) {
    return MakeStreamTransport(0, 1, {std::move(path)}, 1);
  }
};

}  // namespace aurigraph::loadgen
