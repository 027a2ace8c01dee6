#include "loadgen/recorder/stream_stats.h"

#include "loadgen/recorder/operation_stats.h"

namespace aurigraph::loadgen {

StreamStats::StreamStats()
    : first_message(MakeLatencyHistogram()),
      message_latency(MakeLatencyHistogram()),
      message_latency_uncorrected(MakeLatencyHistogram()),
      inter_arrival(MakeLatencyHistogram()),
      send_lag(MakeLatencyHistogram()),
      close_latency(MakeLatencyHistogram()),
      phase(MakeLatencyHistogram()) {}

void StreamStats::MergeConcurrent(const StreamStats& other) {
  first_message.Add(other.first_message);
  message_latency.Add(other.message_latency);
  message_latency_uncorrected.Add(other.message_latency_uncorrected);
  inter_arrival.Add(other.inter_arrival);
  send_lag.Add(other.send_lag);
  close_latency.Add(other.close_latency);
  phase.Add(other.phase);
  streams_opened += other.streams_opened;
  streams_completed += other.streams_completed;
  streams_failed += other.streams_failed;
  streams_ended_early += other.streams_ended_early;
  streams_failed_to_open += other.streams_failed_to_open;
  for (int i = 0; i < kStatusCodeCount; ++i) {
    close_codes[i] += other.close_codes[i];
    message_codes[i] += other.message_codes[i];
  }
  messages_sent += other.messages_sent;
  messages_received += other.messages_received;
  measured_sent += other.measured_sent;
  measured_received += other.measured_received;
  unmatched_replies += other.unmatched_replies;
  delayed_sends += other.delayed_sends;
  if (other.min_open_streams >= 0) {
    min_open_streams = (min_open_streams < 0 ? 0 : min_open_streams) + other.min_open_streams;
  }
  max_open_streams += other.max_open_streams;
}

}  // namespace aurigraph::loadgen
