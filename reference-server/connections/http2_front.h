// The server's listening socket with an HTTP/2 filter in front of gRPC
// (--http2-front): each client connection is accepted here, and its bytes
// pass through a FrameFilter (frame_filter.h) to gRPC's server over a socket
// pair whose other end gRPC is handed (AddInsecureChannelFromFd), so gRPC
// reads only the streams the filter admitted. One thread relays every
// connection (epoll), holding at most `max_buffered_bytes` for a connection
// in each direction before it stops reading the side that sends. Every
// `policy_interval` the connections' stream counters go to a ConnectionPolicy,
// and a connection resetting streams abusively is closed with a GOAWAY too.
// The streams gRPC holds across all connections are shared fairly
// (StreamBudget of `max_open_streams`), so that many connections flooding it
// cannot keep another client's calls queued behind theirs.
// Plain TCP only: a filter cannot read TLS.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "common/clock/clock.h"
#include "reference-server/connections/connection_guard.h"
#include "reference-server/connections/connection_policy.h"
#include "reference-server/connections/frame_filter.h"

namespace grpc {
class Server;
}

namespace aurigraph::refserver {

class Http2Front {
 public:
  struct Options {
    std::string listen;  // HOST:PORT; port 0 picks a free one
    FrameFilter::Limits limits;
    ConnectionPolicy::Limits policy;
    int64_t max_open_streams = 2048;
    int64_t policy_interval_nanos = 10'000'000;
    size_t max_buffered_bytes = 1 << 20;
  };
  // Listens at once; connections are handed to `server` (started, and
  // outliving the front) as they come.
  static absl::StatusOr<std::unique_ptr<Http2Front>> Start(Options options, grpc::Server* server,
                                                           const Clock& clock);
  ~Http2Front();  // closes every connection

  // Closes the listening socket; the connections open go on.
  void StopAccepting();
  int port() const;
  const GuardCounters& counters() const;

  struct Impl;  // http2_front.cc

 private:
  explicit Http2Front(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace aurigraph::refserver
