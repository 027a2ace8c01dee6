#include "loadgen/scenario/ad_hoc.h"

#include <cmath>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "common/input/input_file.h"
#include "common/input/json_check.h"

namespace aurigraph::loadgen {
namespace {

// The scenario keys set from flags that the scenario's checks can refuse, and
// the flag of each: an ad-hoc user typed the flag, not the key.
constexpr std::pair<absl::string_view, absl::string_view> kFlagOfKey[] = {
    {"duration", "--duration"},
    {"requests", "--requests"},
    {"warmup", "--warmup"},
    {"load.rate", "--rate"},
    {"load.concurrency", "--concurrency"},
    {"channel.keepalive_time", "--keepalive-time"},
    {"channel.keepalive_timeout", "--keepalive-timeout"},
    {"channel.max_message_size", "--max-message-size"},
    {"operations.0.deadline", "--deadline"},
    {"operations.0.data.order", "--data-order"},
    {"operations.0.stream.streams", "--streams"}};

// "100 for 30s, ramp to 5000 over 2m" as load.profile's list: holds of
// `value_key` and ramps. The values and durations are checked as the
// scenario's (the error names the flag).
absl::StatusOr<nlohmann::json> ParseProfile(absl::string_view spec, absl::string_view flag,
                                            const std::string& value_key) {
  nlohmann::json profile = nlohmann::json::array();
  for (absl::string_view item : absl::StrSplit(spec, ',')) {
    const std::vector<absl::string_view> words =
        absl::StrSplit(item, absl::ByAnyChar(" \t"), absl::SkipEmpty());
    double value = 0;
    const auto number = [&](absl::string_view word) {
      return absl::SimpleAtod(word, &value) && std::isfinite(value);
    };
    const bool ramp = words.size() == 5 && words[0] == "ramp" && words[1] == "to" &&
                      words[3] == "over" && number(words[2]);
    const bool hold = words.size() == 3 && words[1] == "for" && number(words[0]);
    if (ramp) {
      profile.push_back({{"ramp_to", value}, {"over", std::string(words[4])}});
    } else if (hold) {
      profile.push_back({{value_key, value}, {"for", std::string(words[2])}});
    } else {
      return absl::InvalidArgumentError(
          absl::StrCat(flag, ": '", absl::StripAsciiWhitespace(item),
                       "' is neither 'N for DURATION' nor 'ramp to N over DURATION'"));
    }
  }
  return profile;
}

std::string WithArticle(absl::string_view noun) {
  return absl::StrCat(noun == "array" || noun == "object" ? "an " : "a ", noun);
}

// JSON text read from `label` (a flag, with its file); text that is not JSON
// is refused at the byte where it stops being JSON.
absl::StatusOr<nlohmann::json> ParseJson(const std::string& text, absl::string_view label) {
  try {
    return nlohmann::json::parse(text);
  } catch (const nlohmann::json::parse_error& e) {
    // e.what() is "[json.exception...] parse error at line L, column C: REASON".
    const std::string what = e.what();
    const size_t reason = what.find(": ", what.find("column"));
    return absl::InvalidArgumentError(
        absl::StrCat(label, ": invalid JSON at byte ", e.byte,
                     reason == std::string::npos ? ": " + what : what.substr(reason)));
  }
}

// The text of --data: inline, or read from the file of "@FILE" or from the
// standard input for "-". `label` is set to what errors name.
absl::StatusOr<std::string> RequestText(const std::string& data, std::string* label) {
  *label = "--data";
  if (data == "-") {
    *label = "--data -";
    return ReadInputFile("/dev/stdin", *label);
  }
  if (absl::StartsWith(data, "@")) {
    *label = absl::StrCat("--data ", data);
    return ReadInputFile(data.substr(1), *label);
  }
  return data;
}

// --data as a JSON object, or a non-empty array of them (messages taken in turn).
absl::StatusOr<nlohmann::json> ParseRequest(const std::string& data) {
  std::string label;
  auto text = RequestText(data, &label);
  if (!text.ok()) return absl::InvalidArgumentError(text.status().message());
  auto request = ParseJson(*text, label);
  if (!request.ok()) return request.status();
  if (!request->is_object() && !request->is_array()) {
    return absl::InvalidArgumentError(absl::StrCat(label, ": not a JSON object or array (got ",
                                                   WithArticle(request->type_name()), ")"));
  }
  if (request->is_array() && request->empty()) {
    return absl::InvalidArgumentError(absl::StrCat(label, ": an empty array (no message)"));
  }
  for (size_t i = 0; request->is_array() && i < request->size(); ++i) {
    if (!(*request)[i].is_object()) {
      return absl::InvalidArgumentError(absl::StrCat(label, ": message ", i,
                                                     " of the array is not a JSON object (got ",
                                                     WithArticle((*request)[i].type_name()), ")"));
    }
  }
  if (auto checked = CheckUntrustedJson(*request); !checked.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(label, ": ", checked.message()));
  }
  return request;
}

// A header as given: where (the flag, with its file), its name and value template.
struct GivenHeader {
  std::string source;
  std::string name;
  std::string value;
};

// --metadata-file FILE: a JSON object of header name -> value template.
absl::StatusOr<std::vector<GivenHeader>> ReadMetadataFile(const std::string& path) {
  const std::string label = absl::StrCat("--metadata-file ", path);
  auto text = ReadInputFile(path, label);
  if (!text.ok()) return absl::InvalidArgumentError(text.status().message());
  auto object = ParseJson(*text, label);
  if (!object.ok()) return object.status();
  if (!object->is_object()) {
    return absl::InvalidArgumentError(
        absl::StrCat(label, ": not a JSON object of header name to value (got ",
                     WithArticle(object->type_name()), ")"));
  }
  if (auto checked = CheckUntrustedJson(*object); !checked.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(label, ": ", checked.message()));
  }
  // A parsed object keeps only the last of two equal keys: they are found as
  // the text is read again.
  std::set<std::string> names;
  std::string repeated;
  nlohmann::json::parse(
      *text,
      [&](int depth, nlohmann::json::parse_event_t event, nlohmann::json& parsed) {
        if (event == nlohmann::json::parse_event_t::key && depth == 1 && repeated.empty() &&
            !names.insert(parsed.get<std::string>()).second) {
          repeated = parsed.get<std::string>();
        }
        return true;
      },
      /*allow_exceptions=*/false);
  if (!repeated.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat(label, ": header '", repeated, "' is given twice"));
  }
  std::vector<GivenHeader> headers;
  for (auto it = object->begin(); it != object->end(); ++it) {
    if (!it.value().is_string()) {
      return absl::InvalidArgumentError(absl::StrCat(label, ": '", it.key(),
                                                     "': expected a string (got ",
                                                     WithArticle(it.value().type_name()), ")"));
    }
    headers.push_back({label, it.key(), it.value().get<std::string>()});
  }
  return headers;
}

