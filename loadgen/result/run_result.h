// The versioned result of a run: the contract between running and everything
// that reads a run afterwards (summaries, gates, reports, comparisons). Holds
// full histograms, so percentiles are exact and results can be merged later.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "loadgen/histogram/histogram.h"
#include "loadgen/histogram/latency.h"
#include "loadgen/result/run_description.h"

namespace aurigraph::loadgen {

// Version 4: latency histograms hold successful calls only; failed calls have
// their own, per status code (earlier versions mixed them in). A field added
// that older readers may ignore (error_messages) needs no new version.
inline constexpr int kResultSchemaVersion = 4;
// The oldest schema this tool still reads (version 2 has no timeline).
inline constexpr int kOldestReadableSchemaVersion = 2;

// The stream side of a streaming operation. Its per-message latency is the
// operation's corrected (and, for bidi, uncorrected) histogram; its other
// per-message measures are named histograms here.
struct StreamResult {
  std::string mode;            // "server_streaming", "client_streaming" or "bidi_streaming"
  int64_t streams_target = 0;  // streams held open at once, as configured
  int64_t streams_opened = 0;
  int64_t streams_completed = 0;
  int64_t streams_failed = 0;
  int64_t streams_ended_early = 0;      // before planned, with an error
  int64_t streams_ended_by_server = 0;  // before planned, closed OK by the server
  int64_t streams_failed_to_open = 0;   // refused or unreachable; reopened after a backoff
  int64_t min_open_streams = -1;        // a lower bound over the measured window
  int64_t max_open_streams = 0;
  int64_t messages_sent = 0;  // the whole run, warm-up included
  int64_t messages_received = 0;
  int64_t measured_sent = 0;
  int64_t measured_received = 0;
  int64_t unmatched_replies = 0;
  int64_t delayed_sends = 0;
  int64_t messages_not_sent = 0;  // due before the end, still unsent when sending ended
  double sent_rate = 0;           // per second over the measured window
  double received_rate = 0;
  std::map<std::string, int64_t> message_codes;  // per-message status, by code name
  std::string phase_name;
  // first_message, inter_arrival, send_lag, close_latency, phase (us)
  std::map<std::string, std::shared_ptr<Histogram>> histograms;
};

// The finality side of an operation whose requests finish later, on an event
// stream. Its operation's figures are those of the tracked requests' items:
// ok = seen final (latency from the intended send time), DEADLINE_EXCEEDED =
// acknowledged and not seen final within the timeout (lost).
struct FinalityResult {
  std::string tracks;  // the operation whose requests it follows
  int64_t timeout_us = 0;
  int64_t subscriptions = 0;  // event streams held open (one per address of the target)
  int64_t tracked = 0;        // request items sent after warm-up
  int64_t lost = 0;
  int64_t final_without_ack = 0;
  int64_t duplicates = 0;
  int64_t not_final_unacked = 0;
  int64_t unmatched_events = 0;
  int64_t untracked = 0;
  int64_t subscription_breaks = 0;
};

// The status messages of one status code's failed calls (streams: failed
// streams): the most frequent first, with their counts, and how many had one
// of the others. Bounded as common/status_codes/status_message.h says.
struct MessageCount {
  std::string message;
  int64_t count = 0;
};
struct CodeMessages {
  std::vector<MessageCount> messages;
  int64_t other = 0;
};

struct OperationResult {
  std::string name;
  std::string rpc;
  std::string kind = "unary";
  int64_t requests = 0;  // completed after warm-up
  int64_t ok = 0;
  std::map<std::string, int64_t> status_codes;  // by gRPC code name, including OK
  // Per second over the measured window: completions (unary); for streaming
  // operations messages, those sent (client streams) or received (the others).
  double achieved_rate = 0;
  double target_rate = 0;  // open loop: this operation's share; 0 in closed loop
  // Successful calls (for streams: messages), us: from the intended send time,
  // and from the actual send time.
  std::shared_ptr<Histogram> corrected;
  std::shared_ptr<Histogram> uncorrected;
  // Failed calls by gRPC code name, us from the intended send time (unary).
  std::map<std::string, std::shared_ptr<Histogram>> failed;
  // By gRPC code name, each failing code's: every failed call (stream) counted
  // once. Empty in results written before messages were kept.
  std::map<std::string, CodeMessages> error_messages;
  int64_t items = 0;  // counted in OK responses (count_field)
  double items_rate = 0;
  // Streaming operations: requests counts streams that ended, ok those that ran as planned.
  std::shared_ptr<StreamResult> stream;
  std::shared_ptr<FinalityResult> finality;  // kind "finality"
  std::shared_ptr<WireTotals> wire;          // counted by the transport (HTTP); null: not counted
  int64_t errors() const { return requests - ok; }
  double error_ratio() const {
    return requests == 0 ? 0 : static_cast<double>(errors()) / requests;
  }
};

struct GeneratorHealth {
  bool kept_up = true;
  std::string verdict;                       // why not, when it did not keep up
  std::shared_ptr<Histogram> schedule_lag;   // us, every measured request
  std::shared_ptr<Histogram> generator_lag;  // us, the part not spent waiting for a slot
  int64_t max_generator_lag_p99_us = 0;      // the bound applied
  int64_t sent = 0;
  int64_t delayed_by_in_flight_bound = 0;
  // Open loop: due within the run but not sent by its end (nothing is sent after it).
  int64_t not_sent_generator_behind = 0;
  int64_t not_sent_in_flight_bound = 0;  // every slot was busy: the target held them back
  int64_t cancelled_at_drain = 0;
  // Requests (and stream messages) not sent because they could not be built: a
  // templated value out of its field's range, or map keys rendered alike.
  // Unary ones are also counted as INVALID_ARGUMENT completions.
  int64_t request_build_errors = 0;
  int64_t warmup_completions = 0;
  double cpu_seconds = -1;  // the loadgen's own, over the run
  int cpu_cores = 0;        // available to it
};

struct GateResult {
  std::string expression;
  std::string operation;  // empty = all operations
  std::string metric;
  std::string unit;
  double measured = 0;
  double limit = 0;
  bool passed = false;
  std::string message;  // "p99 = 25.1ms, limit < 20ms"
};

// Memory, from the kernel's accounting; -1 where not measured.
struct Resources {
  int64_t loadgen_peak_rss_bytes = -1;
  int64_t server_peak_rss_bytes = -1;  // the target's own report (since it started)
  int64_t server_rss_bytes = -1;       // ... at the end of the run
  int64_t watched_pid = 0;             // the target's process, sampled each interval; 0 = none
};

// One operation in one interval of the timeline.
struct TimelineOperation {
  int64_t count = 0;                     // completions (unary) or messages received (streams)
  int64_t errors = 0;                    // status codes other than OK
  std::map<std::string, int64_t> codes;  // by gRPC code name
  int64_t items = 0;
  int64_t timed = 0;  // values in the interval's latency histogram
  // Latency (us) exact from the interval's histogram; 0 when nothing was timed.
  int64_t p50 = 0, p90 = 0, p99 = 0, p99_9 = 0, max = 0;
};

struct TimelinePoint {
  double offset_seconds = 0;  // from the run's start
  double seconds = 0;         // the interval's length (the last one may be shorter)
  bool warmup = false;        // ended before the measured window began
  int64_t sent = 0;           // unary requests sent
  int64_t schedule_lag_p99_us = 0;
  int64_t schedule_lag_max_us = 0;
  std::vector<TimelineOperation> operations;  // in the order of RunResult::operations
  // Sampled as the interval was taken; -1 where not measured.
  int64_t loadgen_rss_bytes = -1;
  int64_t target_rss_bytes = -1;
  double target_cpu_seconds = -1;  // cumulative
  int64_t target_open_fds = -1;
};

// The run interval by interval, warm-up included. Intervals are by completion
// (or receipt) time, so a stall shows in the interval where it ended.
struct Timeline {
  double interval_seconds = 0;
  std::vector<TimelinePoint> points;
};

// Webhook deliveries of the run, received by the loadgen's sink and reconciled
// with the delivery records the target kept (scenarios with webhook_sink:).
struct WebhookResult {
  std::string webhook_id;
  std::vector<std::string> events;
  double sink_fail_ratio = 0;
  int64_t sink_delay_us = 0;
  // The target's delivery records for the webhook, by their state at the end.
  int64_t records = 0;
  int64_t succeeded = 0;
  int64_t dead_lettered = 0;
  int64_t failed = 0;      // given up without the dead-letter topic (webhook deleted or inactive)
  int64_t unfinished = 0;  // still pending or waiting for a retry when the drain ended
  int64_t attempts = 0;    // HTTP attempts the target recorded
  // What the sink saw.
  int64_t requests = 0;
  int64_t deliveries = 0;  // distinct deliveries accepted
  int64_t duplicates = 0;
  int64_t injected_failures = 0;
  int64_t invalid_signatures = 0;  // wrong, missing or malformed signatures
  int64_t stale_timestamps = 0;
  int64_t unknown_webhooks = 0;
  int64_t malformed_bodies = 0;
  std::map<std::string, int64_t> accepted_by_attempt;  // attempt number -> first acceptances
  // Records neither accepted by the sink nor dead-lettered nor failed: lost.
  int64_t missing = 0;
  double delivery_rate = 0;  // deliveries per second, first to last acceptance
  double drain_seconds = 0;  // how long after the load the deliveries took to settle
  // Event to first acceptance, us.
  std::shared_ptr<Histogram> latency = std::make_shared<Histogram>(MakeLatencyHistogram());
  std::string error;  // why the deliveries could not be read back, if they could not
};

// An event the run scheduled (the scenario's events:) as it ran, and how the
// target recovered from it. Times in seconds from the run's start; -1 where
// not known (not run). Recovery figures are measured from unary calls in the
// live run: absent (recovery_measured false) for streams only, and for a run
// rebuilt from its logs, which keep the markers but not the calls' times.
struct EventResult {
  std::string name;
  std::string action;  // the command, or "rpc METHOD -> TARGET"
  double at_seconds = 0;
  double started_seconds = -1;
  double finished_seconds = -1;
  bool ok = false;
  int exit_code = -1;  // a command's exit status (128 + signal); a call's gRPC code
  std::string output;  // the first 4 KiB of its output, or the call's response
  std::string error;
  // Recovery: to the first successful completion of a request meant at or
  // after the event; the longest time with no successful completion at all
  // from the event until recovered; until the per-interval p99 and rate were
  // back within 10% of their values before it (for 3 intervals in a row).
  double first_success_after_seconds = -1;
  double unavailable_max_seconds = -1;
  double recovered_seconds = -1;
  std::map<std::string, int64_t> failed_by_code;  // completions from the event until recovered
  double baseline_p99_us = 0;
  double baseline_rate = 0;
  std::string recovery_note;
  bool recovery_measured = false;
};

// A histogram the target keeps itself (server_metrics:), scraped from its
// Prometheus endpoints before and after the load: the observations recorded in
// between, added up over the endpoints and the series that match. A quantile
// is known only to within its bucket, so it is given as the bucket's upper
// bound: the true value is at most that.
struct ServerHistogramResult {
  struct Bucket {
    double le_seconds = 0;  // upper bound
    double cumulative = 0;  // observations <= le_seconds
  };
  std::string name;  // as the scenario names it
  std::string metric;
  std::map<std::string, std::string> labels;  // a series matches when it has all of them
  std::vector<std::string> sources;           // endpoints whose figures are in
  std::vector<std::string> restarted;         // of those, restarted meanwhile: counted since
  std::vector<std::string> missing;           // "URL: why" for those that are not
  double count = 0;
  double sum_seconds = 0;
  std::vector<Bucket> buckets;  // ascending, finite bounds only (count holds the +Inf bucket's)

