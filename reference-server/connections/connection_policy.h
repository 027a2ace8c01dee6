// Decides which HTTP/2 connections the server closes, from their stream
// counters sampled over time (pure: no I/O, time is passed in). gRPC 1.51 has
// no defence of its own against either case:
//
// - rapid reset (CVE-2023-44487): a client opens streams and cancels each at
//   once, so the server starts calls that never count against
//   SETTINGS_MAX_CONCURRENT_STREAMS. A connection is closed when, in the last
//   `window`, at least `max_resets` of its streams ended without the server
//   finishing them and those were more than half of its streams that ended.
//   (Envoy's premature-reset rule has the same shape: a count and a ratio, so
//   a client whose calls sometimes hit their deadline is not closed.)
// - a client that ignores SETTINGS_MAX_CONCURRENT_STREAMS: gRPC applies the
//   limit only once the client acknowledges the SETTINGS frame carrying it,
//   so a client that never does opens streams without bound. channelz counts
//   a stream as open until gRPC has released it, which under load lags well
//   behind the client (a compliant client was seen at 1.7 times the limit),
//   so a connection is closed only when it holds more than `kStreamSlack`
//   times the limit and is not finishing them: fewer than the limit ended
//   since the previous poll.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <string>
#include <vector>

namespace aurigraph::refserver {

// One connection's stream counters since it opened (channelz's socket data).
struct StreamCounts {
  std::string connection;  // a stable id for the connection while it is open
  int64_t started = 0;     // streams the client opened
  int64_t succeeded = 0;   // ... that the server finished (sent its status)
  int64_t failed = 0;      // ... that ended otherwise: reset by the client, or cut
};

class ConnectionPolicy {
 public:
  struct Limits {
    int64_t max_concurrent_streams = 1024;
    int64_t max_resets = 1000;
    int64_t window_nanos = 10'000'000'000;
  };
  static constexpr int64_t kStreamSlack = 3;
  enum class Reason { kStreamResets, kStreamLimit };
  struct Verdict {
    std::string connection;
    Reason reason;
    std::string detail;  // one line, for the log and the GOAWAY's debug data
  };

  explicit ConnectionPolicy(Limits limits) : limits_(limits) {}

  // Every open connection's counters at `now_nanos`; returns the connections
  // to close, each once. Connections no longer listed are forgotten.
  std::vector<Verdict> Observe(int64_t now_nanos, const std::vector<StreamCounts>& connections);

 private:
  struct Sample {
    int64_t at;
    int64_t succeeded;
    int64_t failed;
  };
  struct History {
    // Where the counts changed, oldest first; the first is at or before the
    // window's start.
    std::deque<Sample> samples;
    int64_t ended = 0;  // streams ended, as of the previous poll
    bool closed = false;
  };
  Limits limits_;
  std::map<std::string, History> connections_;
};

}  // namespace aurigraph::refserver
