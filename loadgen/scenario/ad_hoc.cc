#include "loadgen/scenario/ad_hoc.h"

#include <map>
#include <nlohmann/json.hpp>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "common/input/json_check.h"

namespace aurigraph::loadgen {
namespace {

// The "name: value" headers as an object. Header names are case-insensitive,
// so two that differ only in case are one header given twice, and refused.
absl::StatusOr<nlohmann::json> ParseHeaders(const std::vector<std::string>& headers) {
  nlohmann::json metadata = nlohmann::json::object();
  std::map<std::string, std::string> names;  // lower-cased -> as written
  for (const std::string& header : headers) {
    const size_t colon = header.find(':');
    if (colon == std::string::npos || colon == 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("--metadata ", header, ": expected 'name: value'"));
    }
    const std::string name(absl::StripAsciiWhitespace(header.substr(0, colon)));
    if (const auto [other, added] = names.emplace(absl::AsciiStrToLower(name), name); !added) {
      return absl::InvalidArgumentError(
          other->second == name
              ? absl::StrCat("--metadata ", name, ": given twice")
              : absl::StrCat("--metadata: '", other->second, "' and '", name,
                             "' are the same header (header names are case-insensitive)"));
    }
    metadata[name] = std::string(absl::StripLeadingAsciiWhitespace(header.substr(colon + 1)));
  }
  return metadata;
}

}  // namespace

absl::StatusOr<std::string> AdHocScenarioJson(const AdHocCall& call) {
  const nlohmann::json request = nlohmann::json::parse(call.data, nullptr, false);
  if (request.is_discarded() || !request.is_object()) {
    return absl::InvalidArgumentError("--data: not a JSON object");
  }
  if (auto checked = CheckUntrustedJson(request); !checked.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("--data: ", checked.message()));
  }
  if (!call.protos.empty() && !call.protosets.empty()) {
    return absl::InvalidArgumentError("--proto and --protoset: give one");
  }
  if (call.rate && call.concurrency) {
    return absl::InvalidArgumentError("--rate and --concurrency: give one (open or closed loop)");
  }
  nlohmann::json scenario = {{"name", "ad-hoc " + call.call}, {"duration", call.duration}};
  // Without a .proto or a protoset the target describes itself (server reflection).
  if (!call.protos.empty()) {
    scenario["proto"] = call.protos;
  } else if (!call.protosets.empty()) {
    scenario["protoset"] = call.protosets;
  } else {
    scenario["reflection"] = true;
  }
  if (!call.import_paths.empty()) scenario["import_paths"] = call.import_paths;
  if (call.rate) {
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
      {"rpc", call.call},
      {"request", request}};
  if (call.deadline) operation["deadline"] = *call.deadline;
  if (!call.metadata.empty()) {
    auto metadata = ParseHeaders(call.metadata);
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

}  // namespace aurigraph::loadgen
