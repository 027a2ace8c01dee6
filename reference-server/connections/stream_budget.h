// The streams open across all of a server's connections, shared fairly (the
// HTTP/2 front's admission, http2_front.h): below `total` every new stream is
// admitted; at or beyond it, one is admitted only while its connection holds
// fewer than an equal share of `total` among the connections holding any. So
// many connections flooding the server cannot keep a light client's streams
// waiting behind theirs, and the streams open stay within about twice `total`.
// Single-threaded.
#pragma once

#include <cstdint>

namespace aurigraph::refserver {

class StreamBudget {
 public:
  explicit StreamBudget(int64_t total) : total_(total) {}

  // Whether a connection holding `held` streams may open one more.
  bool Admits(int64_t held) const {
    return open_ < total_ || held * (holders_ > 0 ? holders_ : 1) < total_;
  }
  // A connection that held `held_before` streams opened one.
  void Opened(int64_t held_before) {
    ++open_;
    if (held_before == 0) ++holders_;
  }
  // A connection's streams ended: `count` of them, leaving it `held_after`.
  void Closed(int64_t count, int64_t held_after) {
    open_ -= count;
    if (count > 0 && held_after == 0) --holders_;
  }

  int64_t total() const { return total_; }
  int64_t open() const { return open_; }

 private:
  const int64_t total_;
  int64_t open_ = 0;
  int64_t holders_ = 0;  // connections holding at least one stream
};

}  // namespace aurigraph::refserver
