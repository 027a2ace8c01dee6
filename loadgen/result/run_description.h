// What is known of a run before it starts (RunDescription) and what only its
// end knows (RunEnd). The runner tells both to the interval observers; the
// interval log keeps them, so a run rebuilt from its logs is described exactly
// as the live one.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace aurigraph::loadgen {

// The most generator processes one run is split across.
inline constexpr int kMaxPartitions = 4096;

// A corner of a load profile: `offset_seconds` into the run the target rate
// (open loop) or concurrency (closed loop) is `value`; linear between corners,
// a step where two share an offset.
struct ProfileCorner {
  double offset_seconds = 0;
  double value = 0;
};

struct OperationDescription {
  std::string name;
  std::string rpc;
  // Or "server_streaming", "client_streaming", "bidi_streaming"; or "finality":
  // when the requests of operation `tracks` were seen final on `rpc`'s events.
  std::string kind = "unary";
  double target_rate = 0;              // open loop: this operation's share of the rate
  int64_t streams_target = 0;          // streams held open at once (finality: its subscriptions)
  std::string phase_name;              // streams: the named phase, if any
  std::string tracks;                  // finality: the operation whose requests it follows
  int64_t finality_timeout_nanos = 0;  // finality: not seen final by then is lost
  bool streaming() const { return kind.ends_with("_streaming"); }
  bool finality() const { return kind == "finality"; }
};

struct RunDescription {
  std::string tool_version;
  std::string host;
  std::string scenario_name;
  std::string scenario_json;  // the scenario as run
  std::string target;
  std::string reflection;  // the server reflection protocol that described the methods, if any
  std::string load_model;  // "open", "closed" or "streams"
  double target_rate = 0;  // open loop, over the measured window; 0 otherwise
  std::vector<ProfileCorner> load_profile;  // empty: a constant rate or concurrency
  int64_t start_unix_nanos = 0;
  int64_t interval_nanos = 0;
  int64_t duration_nanos = 0;  // planned; 0 = a request budget
  int64_t warmup_nanos = 0;
  bool request_budget = false;  // ends after a number of requests, not a duration
  int64_t max_generator_lag_p99_us = 0;
  int64_t watched_pid = 0;  // the target's process, sampled each interval; 0 = none
  // A run split across generator processes: this one's share is partition_index
  // of partition_count (0 of 1: the whole run).
  int partition_index = 0;
  int partition_count = 1;
  std::vector<OperationDescription> operations;  // the timeline's, in order
};

// -1 (or 0 cores) where not known: a run rebuilt from the logs of a killed process.
// What went over the wire for one operation over the whole run (warm-up
// included), as the client saw it (a transport counts it): requests written
// and responses read, whole (HTTP: request and status lines, headers and
// bodies; gRPC: its connections' bytes as the kernel counted them, in a run
// of one operation; -1: not known) and their
// payloads (serialized messages, JSON bodies), and responses by protocol
// status (HTTP's).
struct WireTotals {
  int64_t requests = 0;
  int64_t request_bytes = -1;
  int64_t request_payload_bytes = 0;
  int64_t responses = 0;
  int64_t response_bytes = -1;
  int64_t response_payload_bytes = 0;
  std::map<int, int64_t> by_status;
};

// `from` added to `into`: counts add up; a whole-bytes figure one of them did not see is -1.
void AddWireTotals(const WireTotals& from, WireTotals& into);

struct RunEnd {
  int64_t end_offset_nanos = -1;  // from the start
  double cpu_seconds = -1;        // the loadgen's own, over the run
  int cpu_cores = 0;
  int64_t loadgen_peak_rss_bytes = -1;
  int64_t server_peak_rss_bytes = -1;
  int64_t server_rss_bytes = -1;
  // Per operation of the run, for a transport that counts them; empty otherwise.
  std::vector<std::optional<WireTotals>> wire;
};

}  // namespace aurigraph::loadgen
