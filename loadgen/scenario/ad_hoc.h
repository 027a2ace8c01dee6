// An ad-hoc run (`run --call package.Service/Method ...`) as the scenario it
// stands for, written as JSON (which the scenario's YAML parser reads), so it
// is checked exactly like a scenario file.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "loadgen/scenario/scenario.h"

namespace aurigraph::loadgen {

// How long an ad-hoc run lasts when given neither a duration nor a request count.
inline constexpr char kDefaultAdHocDuration[] = "10s";

struct AdHocCall {
  std::string call;  // package.Service/Method
  // The request as JSON with template variables: an object, or an array of
  // messages taken in turn; "@FILE" reads it from FILE, "-" from the standard
  // input. None: {} (unless data_bin).
  std::optional<std::string> data;
  std::optional<std::string> data_bin;  // a file holding a serialized request, sent as is
  std::optional<std::string> duration;  // none: kDefaultAdHocDuration, unless `requests`
  std::optional<int64_t> requests;      // a request budget (with or instead of a duration)
  std::optional<std::string> warmup;
  std::vector<std::string> protos;     // neither: server reflection
  std::vector<std::string> protosets;  // FileDescriptorSets (protoc -o)
  std::vector<std::string> import_paths;
  std::optional<double> rate;      // open loop
  std::optional<int> concurrency;  // closed loop (1 when neither is given)
  // Load shapes, e.g. "100 for 30s, ramp to 5000 over 2m, 5000 for 10m": the
  // rate (open loop) or concurrency (closed loop) over the run, which they time.
  std::optional<std::string> rate_profile;
  std::optional<std::string> concurrency_profile;
  std::optional<std::string> deadline;
  std::vector<std::string> metadata;         // "name: value"
  std::optional<std::string> metadata_file;  // a JSON object of header name -> value
  std::optional<std::string> data_file;
  std::string data_order = "sequential";
  std::optional<int> streams;
  // Channel settings, by scenario key (ca, cert, key, server_name, authority,
  // keepalive_time, keepalive_timeout, max_message_size); tls and gzip are flags.
  bool tls = false;
  bool gzip = false;
  std::vector<std::pair<std::string, std::string>> channel;
};

// INVALID_ARGUMENT naming the flag when the call cannot stand for a scenario.
// Reads the files --data @FILE and --metadata-file name (and the standard input
// for --data -), within the input limits (common/input/input_file.h).
absl::StatusOr<std::string> AdHocScenarioJson(const AdHocCall& call);

// The call's scenario with `overrides` (--set key=value) applied. An error
// about a key that a flag set names the flag, as the user typed it ("--rate:
// impossible rate 0 ..."); one about a key that --set changed names the key.
absl::StatusOr<Scenario> ParseAdHocScenario(const AdHocCall& call,
                                            const std::vector<std::string>& overrides);

}  // namespace aurigraph::loadgen