// The headers of --metadata-file and the "name: value" of -H as an object.
// Header names are case-insensitive, so two that differ only in case are one
// header given twice, and refused.
absl::StatusOr<nlohmann::json> ParseHeaders(const AdHocCall& call) {
  std::vector<GivenHeader> headers;
  if (call.metadata_file) {
    auto from_file = ReadMetadataFile(*call.metadata_file);
    if (!from_file.ok()) return from_file.status();
    headers = *std::move(from_file);
  }
  for (const std::string& header : call.metadata) {
    const size_t colon = header.find(':');
    if (colon == std::string::npos || colon == 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("--metadata ", header, ": expected 'name: value'"));
    }
    headers.push_back({"--metadata",
                       std::string(absl::StripAsciiWhitespace(header.substr(0, colon))),
                       std::string(absl::StripLeadingAsciiWhitespace(header.substr(colon + 1)))});
  }
  nlohmann::json metadata = nlohmann::json::object();
  std::map<std::string, const GivenHeader*> names;  // lower-cased -> as given
  for (const GivenHeader& header : headers) {
    const auto [other, added] = names.emplace(absl::AsciiStrToLower(header.name), &header);
    if (added) {
      metadata[header.name] = header.value;
      continue;
    }
    const GivenHeader& first = *other->second;
    const std::string sources = first.source == header.source
                                    ? header.source
                                    : absl::StrCat(first.source, " and ", header.source);
    return absl::InvalidArgumentError(
        first.name == header.name
            ? absl::StrCat(sources, first.source == header.source ? " " : ": ", header.name,
                           ": given twice")
            : absl::StrCat(sources, ": '", first.name, "' and '", header.name,
                           "' are the same header (header names are case-insensitive)"));
  }
  return metadata;
}

// Whether `--set KEY=...` changed scenario key `key`, or a key above or below it.
bool SetByOverride(absl::string_view key, const std::vector<std::string>& overrides) {
  for (const std::string& assignment : overrides) {
    const absl::string_view set = absl::string_view(assignment).substr(0, assignment.find('='));
    const auto below = [](absl::string_view inner, absl::string_view outer) {
      return absl::StartsWith(inner, outer) && inner.size() > outer.size() &&
             inner[outer.size()] == '.';
    };
    if (set == key || below(key, set) || below(set, key)) return true;
  }
  return false;
}

