// A load scenario: what to call, how hard, for how long, and which SLO gates
// the run must pass. Parsed strictly from YAML (unknown keys are errors) after
// command-line overrides (`--set load.rate=500`) are applied to the YAML tree.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "loadgen/interfaces/channel_options.h"
#include "loadgen/interfaces/load_model.h"

namespace aurigraph::loadgen {

// How a streaming operation is driven (the `stream:` block of an operation).
struct StreamSpec {
  int64_t streams = 1;             // held open at once, in total
  int64_t messages = 0;            // per stream: received (server streams) or sent; 0 = no bound
  int64_t lifetime_nanos = 0;      // end and replace each stream after this; 0 = the whole run
  double open_rate = 0;            // stream opens per second in total (ramp, churn); 0 = at once
  double send_rate = 0;            // client/bidi: messages per second per stream; 0 = closed loop
  int64_t delay_nanos = 0;         // open the first streams this long after the start
  int64_t max_outstanding = 1024;  // bidi: unanswered messages per stream before sends wait
  // A stream that fails before it was meant to end and before any message is
  // reopened after a backoff that doubles per such failure in a row, up to the
  // maximum (with ±20% jitter).
  int64_t reopen_backoff_nanos = 100'000'000;
  int64_t reopen_backoff_max_nanos = 5'000'000'000;
  std::string match_request;    // bidi: request field echoed by the reply...
  std::string match_response;   // ...and the reply field that echoes it
  std::string timestamp_field;  // reply field: the server's send time (Unix ns)
  std::string status_field;     // reply field: a per-message gRPC status code
  std::string phase_name;       // a measured phase: from a reply's time field to receipt,
  std::string phase_from;       // for replies whose `when` field equals `equals`
  std::string phase_when;
  std::string phase_equals;
};

// The `finality:` block of a unary operation: its requests finish later, when
// an event on a server stream names them (loadgen/finality). One subscription
// per address of the target is held open for the whole run.
struct FinalitySpec {
  std::string rpc;                        // the server-streaming method, "package.Service/Method"
  std::string request_json = "{}";        // its one request (a template without per-request values)
  std::string match_request;              // request field path; may pass through a repeated message
  std::string match_event;                // the event's field path holding the same value
  int64_t timeout_nanos = 5'000'000'000;  // from the intended send time
};

// The `http:` block of an operation sent as an HTTP/1.1 request instead of a
// gRPC call: its request (if any) is the JSON body, its metadata headers.
struct HttpSpec {
  std::string method;  // GET, POST, PUT, PATCH, DELETE
  std::string path;    // a template: "/v1/transactions/tx-${seq}"
};

// The `websocket:` block of an operation streamed over a WebSocket on the
// target's HTTP port: each stream is a connection upgraded at `path`, each
// message a JSON text message rendered from the request template.
struct WebSocketSpec {
  std::string path;  // "/v1/ws"
  // server_stream: the request is sent once (a subscription) and every message
  // received counts; bidi: messages sent at the stream's rate, replies matched
  // by stream.match; client_stream: messages sent, none expected back.
  CallKind kind = CallKind::kBidiStreaming;
};

struct OperationSpec {
  std::string name;
  // "package.Service/Method"; for HTTP "METHOD PATH", for WebSocket "WEBSOCKET PATH"
  // (described, not called)
  std::string rpc;
  std::optional<HttpSpec> http;
  std::optional<WebSocketSpec> websocket;
  double weight = 1;
  // The request template (see payload/request_template.h): an object, or an
  // array of messages that requests take in turn.
  std::string request_json;
  std::string request_bin;  // instead: a file holding a serialized request, sent as is
  int64_t deadline_nanos = 0;
  std::string count_field;  // unary: response field counting items (e.g. accepted)
  bool has_stream = false;  // a `stream:` block was given
  StreamSpec stream;
  // Request headers (name, value template), the scenario's own then the operation's.
  std::vector<std::pair<std::string, std::string>> metadata;
  std::string data_file;                 // JSON lines for ${data.FIELD}; empty = none
  std::optional<FinalitySpec> finality;  // unary: requests are final later, on a stream
  bool data_random = false;              // records at random rather than in file order
};

// The `webhook_sink:` block: the loadgen receives the target's webhook
// deliveries itself and measures them (see loadgen/webhook/webhook_session.h).
struct WebhookSinkSpec {
  bool enabled = false;
  std::string listen = "127.0.0.1:0";
  std::vector<std::string> events = {"APPROVAL_CREATED"};  // WebhookEvent names
  double fail_ratio = 0;    // the sink answers this share of deliveries with HTTP 500
  int64_t delay_nanos = 0;  // and answers every delivery this late
  int64_t timestamp_window_nanos = 300'000'000'000;
  int max_attempts = 0;                  // the webhook's; 0 = the server's default
  int64_t timeout_nanos = 0;             // per attempt; 0 = the server's default
  int64_t drain_nanos = 30'000'000'000;  // after the load, wait this long for deliveries to settle
};

// An event of the `events:` list: at a time into the run, a shell command or a
// unary gRPC call (fault injection: kill a server, partition a node, ...).
struct EventSpec {
  std::string name;
  int64_t at_nanos = 0;  // from the run's start
  std::string exec;      // a shell command; or else a call:
  std::string rpc;       // "package.Service/Method"
  std::string request_json = "{}";
  // Whom the call goes to: an address, "all" (each address of the target in
  // turn), or "leader" (the node a system plug-in names, e.g. a Raft leader);
  // empty: the target's first address.
  std::string rpc_target;
  int64_t timeout_nanos = 30'000'000'000;
};

// server_metrics: histograms the target keeps itself (e.g. a cluster's
// consensus round trips), read from its Prometheus endpoints before and after
// the load; gates call them scraped_p99 etc., naming one with operation: NAME.
struct ServerHistogramSpec {
  std::string name;
  std::string metric;                         // a Prometheus histogram's name
  std::map<std::string, std::string> labels;  // the series that have all of these
};

struct ServerMetricsSpec {
  std::vector<std::string> scrape;  // http://HOST:PORT/PATH, each read in full
  int64_t timeout_nanos = 2'000'000'000;
  std::vector<ServerHistogramSpec> histograms;
};

struct GateSpec {
  std::string expression;  // "p99 < 20ms", "error_ratio < 0.1%", "rate_ratio >= 99%"
  std::string operation;   // empty: all operations together
};

struct Scenario {
  std::string name;
  std::string description;
  std::string target;
  int64_t duration_nanos = 0;
  int64_t warmup_nanos = 0;
  int64_t requests = 0;
  int workers = 1;
  int connections = 1;
  int max_in_flight = 256;        // per worker
  int64_t max_request_bytes = 0;  // the largest request a template may render; 0 = 64 MiB
  bool has_load = false;          // a `load:` block (required when there are unary operations)
  LoadModel model = LoadModel::kOpenLoop;
  double rate = 0;  // open loop, requests/second in total; 0 with a profile
  ArrivalProcess arrival = ArrivalProcess::kConstant;
  int concurrency = 0;  // closed loop, in total; with a profile, its highest
  // load.profile: the rate (open loop) or concurrency (closed loop) over the
  // run, in holds, steps and ramps; it sets the duration. Empty: constant.
  std::vector<LoadSegment> profile;
  uint64_t seed = 1;
  int64_t max_generator_lag_nanos = 10'000'000;  // p99 bound for "the generator kept up"
  // precision: spin: open-loop workers sleep until this long before a send,
  // then poll for completions without sleeping until it is due (sends within
  // microseconds, at the CPU cost of the spin). 0: precision: sleep.
  int64_t spin_nanos = 0;
  int64_t drain_timeout_nanos = 5'000'000'000;
  int64_t connect_timeout_nanos = 5'000'000'000;
  bool report_server_memory = false;  // ask the target's CheckHealth for its memory at the end
  // The interval of interval logs, metrics and progress (and of result.json's
  // timeline, which merges intervals exactly for runs over about 1,800 of them).
  int64_t interval_nanos = 1'000'000'000;
  // .proto files to load at run time (any gRPC service); empty = the bundled Aurigraph API.
  std::vector<std::string> proto_files;
  std::vector<std::string> import_paths;
  std::vector<std::string> protoset_files;  // FileDescriptorSets instead of .proto files
  bool reflection = false;  // find methods and types through the target's server reflection
  ChannelOptions channel;   // TLS, authority, compression, keepalive, message size
  WebhookSinkSpec webhook_sink;
  std::vector<OperationSpec> operations;
  std::vector<GateSpec> gates;
  std::vector<EventSpec> events;  // in time order
  ServerMetricsSpec server_metrics;
  std::string effective_json;  // the scenario as run (after overrides), as JSON
};

// Whether the scenario's operations go over HTTP: requests (http:) and
// WebSocket streams (websocket:) to one HTTP port; they all do, or none.
bool IsHttpScenario(const Scenario& scenario);

// The run's operation that holds the finality of operation `name`'s requests.
std::string FinalityOperationName(const std::string& name);

// INVALID_ARGUMENT unless the gate's operation (if any) is one the scenario
// has: an operation, an operation's finality operation, or for a scraped_
// gate a server_metrics histogram.
absl::Status CheckGateScope(const Scenario& scenario, const GateSpec& gate);

// `source` names the input in error messages (a path, or "<string>").
absl::StatusOr<Scenario> ParseScenario(const std::string& yaml_text, const std::string& source,
                                       const std::vector<std::string>& overrides);
// A relative path in the file (proto, import_paths, protoset, an operation's
// data file and request_bin, channel certificates) is found from the file's own directory first,
// then from the current directory.
absl::StatusOr<Scenario> LoadScenarioFile(const std::string& path,
                                          const std::vector<std::string>& overrides);

}  // namespace aurigraph::loadgen