  // The upper bound of the bucket holding quantile q (0..1; 1 = the largest
  // observation); +inf when it lies above every finite bound, NaN when empty.
  double UpperBoundSeconds(double q) const;
  // The same as text: "<= 5ms", "> 1s" (above every bound), "-" (nothing observed).
  std::string UpperBoundText(double q) const;
  // The mean ("-" when nothing was observed): exact, from the sum.
  std::string MeanText() const;
  // metric{label="value",...}: what was read.
  std::string Selector() const;
  // "3 of 3 endpoints", with those restarted meanwhile and those missing (and why).
  std::string SourcesText() const;
};

// One generator process of a run split across several, as the merge of their
// results describes it.
struct GeneratorProcess {
  int index = 0;  // --worker-index
  std::string host;
  std::string source;  // its run directory
  int64_t sent = 0;
  int64_t schedule_lag_p99_us = 0;
  int64_t generator_lag_p99_us = 0;
  double cpu_seconds = -1;  // -1: not known (it did not finish)
  int cpu_cores = 0;
  bool kept_up = true;
  std::string verdict;  // why not, when it did not keep up
  // Where its logs end when it did not finish (killed, or lost); -1 when it did.
  double stopped_at_seconds = -1;
  // A coordinated run: its clock's offset from the coordinator's, and how far
  // that is known (half the fastest round trip); -1: not measured.
  int64_t clock_offset_us = 0;
  int64_t clock_uncertainty_us = -1;
};

struct RunResult {
  int schema_version = kResultSchemaVersion;
  std::string tool_version;
  std::string host;
  std::string scenario_name;
  std::string scenario_json;  // the scenario as run
  std::string target;
  std::string reflection;  // the server reflection protocol that described the methods, if any
  std::string load_model;  // "open" or "closed"
  double target_rate = 0;
  std::vector<ProfileCorner> load_profile;  // empty: a constant rate or concurrency
  int64_t start_unix_nanos = 0;
  int64_t end_unix_nanos = 0;
  double measured_seconds = 0;  // the window rates are computed over
  std::vector<OperationResult> operations;
  OperationResult total;
  GeneratorHealth generator;
  Resources resources;
  std::vector<GateResult> gates;
  Timeline timeline;
  std::shared_ptr<WebhookResult> webhooks;               // scenarios with webhook_sink:
  std::vector<EventResult> events;                       // scenarios with events:, in time order
  std::vector<ServerHistogramResult> server_histograms;  // scenarios with server_metrics:
  // Set when the result was rebuilt from interval logs because the run never
  // finished (killed): what it was rebuilt from.
  std::string recovered_from;
  // A run split across generator processes and merged: each process; empty otherwise.
  std::vector<GeneratorProcess> workers;
  // Whether every process of the run finished (a run of one process that did
  // not finish is told by recovered_from).
  bool complete() const;
  bool passed() const;
};

// A result as read back, with where it came from.
struct LoadedResult {
  std::string source;  // the file it was read from
  RunResult result;
};

// One timeline point as a single line of JSON (as result.json holds it), and back.
// A load profile in words, e.g. "100/s for 30s, ramp to 5000/s over 2m"
// (`unit` after each value; a long one by its extent); "" for none.
std::string DescribeLoadProfile(const std::vector<ProfileCorner>& corners, absl::string_view unit);
// The profile's mean over [from_seconds, to_seconds) of the run: 0 outside its
// corners (the run ends with the profile), and for none.
double LoadProfileMean(const std::vector<ProfileCorner>& corners, double from_seconds,
                       double to_seconds);

// A WireTotals as JSON text, and back (INVALID_ARGUMENT naming what is wrong).
std::string WireTotalsToJson(const WireTotals& wire);
absl::StatusOr<WireTotals> WireTotalsFromJson(const std::string& json);

std::string TimelinePointToJson(const TimelinePoint& point);
// One event as result.json (and the interval log) holds it, and back.
std::string EventToJson(const EventResult& event);
absl::StatusOr<EventResult> EventFromJson(const std::string& json);
absl::StatusOr<TimelinePoint> TimelinePointFromJson(const std::string& line);

std::string ResultToJson(const RunResult& result);
// `source` names the input in errors. Rejects other schemas and corrupt histograms.
absl::StatusOr<RunResult> ResultFromJson(const std::string& text, const std::string& source);
absl::StatusOr<RunResult> ReadResultFile(const std::string& path);
absl::Status WriteResultFile(const RunResult& result, const std::string& path);

}  // namespace aurigraph::loadgen
