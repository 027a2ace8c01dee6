// The stream side of one stream operation in one interval (or, merged, over the
// run): stream lifecycle counts, messages sent and received, and the histograms
// of per-stream measures (microseconds). Per-message latency and status codes
// are the operation's own (IntervalOperation). Figures marked "measured" hold
// only what happened after warm-up; the others count the whole run.
#pragma once

#include <array>
#include <cstdint>

#include "common/status_codes/status_codes.h"
#include "loadgen/histogram/histogram.h"
#include "loadgen/recorder/error_messages.h"

namespace aurigraph::loadgen {

struct StreamStats {
  StreamStats();

  Histogram first_message;  // measured: intended open -> first message received
  Histogram inter_arrival;  // measured: gap between messages on one stream
  Histogram send_lag;       // intended send -> actual send
  Histogram close_latency;  // send side closed -> final status
  Histogram phase;          // a named phase, e.g. approval submit -> APPROVED

  int64_t streams_opened = 0;
  int64_t streams_completed = 0;  // ran as planned and ended OK (or cancelled by us)
  int64_t streams_failed = 0;     // ended as planned, but with an error status
  // Ended by the server or the network before planned: with an error, or with
  // OK (a finite server stream, or a subscription the server closed).
  int64_t streams_ended_early = 0;
  int64_t streams_ended_by_server = 0;
  // Ended with an error before planned and before any message arrived: the
  // target refused or could not be reached (reopened after a backoff).
  int64_t streams_failed_to_open = 0;
  std::array<int64_t, kStatusCodeCount> close_codes{};  // streams not cancelled by us
  ErrorMessages close_messages;  // the status messages of those that ended with an error
  int64_t messages_sent = 0;     // warm-up included, for exact count checks
  int64_t messages_received = 0;
  int64_t measured_sent = 0;  // within the measured window, for rates
  int64_t measured_received = 0;
  int64_t unmatched_replies = 0;  // bidi replies whose key matched no request
  int64_t delayed_sends = 0;      // due while a write or the outstanding bound held them
  // Due before the end (or a stop) and still unsent when sending ended: held by
  // a write or the outstanding bound past the end's grace.
  int64_t messages_not_sent = 0;
  int64_t min_open_streams = -1;  // over the measured window; -1 = not sampled
  int64_t max_open_streams = 0;

  // Adds another worker's figures for the same time: open-stream bounds add up.
  void MergeConcurrent(const StreamStats& other);
  // Adds the figures of a later time: open-stream bounds take the lower and the higher.
  void MergeLater(const StreamStats& other);
  void Reset();
};

}  // namespace aurigraph::loadgen
