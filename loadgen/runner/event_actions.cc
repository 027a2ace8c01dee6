#include "loadgen/runner/event_actions.h"

#include <google/protobuf/dynamic_message.h>
#include <google/protobuf/util/json_util.h>

#include <memory>

#include "absl/strings/str_cat.h"
#include "common/status_codes/status_codes.h"
#include "loadgen/payload/request_template.h"
#include "loadgen/transport/grpc_transport.h"

namespace aurigraph::loadgen {
namespace {

// A response as JSON, or its size when it does not parse as `type`.
std::string ResponseText(const google::protobuf::Descriptor& type, const std::string& bytes) {
  google::protobuf::DynamicMessageFactory factory;
  std::unique_ptr<google::protobuf::Message> message(factory.GetPrototype(&type)->New());
  std::string json;
  if (!message->ParseFromString(bytes) ||
      !google::protobuf::util::MessageToJsonString(*message, &json).ok()) {
    return absl::StrCat(bytes.size(), " bytes");
  }
  return json;
}

// The call, run at the event's time: to each address `target` names.
EventOutcome CallAtEventTime(const EventSpec& event, const MethodInfo& method,
                             const std::string& request, const EventWiring& wiring) {
  EventOutcome outcome;
  outcome.ok = true;
  outcome.exit_code = 0;
  std::vector<std::string> to;
  if (event.rpc_target.empty()) {
    to.push_back(wiring.addresses.front());
  } else if (event.rpc_target == "all") {
    to = wiring.addresses;
  } else if (event.rpc_target == "leader") {
    auto leader = wiring.find_leader(wiring.addresses);
    if (!leader.ok()) {
      outcome.ok = false;
      outcome.exit_code = static_cast<int>(leader.status().code());
      outcome.error = absl::StrCat("no leader found: ", leader.status().message());
      return outcome;
    }
    to.push_back(*leader);
  } else {
    to.push_back(event.rpc_target);
  }
  for (const std::string& address : to) {
    auto channels = CreateChannels(address, 1, wiring.channel);
    absl::StatusOr<std::string> response =
        channels.ok() ? CallUnary(channels->front(), method.path, request, event.timeout_nanos)
                      : absl::StatusOr<std::string>(channels.status());
    if (!outcome.output.empty()) outcome.output += "\n";
    if (response.ok()) {
      absl::StrAppend(&outcome.output, address, ": ",
                      ResponseText(*method.response_type, *response));
      continue;
    }
    absl::StrAppend(&outcome.output, address, ": ",
                    StatusCodeName(static_cast<int>(response.status().code())));
    if (outcome.ok) {
      outcome.ok = false;
      outcome.exit_code = static_cast<int>(response.status().code());
      outcome.error = absl::StrCat(address, ": ", response.status().message());
    }
  }
  return outcome;
}

}  // namespace

std::string DescribeEventAction(const EventSpec& event) {
  if (!event.exec.empty()) return event.exec;
  return absl::StrCat("rpc ", event.rpc, " -> ",
                      event.rpc_target.empty() ? "the target" : event.rpc_target);
}

absl::StatusOr<std::vector<FaultEvent>> MakeFaultEvents(const Scenario& scenario,
                                                        const EventWiring& wiring) {
  std::vector<FaultEvent> events;
  for (const EventSpec& spec : scenario.events) {
    FaultEvent event{spec.name, spec.at_nanos, spec.exec, nullptr};
    if (spec.exec.empty()) {
      const std::string where = absl::StrCat("event '", spec.name, "': ");
      auto method = wiring.catalog->Find(spec.rpc);
      if (!method.ok()) {
        return absl::InvalidArgumentError(absl::StrCat(where, method.status().message()));
      }
      if (method->kind != CallKind::kUnary) {
        return absl::InvalidArgumentError(absl::StrCat(where, spec.rpc, " is not unary"));
      }
      if (spec.rpc_target == "leader" && !wiring.find_leader) {
        return absl::InvalidArgumentError(
            absl::StrCat(where, "target 'leader': this target names no leader"));
      }
      auto compiled = RequestTemplate::Compile(*method->request_type, spec.request_json, {});
      if (!compiled.ok()) {
        return absl::InvalidArgumentError(
            absl::StrCat(where, "request: ", compiled.status().message()));
      }
      TemplateRequestSource source(*compiled, 0, scenario.seed);
      const std::string_view bytes = source.Build(RequestContext{});
      if (bytes.data() == nullptr) {
        return absl::InvalidArgumentError(absl::StrCat(where, "request: cannot be built"));
      }
      event.call = [spec, method = *method, request = std::string(bytes), &wiring] {
        return CallAtEventTime(spec, method, request, wiring);
      };
    }
    events.push_back(std::move(event));
  }
  if (absl::Status valid = ValidateEvents(events, scenario.duration_nanos); !valid.ok()) {
    return valid;
  }
  return events;
}

}  // namespace aurigraph::loadgen
