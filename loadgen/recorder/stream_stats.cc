#include "loadgen/recorder/stream_stats.h"

#include <algorithm>

#include "loadgen/histogram/latency.h"

namespace aurigraph::loadgen {
namespace {

// Everything but the open-stream bounds, which add up or not depending on how two figures meet.
void AddCounts(StreamStats& to, const StreamStats& from) {
  to.first_message.Add(from.first_message);
  to.inter_arrival.Add(from.inter_arrival);
  to.send_lag.Add(from.send_lag);
  to.close_latency.Add(from.close_latency);
  to.phase.Add(from.phase);
  to.streams_opened += from.streams_opened;
  to.streams_completed += from.streams_completed;
  to.streams_failed += from.streams_failed;
  to.streams_ended_early += from.streams_ended_early;
  to.streams_ended_by_server += from.streams_ended_by_server;
  to.streams_failed_to_open += from.streams_failed_to_open;
  for (int i = 0; i < kStatusCodeCount; ++i) to.close_codes[i] += from.close_codes[i];
  to.close_messages.Merge(from.close_messages);
  to.messages_sent += from.messages_sent;
  to.messages_received += from.messages_received;
  to.measured_sent += from.measured_sent;
  to.measured_received += from.measured_received;
  to.unmatched_replies += from.unmatched_replies;
  to.delayed_sends += from.delayed_sends;
  to.messages_not_sent += from.messages_not_sent;
}

}  // namespace

StreamStats::StreamStats()
    : first_message(MakeLatencyHistogram()),
      inter_arrival(MakeLatencyHistogram()),
      send_lag(MakeLatencyHistogram()),
      close_latency(MakeLatencyHistogram()),
      phase(MakeLatencyHistogram()) {}

void StreamStats::MergeConcurrent(const StreamStats& other) {
  AddCounts(*this, other);
  if (other.min_open_streams >= 0) {
    min_open_streams = (min_open_streams < 0 ? 0 : min_open_streams) + other.min_open_streams;
  }
  max_open_streams += other.max_open_streams;
}

void StreamStats::MergeLater(const StreamStats& other) {
  AddCounts(*this, other);
  if (other.min_open_streams >= 0) {
    min_open_streams = min_open_streams < 0 ? other.min_open_streams
                                            : std::min(min_open_streams, other.min_open_streams);
  }
  max_open_streams = std::max(max_open_streams, other.max_open_streams);
}

void StreamStats::Reset() {
  for (Histogram* h : {&first_message, &inter_arrival, &send_lag, &close_latency, &phase}) {
    h->Reset();
  }
  streams_opened = streams_completed = streams_failed = streams_ended_early =
      streams_ended_by_server = 0;
  streams_failed_to_open = 0;
  close_codes.fill(0);
  close_messages.Reset();
  messages_sent = messages_received = measured_sent = measured_received = 0;
  unmatched_replies = delayed_sends = messages_not_sent = 0;
  min_open_streams = -1;
  max_open_streams = 0;
}

}  // namespace aurigraph::loadgen
