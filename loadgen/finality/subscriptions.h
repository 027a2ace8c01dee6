// The event streams a run's finality is read from: one subscription per address
// of the target (every node of a cluster), open for the whole run. Each is a
// server stream, opened with one request; its events go to the tracker. One
// that ends is reopened after a backoff (doubling per failure in a row) and
// counted, since finals may be missed while it is down. Runs on one thread;
// the stream transport owns the wire, this owns time.
#pragma once

#include <atomic>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "common/clock/clock.h"
#include "loadgen/finality/finality_tracker.h"
#include "loadgen/interfaces/stream_transport.h"

namespace aurigraph::loadgen {

class FinalitySubscriptions {
 public:
  // `transport` holds a slot per name, slot i streaming from address `names[i]`;
  // every subscription sends `request` with `headers`.
  FinalitySubscriptions(const Clock& clock, StreamTransport& transport,
                        std::vector<std::string> names, std::string request,
                        std::vector<std::pair<std::string, std::string>> headers);

  // Opens every subscription (events that come meanwhile are not tracked);
  // UNAVAILABLE naming the first that did not open (with its status) within
  // `timeout_nanos`.
  absl::Status Open(int64_t timeout_nanos);
  // Reads events into `tracker` until Stop(), moving its time on at least
  // every few milliseconds.
  void Run(FinalityTracker& tracker);
  void Stop() { stop_.store(true); }

 private:
  struct Subscription {
    bool open = false;
    int64_t reopen_at = -1;  // when a broken one is reopened; -1: not waiting
    int failures_in_row = 0;
  };
  void Start(uint32_t slot);
  // Handles one event; false when none arrived within `timeout_nanos`.
  bool Step(int64_t timeout_nanos);

  const Clock& clock_;
  StreamTransport& transport_;
  const std::vector<std::string> names_;
  std::vector<Subscription> subscriptions_;
  const std::string request_;
  const std::vector<std::pair<std::string, std::string>> header_values_;
  std::vector<Header> headers_;
  FinalityTracker* tracker_ = nullptr;  // while Run() runs
  std::atomic<bool> stop_{false};
};

}  // namespace aurigraph::loadgen
