// Watches the server's HTTP/2 connections and closes the abusive ones (see
// connection_policy.h). gRPC 1.51 offers no hook into its HTTP/2 layer, so the
// guard reads each connection's stream counters from channelz every
// `poll_interval` and, to close a connection, finds its socket among the
// process's file descriptors by its two addresses, writes an HTTP/2 GOAWAY
// (ENHANCE_YOUR_CALM, with the reason as debug data) when nothing else is
// waiting to be written on it, and shuts the socket down; gRPC sees the
// connection end and cancels its calls. The GOAWAY is best effort: when gRPC
// has output queued on the socket it is skipped, so that it can never land
// inside one of gRPC's frames, and the client sees only the connection close.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <thread>

#include "reference-server/connections/connection_policy.h"

namespace aurigraph::refserver {

// What the guard (or the front, http2_front.h) did to connections.
struct GuardCounters {
  std::atomic<int64_t> cut_for_resets{0};
  std::atomic<int64_t> cut_for_stream_limit{0};
  std::atomic<int64_t> cut_for_protocol{0};  // the front: a header bound, or a protocol error
  std::atomic<int64_t> goaways_sent{0};
  std::atomic<int64_t> streams_refused{0};  // the front: beyond a connection's stream limit
  std::atomic<int64_t> streams_shed{0};     // the front: beyond the server's (StreamBudget)
};

class ConnectionGuard {
 public:
  struct Options {
    int port = 0;  // the server's port: its connections are the sockets bound to it
    ConnectionPolicy::Limits limits;
    int64_t poll_interval_nanos = 50'000'000;
  };
  explicit ConnectionGuard(Options options);
  ~ConnectionGuard();  // stops the watch

  const GuardCounters& counters() const { return counters_; }

 private:
  void Loop();
  void Poll();

  const Options options_;
  ConnectionPolicy policy_;
  GuardCounters counters_;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace aurigraph::refserver
