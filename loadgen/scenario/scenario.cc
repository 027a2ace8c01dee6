#include "loadgen/scenario/scenario.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <type_traits>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/input/input_file.h"
#include "common/input/utf8.h"
#include "common/units/units.h"
#include "loadgen/scenario/yaml_tree.h"

namespace aurigraph::loadgen {
namespace {

using scenario_yaml::ApplyOverride;
using scenario_yaml::CheckTree;
using scenario_yaml::Reader;
using scenario_yaml::ToJson;

#define RETURN_IF_ERROR(expr)                                 \
  do {                                                        \
    if (auto status_ = (expr); !status_.ok()) return status_; \
  } while (0)

// A gRPC message size ("16MiB"): 1 KiB to 2 GiB, what a channel takes.
absl::Status MessageSize(const Reader& r, const YAML::Node& node, const std::string& where,
                         int64_t* out) {
  std::string size;
  RETURN_IF_ERROR(r.String(node, where, &size));
  auto bytes = ParseBytes(size);
  if (!bytes.ok() || *bytes < 1024 || *bytes > (int64_t{1} << 31) - 1) {
    return r.Error(where, "expected a size from 1KiB to 2GiB");
  }
  *out = *bytes;
  return absl::OkStatus();
}

// KEY and KEY_max: the first wait after a failure and the most it grows to,
// from 1 ms (none would try again in a hot loop) to a day (gRPC takes
// milliseconds in an int).
absl::Status BackoffKeys(const Reader& r, const YAML::Node& node, const std::string& where,
                         const std::string& key, int64_t* first, int64_t* max) {
  constexpr int64_t kMin = 1'000'000;
  constexpr int64_t kMax = 86'400'000'000'000;
  for (const auto& [name, out] : {std::pair{key, first}, std::pair{key + "_max", max}}) {
    if (!node[name]) continue;
    const std::string at = absl::StrCat(where, ".", name);
    RETURN_IF_ERROR(r.Duration(node[name], at, out));
    if (*out < kMin || *out > kMax) return r.Error(at, "expected a duration from 1ms to 24h");
  }
  if (*max < *first)
    return r.Error(absl::StrCat(where, ".", key, "_max"), "must not be below " + key);
  return absl::OkStatus();
}

absl::Status ParseChannel(const Reader& r, const YAML::Node& node, ChannelOptions& c) {
  RETURN_IF_ERROR(r.CheckKeys(node, "channel",
                              {"client", "tls", "ca", "cert", "key", "server_name", "authority",
                               "compression", "keepalive_time", "keepalive_timeout",
                               "max_message_size", "reconnect_backoff", "reconnect_backoff_max"}));
  if (node["client"]) {
    std::string client;
    RETURN_IF_ERROR(r.String(node["client"], "channel.client", &client));
    if (client != "grpc" && client != "nghttp2") {
      return r.Error("channel.client", "expected grpc or nghttp2");
    }
    if (client == "nghttp2") c.client = ChannelOptions::Client::kNghttp2;
  }
  if (node["tls"] && !YAML::convert<bool>::decode(node["tls"], c.tls)) {
    return r.Error("channel.tls", "expected true or false");
  }
  for (auto [key, out] :
       {std::pair{"ca", &c.ca_file}, std::pair{"cert", &c.cert_file}, std::pair{"key", &c.key_file},
        std::pair{"server_name", &c.server_name}, std::pair{"authority", &c.authority}}) {
    if (node[key]) RETURN_IF_ERROR(r.String(node[key], absl::StrCat("channel.", key), out));
  }
  // Naming a CA or a client certificate means TLS.
  if (!c.ca_file.empty() || !c.cert_file.empty()) c.tls = true;
  if (node["compression"]) {
    std::string compression;
    RETURN_IF_ERROR(r.String(node["compression"], "channel.compression", &compression));
    if (compression != "gzip" && compression != "none") {
      return r.Error("channel.compression", "expected gzip or none");
    }
    c.gzip = compression == "gzip";
  }
  if (node["keepalive_time"]) {
    RETURN_IF_ERROR(
        r.Duration(node["keepalive_time"], "channel.keepalive_time", &c.keepalive_time_nanos));
  }
  if (node["keepalive_timeout"]) {
    RETURN_IF_ERROR(r.Duration(node["keepalive_timeout"], "channel.keepalive_timeout",
                               &c.keepalive_timeout_nanos));
  }
  if (node["max_message_size"]) {
    RETURN_IF_ERROR(
        MessageSize(r, node["max_message_size"], "channel.max_message_size", &c.max_message_bytes));
  }
  RETURN_IF_ERROR(BackoffKeys(r, node, "channel", "reconnect_backoff", &c.reconnect_backoff_nanos,
                              &c.reconnect_backoff_max_nanos));
  if (c.client == ChannelOptions::Client::kNghttp2) {
    // What gRPC's library does and the lean client does not (yet).
    if (c.tls) return r.Error("channel.client", "nghttp2 calls are plaintext: no TLS");
    if (c.gzip) return r.Error("channel.client", "nghttp2 calls are not compressed");
    if (c.keepalive_time_nanos > 0) {
      return r.Error("channel.client", "nghttp2 connections send no keepalive pings");
    }
  }
  return absl::OkStatus();
}

// Calls in flight at once, in total: each holds memory in gRPC (about 20 KiB).
constexpr int kMaxConcurrency = 100'000;
// precision: spin: how long before a send the worker stops sleeping. Sleeping
// timers here wake 50-80 us late, more on a loaded machine.
constexpr int64_t kSpinWindowNanos = 200'000;

// load.profile: holds ({rate|concurrency: V, for: D}) and ramps from the value
// before ({ramp_to: V, over: D}; the first ramp starts from 0).
absl::Status ParseProfile(const Reader& r, const YAML::Node& node, const std::string& unit,
                          double max, Scenario& s) {
  if (!node.IsSequence() || node.size() == 0) {
    return r.Error("load.profile", absl::StrCat("expected a list of {", unit,
                                                ": N, for: D} holds and {ramp_to: N, over: D} "
                                                "ramps"));
  }
  double value = 0;
  for (size_t i = 0; i < node.size(); ++i) {
    const std::string where = absl::StrCat("load.profile[", i, "]");
    const YAML::Node& item = node[i];
    RETURN_IF_ERROR(r.CheckKeys(item, where, {unit, "for", "ramp_to", "over"}));
    const bool hold = static_cast<bool>(item[unit]);
    if (hold == static_cast<bool>(item["ramp_to"]) || static_cast<bool>(item["for"]) != hold ||
        static_cast<bool>(item["over"]) == hold) {
      return r.Error(where,
                     absl::StrCat("expected {", unit, ": N, for: D} or {ramp_to: N, over: D}"));
    }
    const std::string value_key = hold ? unit : "ramp_to";
    LoadSegment segment{value, 0, 0};
    RETURN_IF_ERROR(r.Number(item[value_key], where + "." + value_key, &segment.to, 0.0));
    if (segment.to > max) {
      return r.Error(where + "." + value_key, absl::StrCat("at most ", max));
    }
    if (unit == "concurrency" && segment.to != std::floor(segment.to)) {
      return r.Error(where + "." + value_key, "a concurrency is a whole number");
    }
    const std::string duration_key = hold ? "for" : "over";
    RETURN_IF_ERROR(
        r.Duration(item[duration_key], where + "." + duration_key, &segment.duration_nanos));
    if (segment.duration_nanos <= 0) return r.Error(where + "." + duration_key, "must be > 0");
    if (hold) segment.from = segment.to;
    value = segment.to;
    s.profile.push_back(segment);
  }
  int64_t length = 0;
  double highest = 0;
  for (const LoadSegment& segment : s.profile) {
    length += segment.duration_nanos;
    highest = std::max({highest, segment.from, segment.to});
  }
  if (highest <= 0) return r.Error("load.profile", absl::StrCat("every ", unit, " is 0"));
  if (s.duration_nanos > 0 && s.duration_nanos != length) {
    return r.Error("duration", absl::StrCat(FormatDuration(s.duration_nanos),
                                            " is not the length of load.profile (",
                                            FormatDuration(length), "), which sets it"));
  }
  s.duration_nanos = length;
  if (unit == "concurrency") s.concurrency = static_cast<int>(highest);
  return absl::OkStatus();
}

absl::Status ParseLoad(const Reader& r, const YAML::Node& load, Scenario& s) {
  RETURN_IF_ERROR(
      r.CheckKeys(load, "load", {"model", "rate", "arrival", "concurrency", "profile"}));
  std::string model = "open";
  if (load["model"]) RETURN_IF_ERROR(r.String(load["model"], "load.model", &model));
  if (model == "open")
    s.model = LoadModel::kOpenLoop;
  else if (model == "closed")
    s.model = LoadModel::kClosedLoop;
  else
    return r.Error("load.model", absl::StrCat("'", model, "' is not open or closed"));
  const bool open = s.model == LoadModel::kOpenLoop;
  const std::string value_key = open ? "rate" : "concurrency";
  if (load[open ? "concurrency" : "rate"]) {
    return r.Error(absl::StrCat("load.", open ? "concurrency" : "rate"),
                   absl::StrCat("only for ", open ? "a closed" : "an open", "-loop run"));
  }
  if (load["profile"]) {
    if (load[value_key]) {
      return r.Error("load.profile", absl::StrCat("give load.", value_key, " or a profile"));
    }
    RETURN_IF_ERROR(ParseProfile(r, load["profile"], value_key, open ? 1e8 : kMaxConcurrency, s));
  } else if (!load[value_key]) {
    return r.Error("load." + value_key, absl::StrCat("required for ", open ? "an open" : "a closed",
                                                     "-loop run (or a load.profile)"));
  } else if (open) {
    RETURN_IF_ERROR(r.Number(load["rate"], "load.rate", &s.rate, 0.0));
    if (s.rate <= 0 || s.rate > 1e8) {
      return r.Error("load.rate",
                     absl::StrCat("impossible rate ", s.rate, " (0 < rate <= 1e8 per second)"));
    }
  } else {
    RETURN_IF_ERROR(r.Number(load["concurrency"], "load.concurrency", &s.concurrency, 1));
    if (s.concurrency > kMaxConcurrency) {
      return r.Error("load.concurrency", absl::StrCat("at most ", kMaxConcurrency));
    }
  }
  if (load["arrival"]) {
    std::string arrival;
    RETURN_IF_ERROR(r.String(load["arrival"], "load.arrival", &arrival));
    if (arrival == "constant")
      s.arrival = ArrivalProcess::kConstant;
    else if (arrival == "poisson")
      s.arrival = ArrivalProcess::kPoisson;
    else
      return r.Error("load.arrival", absl::StrCat("'", arrival, "' is not constant or poisson"));
  }
  return absl::OkStatus();
}

absl::Status ParseStream(const Reader& r, const YAML::Node& node, const std::string& where,
                         StreamSpec& spec) {
  RETURN_IF_ERROR(r.CheckKeys(node, where,
                              {"streams", "messages", "lifetime", "open_rate", "send_rate", "delay",
                               "max_outstanding", "reopen_backoff", "reopen_backoff_max", "match",
                               "timestamp_field", "status_field", "phase"}));
  if (node["streams"])
    RETURN_IF_ERROR(r.Number(node["streams"], where + ".streams", &spec.streams, int64_t{1}));
  if (spec.streams > 100'000) return r.Error(where + ".streams", "at most 100000");
  if (node["messages"])
    RETURN_IF_ERROR(r.Number(node["messages"], where + ".messages", &spec.messages, int64_t{0}));
  if (node["lifetime"])
    RETURN_IF_ERROR(r.Duration(node["lifetime"], where + ".lifetime", &spec.lifetime_nanos));
  if (node["open_rate"])
    RETURN_IF_ERROR(r.Number(node["open_rate"], where + ".open_rate", &spec.open_rate, 0.0));
  if (node["send_rate"])
    RETURN_IF_ERROR(r.Number(node["send_rate"], where + ".send_rate", &spec.send_rate, 0.0));
  if (spec.send_rate > 1e7) return r.Error(where + ".send_rate", "at most 1e7 per stream");
  if (node["delay"])
    RETURN_IF_ERROR(r.Duration(node["delay"], where + ".delay", &spec.delay_nanos));
  if (node["max_outstanding"])
    RETURN_IF_ERROR(r.Number(node["max_outstanding"], where + ".max_outstanding",
                             &spec.max_outstanding, int64_t{1}));
  RETURN_IF_ERROR(BackoffKeys(r, node, where, "reopen_backoff", &spec.reopen_backoff_nanos,
                              &spec.reopen_backoff_max_nanos));
  if (node["match"]) {
    const YAML::Node match = node["match"];
    RETURN_IF_ERROR(r.CheckKeys(match, where + ".match", {"request", "response"}));
    if (!match["request"] || !match["response"])
      return r.Error(where + ".match", "needs both request and response fields");
    RETURN_IF_ERROR(r.String(match["request"], where + ".match.request", &spec.match_request));
    RETURN_IF_ERROR(r.String(match["response"], where + ".match.response", &spec.match_response));
  }
  if (node["timestamp_field"])
    RETURN_IF_ERROR(
        r.String(node["timestamp_field"], where + ".timestamp_field", &spec.timestamp_field));
  if (node["status_field"])
    RETURN_IF_ERROR(r.String(node["status_field"], where + ".status_field", &spec.status_field));
  if (node["phase"]) {
    const YAML::Node phase = node["phase"];
    const std::string at = where + ".phase";
    RETURN_IF_ERROR(r.CheckKeys(phase, at, {"name", "from", "when", "equals"}));
    for (const char* key : {"name", "from", "when", "equals"}) {
      if (!phase[key]) return r.Error(absl::StrCat(at, ".", key), "required");
    }
    RETURN_IF_ERROR(r.String(phase["name"], at + ".name", &spec.phase_name));
    RETURN_IF_ERROR(r.String(phase["from"], at + ".from", &spec.phase_from));
    RETURN_IF_ERROR(r.String(phase["when"], at + ".when", &spec.phase_when));
    RETURN_IF_ERROR(r.String(phase["equals"], at + ".equals", &spec.phase_equals));
  }
  return absl::OkStatus();
}

// `metadata:`: header name -> value template. Header names are case-insensitive
// (sent lower-cased): two in one mapping that differ only in case are refused,
// and an operation's header replaces the scenario's of the same name in any case.
absl::Status ParseMetadata(const Reader& r, const YAML::Node& node, const std::string& where,
                           std::vector<std::pair<std::string, std::string>>& metadata) {
  if (!node.IsMap()) return r.Error(where, "must be a mapping of header name to value");
  std::map<std::string, std::string> names;  // this mapping's, lower-cased -> as written
  for (const auto& entry : node) {
    const std::string key = entry.first.as<std::string>();
    if (const auto [other, added] = names.emplace(absl::AsciiStrToLower(key), key); !added) {
      return r.Error(where, absl::StrCat("'", other->second, "' and '", key,
                                         "' are the same header (header names are "
                                         "case-insensitive)"));
    }
    std::string value;
    RETURN_IF_ERROR(r.String(entry.second, absl::StrCat(where, ".", key), &value));
    auto same = std::find_if(metadata.begin(), metadata.end(), [&](const auto& header) {
      return absl::EqualsIgnoreCase(header.first, key);
    });
    if (same != metadata.end()) {
      *same = {key, value};
    } else {
      metadata.emplace_back(key, value);
    }
  }
  return absl::OkStatus();
}

// `data: FILE` or `data: {file: FILE, order: sequential | random}`.
absl::Status ParseData(const Reader& r, const YAML::Node& node, const std::string& where,
                       OperationSpec& op) {
  if (node.IsScalar()) return r.String(node, where, &op.data_file);
  RETURN_IF_ERROR(r.CheckKeys(node, where, {"file", "order"}));
  if (!node["file"]) return r.Error(where + ".file", "required");
  RETURN_IF_ERROR(r.String(node["file"], where + ".file", &op.data_file));
  if (node["order"]) {
    std::string order;
    RETURN_IF_ERROR(r.String(node["order"], where + ".order", &order));
    if (order != "sequential" && order != "random") {
      return r.Error(where + ".order", "expected sequential or random");
    }
    op.data_random = order == "random";
  }
  return absl::OkStatus();
}

// `server_metrics: {scrape: [URL, ...], timeout: 2s, histograms: [{name: voting,
// metric: NAME, labels: {rpc: RequestVote}}]}`; scrape may be one string of
// comma-separated URLs (as scripts/cluster writes them).
absl::Status ParseServerMetrics(const Reader& r, const YAML::Node& node, Scenario& s) {
  RETURN_IF_ERROR(r.CheckKeys(node, "server_metrics", {"scrape", "timeout", "histograms"}));
  ServerMetricsSpec& spec = s.server_metrics;
  if (!node["scrape"]) return r.Error("server_metrics.scrape", "required");
  std::vector<std::string> urls;
  RETURN_IF_ERROR(r.Strings(node["scrape"], "server_metrics.scrape", &urls));
  for (const std::string& list : urls) {
    for (absl::string_view url : absl::StrSplit(list, ',', absl::SkipWhitespace())) {
      const std::string trimmed(absl::StripAsciiWhitespace(url));
      if (!absl::StartsWith(trimmed, "http://")) {
        return r.Error("server_metrics.scrape",
                       absl::StrCat("'", trimmed, "' is not an http:// URL"));
      }
      if (std::find(spec.scrape.begin(), spec.scrape.end(), trimmed) != spec.scrape.end()) {
        return r.Error("server_metrics.scrape",
                       absl::StrCat("'", trimmed, "' is listed twice (it would count twice)"));
      }
      spec.scrape.push_back(trimmed);
    }
  }
  if (spec.scrape.empty()) return r.Error("server_metrics.scrape", "needs at least one URL");
  if (node["timeout"]) {
    RETURN_IF_ERROR(r.Duration(node["timeout"], "server_metrics.timeout", &spec.timeout_nanos));
    if (spec.timeout_nanos <= 0) return r.Error("server_metrics.timeout", "must be > 0");
  }
  const YAML::Node& list = node["histograms"];
  if (!list || !list.IsSequence() || list.size() == 0) {
    return r.Error("server_metrics.histograms", "needs a list of {name, metric, labels}");
  }
  for (size_t i = 0; i < list.size(); ++i) {
    const std::string where = absl::StrCat("server_metrics.histograms.", i);
    RETURN_IF_ERROR(r.CheckKeys(list[i], where, {"name", "metric", "labels"}));
    ServerHistogramSpec histogram;
    for (const char* key : {"name", "metric"}) {
      if (!list[i][key]) return r.Error(absl::StrCat(where, ".", key), "required");
    }
    RETURN_IF_ERROR(r.String(list[i]["name"], where + ".name", &histogram.name));
    RETURN_IF_ERROR(r.String(list[i]["metric"], where + ".metric", &histogram.metric));
    if (histogram.metric.empty()) return r.Error(where + ".metric", "must name a histogram");
    for (const ServerHistogramSpec& other : spec.histograms) {
      if (other.name == histogram.name) {
        return r.Error(where + ".name", absl::StrCat("'", histogram.name, "' is used twice"));
      }
    }
    if (const YAML::Node& labels = list[i]["labels"]) {
      if (!labels.IsMap()) return r.Error(where + ".labels", "must be a mapping of label to value");
      for (const auto& entry : labels) {
        const std::string label = entry.first.as<std::string>();
        RETURN_IF_ERROR(r.String(entry.second, absl::StrCat(where, ".labels.", label),
                                 &histogram.labels[label]));
      }
    }
    spec.histograms.push_back(std::move(histogram));
  }
  return absl::OkStatus();
}

// `finality: {rpc: ..., request: {...}, match: {request: FIELD, event: FIELD}, timeout: 5s}`.
absl::Status ParseFinality(const Reader& r, const YAML::Node& node, const std::string& where,
                           FinalitySpec& spec) {
  RETURN_IF_ERROR(r.CheckKeys(node, where, {"rpc", "request", "match", "timeout"}));
  for (const char* key : {"rpc", "match"}) {
    if (!node[key]) return r.Error(absl::StrCat(where, ".", key), "required");
  }
  RETURN_IF_ERROR(r.String(node["rpc"], where + ".rpc", &spec.rpc));
  if (node["request"]) {
    if (!node["request"].IsMap()) return r.Error(where + ".request", "must be a mapping");
    spec.request_json = ToJson(node["request"]).dump();
  }
  const YAML::Node match = node["match"];
  RETURN_IF_ERROR(r.CheckKeys(match, where + ".match", {"request", "event"}));
  if (!match["request"] || !match["event"])
    return r.Error(where + ".match", "needs both request and event fields");
  RETURN_IF_ERROR(r.String(match["request"], where + ".match.request", &spec.match_request));
  RETURN_IF_ERROR(r.String(match["event"], where + ".match.event", &spec.match_event));
  if (node["timeout"]) {
    RETURN_IF_ERROR(r.Duration(node["timeout"], where + ".timeout", &spec.timeout_nanos));
    if (spec.timeout_nanos <= 0) return r.Error(where + ".timeout", "must be > 0");
  }
  return absl::OkStatus();
}

// `events: [{name: crash, at: 20s, exec: "kill -9 ..."}, {name: pause, at: 30s,
// rpc: {call: Service/Method, request: {...}, target: leader}}]`.
absl::Status ParseEvents(const Reader& r, const YAML::Node& node, Scenario& s) {
  if (!node.IsSequence()) return r.Error("events", "must be a list");
  for (size_t i = 0; i < node.size(); ++i) {
    const YAML::Node& item = node[i];
    const std::string where = absl::StrCat("events.", i);
    RETURN_IF_ERROR(r.CheckKeys(item, where, {"name", "at", "exec", "rpc", "timeout"}));
    EventSpec event;
    for (const char* key : {"name", "at"}) {
      if (!item[key]) return r.Error(absl::StrCat(where, ".", key), "required");
    }
    RETURN_IF_ERROR(r.String(item["name"], where + ".name", &event.name));
    RETURN_IF_ERROR(r.Duration(item["at"], where + ".at", &event.at_nanos));
    if (item["timeout"]) {
      RETURN_IF_ERROR(r.Duration(item["timeout"], where + ".timeout", &event.timeout_nanos));
      if (event.timeout_nanos <= 0) return r.Error(where + ".timeout", "must be > 0");
    }
    if (!item["exec"] == !item["rpc"]) return r.Error(where, "needs exec or rpc (one of them)");
    if (item["exec"]) RETURN_IF_ERROR(r.String(item["exec"], where + ".exec", &event.exec));
    if (item["rpc"]) {
      const YAML::Node rpc = item["rpc"];
      RETURN_IF_ERROR(r.CheckKeys(rpc, where + ".rpc", {"call", "request", "target"}));
      if (!rpc["call"]) return r.Error(where + ".rpc.call", "required");
      RETURN_IF_ERROR(r.String(rpc["call"], where + ".rpc.call", &event.rpc));
      if (rpc["request"]) {
        if (!rpc["request"].IsMap()) return r.Error(where + ".rpc.request", "must be a mapping");
        event.request_json = ToJson(rpc["request"]).dump();
      }
      if (rpc["target"])
        RETURN_IF_ERROR(r.String(rpc["target"], where + ".rpc.target", &event.rpc_target));
    }
    s.events.push_back(std::move(event));
  }
  std::stable_sort(s.events.begin(), s.events.end(),
                   [](const EventSpec& a, const EventSpec& b) { return a.at_nanos < b.at_nanos; });
  return absl::OkStatus();
}

// `node`'s required path: an origin-form path, as HTTP/1.1 sends it.
absl::Status ParsePath(const Reader& r, const YAML::Node& node, const std::string& where,
                       std::string& path) {
  if (!node["path"]) return r.Error(where + ".path", "required");
  RETURN_IF_ERROR(r.String(node["path"], where + ".path", &path));
  const bool printable =
      std::all_of(path.begin(), path.end(), [](char c) { return c > 0x20 && c < 0x7f; });
  if (!absl::StartsWith(path, "/") || !printable) {
    return r.Error(
        where + ".path",
        absl::StrCat("'", path, "': an origin-form path, '/' then printable ASCII without spaces"));
  }
  return absl::OkStatus();
}

absl::Status ParseHttp(const Reader& r, const YAML::Node& node, const std::string& where,
                       bool has_body, HttpSpec& spec) {
  if (!node.IsMap()) return r.Error(where, "must be a mapping (method, path)");
  RETURN_IF_ERROR(r.CheckKeys(node, where, {"method", "path"}));
  spec.method = has_body ? "POST" : "GET";
  if (node["method"]) RETURN_IF_ERROR(r.String(node["method"], where + ".method", &spec.method));
  static constexpr const char* kMethods[] = {"GET", "POST", "PUT", "PATCH", "DELETE"};
  if (std::find(std::begin(kMethods), std::end(kMethods), spec.method) == std::end(kMethods)) {
    return r.Error(where + ".method",
                   absl::StrCat("'", spec.method, "': expected GET, POST, PUT, PATCH or DELETE"));
  }
  RETURN_IF_ERROR(ParsePath(r, node, where, spec.path));
  return absl::OkStatus();
}

absl::Status ParseWebSocket(const Reader& r, const YAML::Node& node, const std::string& where,
                            WebSocketSpec& spec) {
  if (!node.IsMap()) return r.Error(where, "must be a mapping (path, kind)");
  RETURN_IF_ERROR(r.CheckKeys(node, where, {"path", "kind"}));
  RETURN_IF_ERROR(ParsePath(r, node, where, spec.path));
  if (node["kind"]) {
    std::string kind;
    RETURN_IF_ERROR(r.String(node["kind"], where + ".kind", &kind));
    if (kind == "server_stream") {
      spec.kind = CallKind::kServerStreaming;
    } else if (kind == "client_stream") {
      spec.kind = CallKind::kClientStreaming;
    } else if (kind == "bidi") {
      spec.kind = CallKind::kBidiStreaming;
    } else {
      return r.Error(where + ".kind",
                     absl::StrCat("'", kind, "': expected server_stream, client_stream or bidi"));
    }
  }
  return absl::OkStatus();
}

absl::Status ParseOperation(const Reader& r, const YAML::Node& node, size_t index,
                            const YAML::Node& shared_metadata, Scenario& s) {
  const std::string where = absl::StrCat("operations.", index);
  RETURN_IF_ERROR(
      r.CheckKeys(node, where,
                  {"name", "rpc", "http", "websocket", "weight", "request", "request_bin",
                   "deadline", "count_field", "stream", "metadata", "data", "finality"}));
  OperationSpec op;
  if (node["http"] && node["websocket"]) {
    return r.Error(where + ".websocket", "give http or websocket, not both");
  }
  if (node["websocket"]) {
    if (node["rpc"]) return r.Error(where + ".websocket", "give rpc (gRPC) or websocket, not both");
    RETURN_IF_ERROR(
        ParseWebSocket(r, node["websocket"], where + ".websocket", op.websocket.emplace()));
    for (const char* key : {"request_bin", "count_field", "finality", "deadline"}) {
      if (node[key]) {
        return r.Error(absl::StrCat(where, ".", key), "does not apply to WebSocket operations");
      }
    }
    op.rpc = absl::StrCat("WEBSOCKET ", op.websocket->path);
    op.name = op.rpc;
  } else if (node["http"]) {
    if (node["rpc"]) return r.Error(where + ".http", "give rpc (gRPC) or http, not both");
    RETURN_IF_ERROR(ParseHttp(r, node["http"], where + ".http", node["request"].IsDefined(),
                              op.http.emplace()));
    for (const char* key : {"request_bin", "count_field", "finality"}) {
      if (node[key]) return r.Error(absl::StrCat(where, ".", key), "applies to gRPC operations");
    }
    if (node["stream"]) {
      return r.Error(where + ".stream",
                     "an HTTP request is unary: streams are gRPC or WebSocket operations");
    }
    op.rpc = absl::StrCat(op.http->method, " ", op.http->path);
    op.name = op.rpc;
  } else {
    if (!node["rpc"]) {
      return r.Error(where + ".rpc",
                     "required (or http: for an HTTP request, websocket: for a WebSocket stream)");
    }
    RETURN_IF_ERROR(r.String(node["rpc"], where + ".rpc", &op.rpc));
    op.name = op.rpc.substr(op.rpc.find('/') == std::string::npos ? 0 : op.rpc.find('/') + 1);
  }
  if (node["name"]) RETURN_IF_ERROR(r.String(node["name"], where + ".name", &op.name));
  if (node["weight"]) {
    RETURN_IF_ERROR(r.Number(node["weight"], where + ".weight", &op.weight, 0.0));
    if (op.weight <= 0) return r.Error(where + ".weight", "must be > 0");
  }
  if (node["deadline"])
    RETURN_IF_ERROR(r.Duration(node["deadline"], where + ".deadline", &op.deadline_nanos));
  if (node["count_field"])
    RETURN_IF_ERROR(r.String(node["count_field"], where + ".count_field", &op.count_field));
  if (node["stream"]) {
    op.has_stream = true;
    RETURN_IF_ERROR(ParseStream(r, node["stream"], where + ".stream", op.stream));
  }
  if (node["finality"]) {
    RETURN_IF_ERROR(ParseFinality(r, node["finality"], where + ".finality", op.finality.emplace()));
  }
  if (shared_metadata) RETURN_IF_ERROR(ParseMetadata(r, shared_metadata, "metadata", op.metadata));
  if (node["metadata"])
    RETURN_IF_ERROR(ParseMetadata(r, node["metadata"], where + ".metadata", op.metadata));
  if (node["data"]) RETURN_IF_ERROR(ParseData(r, node["data"], where + ".data", op));
  // An HTTP request without one has no body.
  op.request_json = node["request"] ? ToJson(node["request"]).dump() : op.http ? "" : "{}";
  if (node["request"]) {
    const YAML::Node& request = node["request"];
    const bool messages =
        request.IsSequence() && request.size() > 0 &&
        std::all_of(request.begin(), request.end(), [](const YAML::Node& m) { return m.IsMap(); });
    if (!request.IsMap() && !messages)
      return r.Error(where + ".request", "must be a mapping, or a list of mappings (messages)");
  }
  if (node["request_bin"]) {
    if (node["request"]) return r.Error(where + ".request_bin", "give request or request_bin");
    RETURN_IF_ERROR(r.String(node["request_bin"], where + ".request_bin", &op.request_bin));
  }
  for (const OperationSpec& other : s.operations) {
    if (other.name == op.name)
      return r.Error(where + ".name", absl::StrCat("duplicate operation name '", op.name, "'"));
  }
  s.operations.push_back(std::move(op));
  return absl::OkStatus();
}

absl::Status ParseWebhookSink(const Reader& r, const YAML::Node& node, WebhookSinkSpec& spec) {
  RETURN_IF_ERROR(r.CheckKeys(node, "webhook_sink",
                              {"listen", "events", "fail_ratio", "delay", "timestamp_window",
                               "max_attempts", "timeout", "drain"}));
  spec.enabled = true;
  if (node["listen"])
    RETURN_IF_ERROR(r.String(node["listen"], "webhook_sink.listen", &spec.listen));
  if (node["events"]) {
    spec.events.clear();
    RETURN_IF_ERROR(r.Strings(node["events"], "webhook_sink.events", &spec.events));
  }
  if (node["fail_ratio"]) {
    RETURN_IF_ERROR(r.Number(node["fail_ratio"], "webhook_sink.fail_ratio", &spec.fail_ratio, 0.0));
    if (spec.fail_ratio > 1) return r.Error("webhook_sink.fail_ratio", "must be <= 1");
  }
  if (node["delay"])
    RETURN_IF_ERROR(r.Duration(node["delay"], "webhook_sink.delay", &spec.delay_nanos));
  if (node["timestamp_window"]) {
    RETURN_IF_ERROR(r.Duration(node["timestamp_window"], "webhook_sink.timestamp_window",
                               &spec.timestamp_window_nanos));
  }
  if (node["max_attempts"]) {
    RETURN_IF_ERROR(
        r.Number(node["max_attempts"], "webhook_sink.max_attempts", &spec.max_attempts, 1));
  }
  if (node["timeout"])
    RETURN_IF_ERROR(r.Duration(node["timeout"], "webhook_sink.timeout", &spec.timeout_nanos));
  if (node["drain"])
    RETURN_IF_ERROR(r.Duration(node["drain"], "webhook_sink.drain", &spec.drain_nanos));
  return absl::OkStatus();
}

absl::Status ParseGates(const Reader& r, const YAML::Node& gates, Scenario& s) {
  if (!gates.IsSequence()) return r.Error("gates", "must be a list");
  for (size_t i = 0; i < gates.size(); ++i) {
    const std::string where = absl::StrCat("gates.", i);
    GateSpec gate;
    if (gates[i].IsScalar()) {
      gate.expression = gates[i].Scalar();
    } else {
      RETURN_IF_ERROR(r.CheckKeys(gates[i], where, {"gate", "operation"}));
      if (!gates[i]["gate"]) return r.Error(where + ".gate", "required");
      RETURN_IF_ERROR(r.String(gates[i]["gate"], where + ".gate", &gate.expression));
      if (gates[i]["operation"])
        RETURN_IF_ERROR(r.String(gates[i]["operation"], where + ".operation", &gate.operation));
    }
    s.gates.push_back(std::move(gate));
  }
  return absl::OkStatus();
}

// Results and reports carry the effective scenario; they must not carry credentials.
void RedactCredentials(nlohmann::json& scenario) {
  const auto redact = [](nlohmann::json& metadata) {
    if (!metadata.is_object()) return;
    for (auto it = metadata.begin(); it != metadata.end(); ++it) {
      std::string name = it.key();
      std::transform(name.begin(), name.end(), name.begin(), ::tolower);
      for (const char* secret : {"authorization", "cookie", "token", "secret", "password", "key"}) {
        if (name.find(secret) != std::string::npos) {
          *it = "(redacted)";
          break;
        }
      }
    }
  };
  if (scenario.contains("metadata")) redact(scenario["metadata"]);
  if (scenario.contains("operations") && scenario["operations"].is_array()) {
    for (nlohmann::json& op : scenario["operations"]) {
      if (op.is_object() && op.contains("metadata")) redact(op["metadata"]);
    }
  }
}

absl::StatusOr<Scenario> ParseTree(const Reader& r, const YAML::Node& root) {
  RETURN_IF_ERROR(r.CheckKeys(root, "",
                              {"name",
                               "description",
                               "target",
                               "duration",
                               "warmup",
                               "requests",
                               "workers",
                               "connections",
                               "max_in_flight",
                               "max_request_size",
                               "load",
                               "seed",
                               "max_generator_lag",
                               "precision",
                               "drain_timeout",
                               "connect_timeout",
                               "report_server_memory",
                               "interval",
                               "proto",
                               "import_paths",
                               "protoset",
                               "reflection",
                               "channel",
                               "webhook_sink",
                               "events",
                               "server_metrics",
                               "metadata",
                               "operations",
                               "gates"}));
  Scenario s;
  if (root["name"]) RETURN_IF_ERROR(r.String(root["name"], "name", &s.name));
  if (root["description"])
    RETURN_IF_ERROR(r.String(root["description"], "description", &s.description));
  if (root["target"]) RETURN_IF_ERROR(r.String(root["target"], "target", &s.target));
  if (root["duration"])
    RETURN_IF_ERROR(r.Duration(root["duration"], "duration", &s.duration_nanos));
  if (root["warmup"]) RETURN_IF_ERROR(r.Duration(root["warmup"], "warmup", &s.warmup_nanos));
  if (root["requests"])
    RETURN_IF_ERROR(r.Number(root["requests"], "requests", &s.requests, int64_t{1}));
  if (root["workers"]) RETURN_IF_ERROR(r.Number(root["workers"], "workers", &s.workers, 1));
  if (root["connections"])
    RETURN_IF_ERROR(r.Number(root["connections"], "connections", &s.connections, 1));
  if (root["max_in_flight"])
    RETURN_IF_ERROR(r.Number(root["max_in_flight"], "max_in_flight", &s.max_in_flight, 1));
  if (root["max_request_size"]) {
    RETURN_IF_ERROR(
        MessageSize(r, root["max_request_size"], "max_request_size", &s.max_request_bytes));
  }
  if (root["seed"]) RETURN_IF_ERROR(r.Number(root["seed"], "seed", &s.seed, uint64_t{0}));
  if (root["max_generator_lag"])
    RETURN_IF_ERROR(
        r.Duration(root["max_generator_lag"], "max_generator_lag", &s.max_generator_lag_nanos));
  if (root["precision"]) {
    std::string precision;
    RETURN_IF_ERROR(r.String(root["precision"], "precision", &precision));
    if (precision == "spin") {
      s.spin_nanos = kSpinWindowNanos;
    } else if (precision != "sleep") {
      return r.Error("precision", absl::StrCat("'", precision, "' is not sleep or spin"));
    }
  }
  if (root["drain_timeout"])
    RETURN_IF_ERROR(r.Duration(root["drain_timeout"], "drain_timeout", &s.drain_timeout_nanos));
  if (root["connect_timeout"])
    RETURN_IF_ERROR(
        r.Duration(root["connect_timeout"], "connect_timeout", &s.connect_timeout_nanos));
  if (root["interval"])
    RETURN_IF_ERROR(r.Duration(root["interval"], "interval", &s.interval_nanos));
  if (root["proto"]) RETURN_IF_ERROR(r.Strings(root["proto"], "proto", &s.proto_files));
  if (root["protoset"]) {
    RETURN_IF_ERROR(r.Strings(root["protoset"], "protoset", &s.protoset_files));
    if (root["proto"]) return r.Error("protoset", "give proto or protoset, not both");
  }
  if (root["channel"]) RETURN_IF_ERROR(ParseChannel(r, root["channel"], s.channel));
  if (root["webhook_sink"])
    RETURN_IF_ERROR(ParseWebhookSink(r, root["webhook_sink"], s.webhook_sink));
  if (root["reflection"]) {
    if (!YAML::convert<bool>::decode(root["reflection"], s.reflection))
      return r.Error("reflection", "expected true or false");
    if (s.reflection && (root["proto"] || root["protoset"]))
      return r.Error("reflection", "give proto, protoset or reflection, one of them");
  }
  if (root["import_paths"]) {
    RETURN_IF_ERROR(r.Strings(root["import_paths"], "import_paths", &s.import_paths));
  }
  if (s.interval_nanos < 100'000'000) {
    return r.Error("interval", "at least 100ms");
  }
  if (s.workers > 1024) return r.Error("workers", "at most 1024");
  if (s.connections > 4096) return r.Error("connections", "at most 4096");
  if (s.max_in_flight > 1'000'000) return r.Error("max_in_flight", "at most 1000000");
  if (root["report_server_memory"]) {
    if (!YAML::convert<bool>::decode(root["report_server_memory"], s.report_server_memory))
      return r.Error("report_server_memory", "expected true or false");
  }
  if (root["load"]) {
    s.has_load = true;
    RETURN_IF_ERROR(ParseLoad(r, root["load"], s));
  }
  if (s.duration_nanos == 0 && s.requests == 0) {
    return r.Error("duration", "a run needs a duration or a request count");
  }
  if (s.requests > 0 && !s.profile.empty()) {
    // Either would end the run, and which one first depends on the machine.
    return r.Error("requests", "not with a load profile, which sets the run's length");
  }
  if (s.duration_nanos > 0 && s.warmup_nanos >= s.duration_nanos) {
    return r.Error(
        "warmup",
        absl::StrCat(FormatDuration(s.warmup_nanos), " is not shorter than the duration (",
                     FormatDuration(s.duration_nanos), "): nothing would be measured"));
  }
  if (s.model == LoadModel::kClosedLoop && s.concurrency < s.workers) s.workers = s.concurrency;
  if (!root["operations"] || !root["operations"].IsSequence() || root["operations"].size() == 0) {
    return r.Error("operations", "a non-empty list is required");
  }
  for (size_t i = 0; i < root["operations"].size(); ++i) {
    RETURN_IF_ERROR(ParseOperation(r, root["operations"][i], i, root["metadata"], s));
  }
  for (const OperationSpec& op : s.operations) {
    const auto over_http = [](const OperationSpec& o) { return o.http || o.websocket; };
    if (over_http(op) != over_http(s.operations.front())) {
      return r.Error("operations",
                     "are all gRPC (rpc:) or all HTTP (http:, websocket:), not a mix");
    }
  }
  if (IsHttpScenario(s)) {
    if (s.channel.client != ChannelOptions::Client::kGrpc) {
      return r.Error("channel.client", "applies to gRPC operations only");
    }
    if (s.channel.gzip) {
      return r.Error("channel.compression", "not supported for HTTP operations yet");
    }
    if (s.reflection || !s.proto_files.empty() || !s.protoset_files.empty()) {
      return r.Error("operations", "HTTP requests need no .proto files or reflection");
    }
    if (s.webhook_sink.enabled) {
      return r.Error("webhook_sink", "registers over gRPC: not for HTTP operations");
    }
    if (s.report_server_memory) {
      return r.Error("report_server_memory", "asks the target over gRPC: not for HTTP operations");
    }
  }
  if (root["gates"]) RETURN_IF_ERROR(ParseGates(r, root["gates"], s));
  if (root["events"]) RETURN_IF_ERROR(ParseEvents(r, root["events"], s));
  // null: none (an override that drops the section, as a run without a cluster does).
  if (root["server_metrics"] && !root["server_metrics"].IsNull()) {
    RETURN_IF_ERROR(ParseServerMetrics(r, root["server_metrics"], s));
  }
  nlohmann::json effective = ToJson(root);
  RedactCredentials(effective);
  s.effective_json = effective.dump();
  return s;
}

}  // namespace

std::string FinalityOperationName(const std::string& name) { return name + ".final"; }

bool IsHttpScenario(const Scenario& scenario) {
  return !scenario.operations.empty() &&
         (scenario.operations.front().http || scenario.operations.front().websocket);
}

absl::Status CheckGateScope(const Scenario& scenario, const GateSpec& gate) {
  const bool scraped =
      absl::StartsWith(absl::StripLeadingAsciiWhitespace(gate.expression), "scraped_");
  if (scraped && gate.operation.empty() && scenario.server_metrics.histograms.size() > 1) {
    return absl::InvalidArgumentError(absl::StrCat("gate '", gate.expression,
                                                   "': several server_metrics histograms: name "
                                                   "one with 'operation:'"));
  }
  if (gate.operation.empty()) return absl::OkStatus();
  if (scraped) {
    // Without server_metrics the gate measures nothing, and fails as such.
    const auto& histograms = scenario.server_metrics.histograms;
    if (histograms.empty() ||
        std::any_of(histograms.begin(), histograms.end(),
                    [&](const ServerHistogramSpec& h) { return h.name == gate.operation; })) {
      return absl::OkStatus();
    }
    return absl::InvalidArgumentError(absl::StrCat("gate '", gate.expression,
                                                   "' names unknown server_metrics histogram '",
                                                   gate.operation, "'"));
  }
  if (std::any_of(scenario.operations.begin(), scenario.operations.end(),
                  [&](const OperationSpec& op) {
                    return op.name == gate.operation ||
                           (op.finality && FinalityOperationName(op.name) == gate.operation);
                  })) {
    return absl::OkStatus();
  }
  return absl::InvalidArgumentError(
      absl::StrCat("gate '", gate.expression, "' names unknown operation '", gate.operation, "'"));
}

absl::StatusOr<Scenario> ParseScenario(const std::string& yaml_text, const std::string& source,
                                       const std::vector<std::string>& overrides) {
  YAML::Node root;
  try {
    root = YAML::Load(yaml_text);
  } catch (const YAML::ParserException& e) {
    return absl::InvalidArgumentError(absl::StrCat(source, ":", e.mark.line + 1, ":",
                                                   e.mark.column + 1, ": invalid YAML: ", e.msg));
  }
  if (!root.IsMap())
    return absl::InvalidArgumentError(absl::StrCat(source, ": not a YAML mapping"));
  for (const std::string& assignment : overrides) {
    RETURN_IF_ERROR(ApplyOverride(root, assignment, source));
  }
  try {
    int64_t values = 0;
    RETURN_IF_ERROR(CheckTree(root, "", 0, source, &values));
    return ParseTree(Reader(source), root);
  } catch (const YAML::Exception& e) {
    return absl::InvalidArgumentError(absl::StrCat(source, ": ", e.msg));
  }
}

namespace {

// `path` from `dir` when it is relative and there, else as it is (from the current directory).
void ResolveFrom(const std::filesystem::path& dir, std::string& path) {
  if (path.empty() || std::filesystem::path(path).is_absolute()) return;
  std::error_code ec;
  const std::filesystem::path beside = dir / path;
  if (std::filesystem::exists(beside, ec)) path = beside.lexically_normal().string();
}

// Replaces each {"$file": PATH} in a request with the text of PATH (from
// `dir` when relative), so a large field such as a contract's source lives in
// a file of its own. The text is a template like any other field's.
absl::Status ReadFileFields(const std::filesystem::path& dir, const std::string& where,
                            nlohmann::json& value) {
  if (value.is_object() && value.size() == 1 && value.contains("$file")) {
    if (!value["$file"].is_string()) {
      return absl::InvalidArgumentError(absl::StrCat(where, ": $file needs a path"));
    }
    std::string path = value["$file"].get<std::string>();
    ResolveFrom(dir, path);
    auto text = ReadInputFile(path, absl::StrCat(where, ": $file ", path));
    if (!text.ok()) return text.status();
    if (const size_t bad = FirstInvalidUtf8(*text); bad != text->size()) {
      return absl::InvalidArgumentError(
          absl::StrCat(where, ": $file ", path, ": not UTF-8 text (byte ", bad, ")"));
    }
    value = *std::move(text);
    return absl::OkStatus();
  }
  if (value.is_object()) {
    for (auto& [key, member] : value.items()) {
      RETURN_IF_ERROR(ReadFileFields(dir, absl::StrCat(where, ".", key), member));
    }
  } else if (value.is_array()) {
    for (size_t i = 0; i < value.size(); ++i) {
      RETURN_IF_ERROR(ReadFileFields(dir, absl::StrCat(where, ".", i), value[i]));
    }
  }
  return absl::OkStatus();
}

// The same for a request kept as JSON text.
absl::Status ReadFileFields(const std::filesystem::path& dir, const std::string& where,
                            std::string& request_json) {
  if (request_json.find("\"$file\"") == std::string::npos) return absl::OkStatus();
  auto request = nlohmann::json::parse(request_json);
  RETURN_IF_ERROR(ReadFileFields(dir, where, request));
  request_json = request.dump();
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<Scenario> LoadScenarioFile(const std::string& path,
                                          const std::vector<std::string>& overrides) {
  auto text = ReadInputFile(path, path);
  if (absl::IsNotFound(text.status())) {
    return absl::NotFoundError(absl::StrCat(path, ": cannot read scenario file"));
  }
  if (!text.ok()) return text.status();
  auto scenario = ParseScenario(*text, path, overrides);
  if (!scenario.ok()) return scenario;
  const std::filesystem::path dir = std::filesystem::path(path).parent_path();
  for (auto* paths : {&scenario->proto_files, &scenario->import_paths, &scenario->protoset_files}) {
    for (std::string& file : *paths) ResolveFrom(dir, file);
  }
  for (OperationSpec& op : scenario->operations) {
    ResolveFrom(dir, op.data_file);
    ResolveFrom(dir, op.request_bin);
    RETURN_IF_ERROR(
        ReadFileFields(dir, absl::StrCat("operations.", op.name, ".request"), op.request_json));
    if (op.finality) {
      RETURN_IF_ERROR(ReadFileFields(dir, absl::StrCat("operations.", op.name, ".finality.request"),
                                     op.finality->request_json));
    }
  }
  for (size_t i = 0; i < scenario->events.size(); ++i) {
    RETURN_IF_ERROR(ReadFileFields(dir, absl::StrCat("events.", i, ".rpc.request"),
                                   scenario->events[i].request_json));
  }
  ChannelOptions& channel = scenario->channel;
  for (std::string* file : {&channel.ca_file, &channel.cert_file, &channel.key_file}) {
    ResolveFrom(dir, *file);
  }
  return scenario;
}

}  // namespace aurigraph::loadgen