// "--call: load.rate: impossible rate 0 ..." becomes "--rate: impossible rate 0 ...".
absl::Status InFlagTerms(const absl::Status& status, const AdHocCall& call,
                         const std::vector<std::string>& overrides) {
  constexpr absl::string_view kSource = "--call: ";
  absl::string_view message = status.message();
  if (!absl::ConsumePrefix(&message, kSource)) return status;
  const size_t colon = message.find(": ");
  if (colon == absl::string_view::npos) return status;
  const absl::string_view key = message.substr(0, colon);
  if (absl::StartsWith(key, "load.profile") && !SetByOverride("load.profile", overrides)) {
    return absl::Status(status.code(),
                        absl::StrCat(call.rate_profile ? "--rate-profile" : "--concurrency-profile",
                                     message.substr(key.size())));
  }
  for (const auto& [scenario_key, flag] : kFlagOfKey) {
    if (key == scenario_key && !SetByOverride(key, overrides)) {
      return absl::Status(status.code(), absl::StrCat(flag, message.substr(colon)));
    }
  }
  return status;
}

}  // namespace

absl::StatusOr<std::string> AdHocScenarioJson(const AdHocCall& call) {
  if (call.data && call.data_bin) {
    return absl::InvalidArgumentError("--data and --data-bin: give one");
  }
  auto request = ParseRequest(call.data.value_or("{}"));
  if (!request.ok()) return request.status();
  if (!call.protos.empty() && !call.protosets.empty()) {
    return absl::InvalidArgumentError("--proto and --protoset: give one");
  }
  std::vector<std::string> loads;
  if (call.rate) loads.push_back("--rate");
  if (call.concurrency) loads.push_back("--concurrency");
  if (call.rate_profile) loads.push_back("--rate-profile");
  if (call.concurrency_profile) loads.push_back("--concurrency-profile");
  if (loads.size() > 1) {
    return absl::InvalidArgumentError(absl::StrCat(
        absl::StrJoin(loads, " and "), ": give one (open or closed loop, steady or a profile)"));
  }
  nlohmann::json scenario = {{"name", "ad-hoc " + call.call}};
  // A request budget or a profile bounds the run by itself: the default
  // duration would cut it short or contradict the profile.
  if (call.duration || (!call.requests && !call.rate_profile && !call.concurrency_profile)) {
    scenario["duration"] = call.duration.value_or(kDefaultAdHocDuration);
  }
  if (call.requests) scenario["requests"] = *call.requests;
  if (call.warmup) scenario["warmup"] = *call.warmup;
  // Without a .proto or a protoset the target describes itself (server reflection).
  if (!call.protos.empty()) {
    scenario["proto"] = call.protos;
  } else if (!call.protosets.empty()) {
    scenario["protoset"] = call.protosets;
  } else {
    scenario["reflection"] = true;
  }
  if (!call.import_paths.empty()) scenario["import_paths"] = call.import_paths;
  if (call.rate_profile || call.concurrency_profile) {
    const bool open = call.rate_profile.has_value();
    auto profile =
        open ? ParseProfile(*call.rate_profile, "--rate-profile", "rate")
             : ParseProfile(*call.concurrency_profile, "--concurrency-profile", "concurrency");
    if (!profile.ok()) return profile.status();
    scenario["load"] = {{"model", open ? "open" : "closed"}, {"profile", *profile}};
  } else if (call.rate) {
    scenario["load"] = {{"model", "open"}, {"rate", *call.rate}};
  } else {
    scenario["load"] = {{"model", "closed"}, {"concurrency", call.concurrency.value_or(1)}};
  }
  nlohmann::json channel = nlohmann::json::object();
  if (call.tls) channel["tls"] = true;
  if (call.gzip) channel["compression"] = "gzip";
  for (const auto& [key, value] : call.channel) channel[key] = value;
  if (!channel.empty()) scenario["channel"] = channel;
  const size_t slash = call.call.rfind('/');
  nlohmann::json operation = {
      {"name", slash == std::string::npos ? call.call : call.call.substr(slash + 1)},
      {"rpc", call.call}};
  if (call.data_bin) {
    operation["request_bin"] = *call.data_bin;
  } else {
    operation["request"] = *request;
  }
  if (call.deadline) operation["deadline"] = *call.deadline;
  if (!call.metadata.empty() || call.metadata_file) {
    auto metadata = ParseHeaders(call);
    if (!metadata.ok()) return metadata.status();
    operation["metadata"] = *metadata;
  }
  if (call.data_file) {
    operation["data"] = {{"file", *call.data_file}, {"order", call.data_order}};
  }
  if (call.streams) operation["stream"] = {{"streams", *call.streams}};
  scenario["operations"] = nlohmann::json::array({operation});
  return scenario.dump();
}

absl::StatusOr<Scenario> ParseAdHocScenario(const AdHocCall& call,
                                            const std::vector<std::string>& overrides) {
  auto json = AdHocScenarioJson(call);
  if (!json.ok()) return json.status();
  auto scenario = ParseScenario(*json, "--call", overrides);
  if (!scenario.ok()) return InFlagTerms(scenario.status(), call, overrides);
  return scenario;
}

}  // namespace aurigraph::loadgen
