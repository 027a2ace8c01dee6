#include "loadgen/scenario/ad_hoc.h"

#include <nlohmann/json.hpp>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "common/input/json_check.h"

namespace aurigraph::loadgen {

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
    nlohmann::json metadata = nlohmann::json::object();
    for (const std::string& header : call.metadata) {
      const size_t colon = header.find(':');
      if (colon == std::string::npos || colon == 0) {
        return absl::InvalidArgumentError(
            absl::StrCat("--metadata ", header, ": expected 'name: value'"));
      }
      metadata[std::string(absl::StripAsciiWhitespace(header.substr(0, colon)))] =
          std::string(absl::StripLeadingAsciiWhitespace(header.substr(colon + 1)));
    }
    operation["metadata"] = metadata;
  }
  if (call.data_file) {
    operation["data"] = {{"file", *call.data_file}, {"order", call.data_order}};
  }
  if (call.streams) operation["stream"] = {{"streams", *call.streams}};
  scenario["operations"] = nlohmann::json::array({operation});
  return scenario.dump();
}

}  // namespace aurigraph::loadgen
