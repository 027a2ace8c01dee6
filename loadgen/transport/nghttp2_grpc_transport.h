// Unary gRPC calls framed by nghttp2, the HTTP/2 library h2load is built on,
// instead of gRPC's own library, which costs several times h2load's CPU per
// call: a call is a POST of the length-prefixed message with its metadata
// (and grpc-timeout), answered by headers, the message and trailers that
// carry grpc-status and grpc-message. Plaintext and identity encoding only.
// Calls share their worker's connections (HTTP/2 streams), one call after
// another over them in turn. A call ends when the server ends its stream. A
// connection that breaks fails its calls UNAVAILABLE, and the next call opens
// a new one; an attempt that fails (refused, or closed before the server's
// SETTINGS) is not made again before a backoff, during which the calls that
// would take it fail UNAVAILABLE at once, as gRPC's library fails them while
// its channel waits to reconnect; one that stops taking streams (GOAWAY, stream ids spent)
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

#include "common/backoff/backoff.h"
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

struct Nghttp2Connections {
  int count = 1;  // opened when the transport is made
  // One not opened within this fails its calls UNAVAILABLE.
  int64_t connect_timeout_nanos = 20'000'000'000;
  // The wait after failed attempts in a row (gRPC's: 1 s, growing 1.6 times
  // up to 120 s), spread +-20% by a generator seeded with `seed`.
  Backoff reconnect{1'000'000'000, 120'000'000'000, 1.6};
  uint64_t seed = 1;
  // Responses over this end their call RESOURCE_EXHAUSTED, as gRPC's library ends them.
  int64_t max_message_bytes = 4 << 20;
};

class Nghttp2GrpcTransport final : public Transport {
 public:
  // Connections to `endpoint`; at most `slots` calls in flight.
  Nghttp2GrpcTransport(Nghttp2Endpoint endpoint, Nghttp2Connections connections,
                       std::vector<UnaryMethod> methods, uint32_t slots);
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
