// Unary gRPC calls framed by nghttp2, the HTTP/2 library h2load is built on,
// instead of gRPC's own library, which costs several times h2load's CPU per
// call: a call is a POST of the length-prefixed message with its metadata
// (and grpc-timeout), answered by headers, the message and trailers that
// carry grpc-status and grpc-message. Plaintext and identity encoding only.
// Calls share their worker's connections (HTTP/2 streams), one call after
// another over them in turn. A call ends when the server ends its stream. A
// connection that breaks fails its calls UNAVAILABLE, and the next call opens
// a new one; one that stops taking streams (GOAWAY, stream ids spent)
// finishes its calls while a new one takes the next; a call the server
// refused unprocessed (REFUSED_STREAM) is sent again once, as gRPC's library
// does. A deadline is the server's (grpc-timeout)
// and the client's: the call is reset and ends DEADLINE_EXCEEDED at its time.
// A call's frames are written when the driver next waits (Next,
// SleepThrough), or 20 us after the first call not yet written: calls started
// together go out in one write.
// Knows nothing of schedules, histograms or results.
#pragma once

#include <sys/socket.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "loadgen/interfaces/transport.h"
#include "loadgen/interfaces/transport_factory.h"

namespace aurigraph::loadgen {

// Where a connection goes.
struct Nghttp2Endpoint {
  sockaddr_storage address{};
  socklen_t length = 0;
  std::string name;       // HOST:PORT, for messages
  std::string authority;  // the :authority header
};

class Nghttp2GrpcTransport final : public Transport {
 public:
  // `connections` connections to `endpoint`, opened now (one not opened
  // within `connect_timeout_nanos` fails its calls UNAVAILABLE); at most
  // `slots` calls in flight; responses over `max_message_bytes` end their
  // call RESOURCE_EXHAUSTED, as gRPC's library ends them.
  Nghttp2GrpcTransport(Nghttp2Endpoint endpoint, int connections, std::vector<UnaryMethod> methods,
                       uint32_t slots, int64_t max_message_bytes, int64_t connect_timeout_nanos);
  ~Nghttp2GrpcTransport() override;

  void Start(uint32_t slot, uint32_t operation, std::string_view request,
             std::span<const Header> headers) override;
  bool Next(int64_t timeout_nanos, Completion* completion) override;
  // Handles the connections until the time is up, stamping each call's end
  // when its last frame is read.
  void SleepThrough(int64_t nanos) override;
  void CancelAll() override;
  // Calls and payloads; the bytes on the wire are the kernel's (socket_bytes.h).
  std::vector<WireTotals> CountsByOperation() const override;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace aurigraph::loadgen
