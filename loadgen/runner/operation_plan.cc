#include "loadgen/runner/operation_plan.h"

#include <algorithm>
#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/input/input_file.h"
#include "loadgen/payload/data_file.h"
#include "loadgen/payload/json_inspector.h"
#include "loadgen/payload/message_fields.h"

namespace aurigraph::loadgen {
namespace {

// The request read from `path`, a serialized `type` message, within the input limits.
absl::StatusOr<RequestTemplate> BinaryRequest(const google::protobuf::Descriptor& type,
                                              const std::string& path,
                                              const TemplateInputs& inputs) {
  const std::string label = absl::StrCat("binary request ", path);
  auto bytes = ReadInputFile(path, label);
  if (!bytes.ok()) return absl::InvalidArgumentError(bytes.status().message());
  auto compiled = RequestTemplate::FromBinary(type, *std::move(bytes), inputs);
  if (!compiled.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(label, ": ", compiled.status().message()));
  }
  return compiled;
}

// The inputs of operation `op`'s template; INVALID_ARGUMENT for a data file that cannot be read.
absl::StatusOr<TemplateInputs> InputsOf(const Scenario& scenario, const OperationSpec& op) {
  TemplateInputs inputs{op.metadata, nullptr};
  if (scenario.max_request_bytes > 0) inputs.max_request_bytes = scenario.max_request_bytes;
  if (!op.data_file.empty()) {
    auto data = DataFile::Load(
        op.data_file, op.data_random ? DataFile::Order::kRandom : DataFile::Order::kSequential);
    if (!data.ok()) return absl::InvalidArgumentError(data.status().message());
    inputs.data = *std::move(data);
  }
  return inputs;
}

// What every stream operation must satisfy, whatever its wire; "" when it does.
std::string CheckStream(const Scenario& scenario, const OperationSpec& op, CallKind kind) {
  if (scenario.duration_nanos <= 0 || scenario.requests > 0) {
    return "streaming operations need a run 'duration' (not a request count)";
  }
  if (kind != CallKind::kBidiStreaming && !op.stream.match_request.empty()) {
    return "match applies to bidi streaming operations only";
  }
  if (kind == CallKind::kServerStreaming && op.stream.send_rate > 0) {
    return "send_rate applies to client and bidi streaming; a server stream sends one request";
  }
  return "";
}

InspectorSpec InspectorFields(const StreamSpec& spec) {
  return InspectorSpec{spec.match_request, spec.match_response, spec.timestamp_field,
                       spec.status_field,  spec.phase_from,     spec.phase_when,
                       spec.phase_equals};
}

// An HTTP request: its method and path are pseudo-headers before the
// operation's own headers, its request the JSON body. A WebSocket stream:
// its headers go with the upgrade, its messages are JSON text.
absl::StatusOr<PlannedOperation> PlanHttpOperation(const Scenario& scenario, size_t index) {
  const OperationSpec& op = scenario.operations[index];
  const std::string where = absl::StrCat("operation '", op.name, "': ");
  const auto fail = [&](absl::string_view what) {
    return absl::InvalidArgumentError(absl::StrCat(where, what));
  };
  auto inputs = InputsOf(scenario, op);
  if (!inputs.ok()) return fail(inputs.status().message());
  // The transport frames the request itself; binary values have no place in HTTP/1.1 text.
  for (const auto& [name, value] : inputs->metadata) {
    const std::string key = absl::AsciiStrToLower(name);
    if (key == "host" || key == "content-length" || key == "transfer-encoding" ||
        key == "connection" || key == "upgrade" || absl::StartsWith(key, "sec-websocket-") ||
        absl::EndsWith(key, "-bin")) {
      return fail(absl::StrCat("metadata '", name, "': not a header an HTTP operation may set"));
    }
  }
  if (op.http) {
    inputs->http_pseudo_headers = true;
    inputs->metadata.insert(inputs->metadata.begin(),
                            {{":method", op.http->method}, {":path", op.http->path}});
    auto compiled = RequestTemplate::CompileJson(op.request_json, *inputs);
    if (!compiled.ok()) return fail(compiled.status().message());
    return PlannedOperation{
        index,   CallKind::kUnary, UnaryMethod{op.rpc, op.deadline_nanos}, *std::move(compiled),
        nullptr, nullptr};
  }
  const CallKind kind = op.websocket->kind;
  if (const std::string refused = CheckStream(scenario, op, kind); !refused.empty()) {
    return fail(refused);
  }
  if (kind != CallKind::kServerStreaming) inputs->order = MessageOrder::kWithinStream;
  auto compiled = RequestTemplate::CompileJson(op.request_json, *inputs);
  if (!compiled.ok()) return fail(compiled.status().message());
  auto inspector = CompileJsonInspector(InspectorFields(op.stream));
  if (!inspector.ok()) return fail(inspector.status().message());
  PlannedOperation planned{index,
                           kind,
                           UnaryMethod{op.websocket->path, 0},
                           *std::move(compiled),
                           nullptr,
                           *std::move(inspector)};
  planned.send_rate = op.stream.send_rate;
  return planned;
}

absl::StatusOr<PlannedOperation> PlanOperation(const Scenario& scenario,
                                               const MethodCatalog& catalog, size_t index) {
  const OperationSpec& op = scenario.operations[index];
  const std::string where = absl::StrCat("operation '", op.name, "': ");
  const auto fail = [&](absl::string_view what) {
    return absl::InvalidArgumentError(absl::StrCat(where, what));
  };
  auto method = catalog.Find(op.rpc);
  if (!method.ok()) return fail(method.status().message());
  auto planned_inputs = InputsOf(scenario, op);
  if (!planned_inputs.ok()) return fail(planned_inputs.status().message());
  TemplateInputs& inputs = *planned_inputs;
  // A client or bidi stream sends an array's messages in order; other calls take them in turn.
  if (method->kind == CallKind::kClientStreaming || method->kind == CallKind::kBidiStreaming) {
    inputs.order = MessageOrder::kWithinStream;
  }
  auto compiled = op.request_bin.empty()
                      ? RequestTemplate::Compile(*method->request_type, op.request_json, inputs)
                      : BinaryRequest(*method->request_type, op.request_bin, inputs);
  if (!compiled.ok()) return fail(compiled.status().message());
  PlannedOperation planned{
      index,   method->kind, UnaryMethod{method->path, op.deadline_nanos}, *std::move(compiled),
      nullptr, nullptr};
  if (op.finality) {
    // A bidi stream's message is acknowledged by its matched reply; a client
    // stream's by one reply for all, a server stream sends nothing to track.
    if (method->kind == CallKind::kServerStreaming || method->kind == CallKind::kClientStreaming) {
      return fail("finality applies to unary and bidi streaming operations only");
    }
    if (method->kind == CallKind::kBidiStreaming && op.stream.match_request.empty()) {
      return fail(
          "finality on a bidi stream needs stream.match, to tell which reply acknowledges "
          "which message");
    }
    auto keys = CompileKeyReader(*method->request_type, op.finality->match_request);
    if (!keys.ok()) return fail(absl::StrCat("finality.match.request: ", keys.status().message()));
    planned.finality_keys = *std::move(keys);
  }
  if (method->kind == CallKind::kUnary) {
    if (op.has_stream) return fail(absl::StrCat(op.rpc, " is unary: 'stream:' does not apply"));
    if (!op.count_field.empty()) {
      auto counter = CompileResponseCounter(*method->response_type, op.count_field);
      if (!counter.ok()) return fail(absl::StrCat("count_field: ", counter.status().message()));
      planned.counter = *std::move(counter);
      planned.method.keep_response = true;
    }
    return planned;
  }
  if (scenario.channel.client == ChannelOptions::Client::kNghttp2) {
    return fail(absl::StrCat(op.rpc, " streams: channel.client nghttp2 drives unary calls only"));
  }
  if (!op.count_field.empty()) return fail("count_field applies to unary operations only");
  if (const std::string refused = CheckStream(scenario, op, method->kind); !refused.empty()) {
    return fail(refused);
  }
  planned.send_rate = op.stream.send_rate;
  auto inspector =
      CompileInspector(*method->request_type, *method->response_type, InspectorFields(op.stream));
  if (!inspector.ok()) return fail(inspector.status().message());
  planned.inspector = *std::move(inspector);
  return planned;
}

// The services of the scenario's operations, in the order they first appear.
std::vector<std::string> ServicesOf(const Scenario& scenario) {
  std::vector<std::string> services;
  for (const OperationSpec& op : scenario.operations) {
    const std::string service = op.rpc.substr(0, op.rpc.find('/'));
    if (std::find(services.begin(), services.end(), service) == services.end()) {
      services.push_back(service);
    }
  }
  return services;
}

// Shares the open-loop rate among the client and bidi streaming operations
// that have no send_rate of their own, by weight, then among their streams.
absl::Status PaceStreamsByTheLoadRate(const Scenario& scenario,
                                      std::vector<PlannedOperation>& streaming) {
  if (!scenario.profile.empty()) {
    return absl::InvalidArgumentError(
        "load.profile: shapes unary calls; streams' messages are paced at a constant rate "
        "(load.rate, or an operation's stream.send_rate)");
  }
  double weight_sum = 0;
  for (const PlannedOperation& op : streaming) {
    if (op.kind != CallKind::kServerStreaming && op.send_rate == 0) {
      weight_sum += scenario.operations[op.index].weight;
    }
  }
  if (weight_sum == 0) {
    return absl::InvalidArgumentError(
        "load.rate: nothing to pace: there are no unary calls, a server stream sends one "
        "request, and client or bidi streams with a send_rate are paced by it");
  }
  for (PlannedOperation& op : streaming) {
    if (op.kind == CallKind::kServerStreaming || op.send_rate != 0) continue;
    const OperationSpec& spec = scenario.operations[op.index];
    op.send_rate =
        scenario.rate * spec.weight / weight_sum / static_cast<double>(spec.stream.streams);
  }
  return absl::OkStatus();
}

// The subscription every `finality:` block names (they must name the same one).
absl::StatusOr<PlannedFinality> PlanFinality(const Scenario& scenario,
                                             const MethodCatalog& catalog) {
  const OperationSpec* first = nullptr;
  for (const OperationSpec& op : scenario.operations) {
    if (!op.finality) continue;
    const std::string final_name = FinalityOperationName(op.name);
    for (const OperationSpec& other : scenario.operations) {
      if (other.name == final_name) {
        return absl::InvalidArgumentError(absl::StrCat("operation '", other.name,
                                                       "': the name is taken by operation '",
                                                       op.name, "'s finality"));
      }
    }
    if (first == nullptr) {
      first = &op;
      continue;
    }
    const FinalitySpec& a = *first->finality;
    const FinalitySpec& b = *op.finality;
    if (a.rpc != b.rpc || a.request_json != b.request_json || a.match_event != b.match_event ||
        a.timeout_nanos != b.timeout_nanos) {
      return absl::InvalidArgumentError(
          absl::StrCat("operation '", op.name,
                       "': finality: every operation's must name the same stream, "
                       "request, match.event and timeout as operation '",
                       first->name, "'s"));
    }
  }
  const FinalitySpec& spec = *first->finality;
  const std::string where = absl::StrCat("operation '", first->name, "': finality: ");
  auto method = catalog.Find(spec.rpc);
  if (!method.ok())
    return absl::InvalidArgumentError(absl::StrCat(where, method.status().message()));
  if (method->kind != CallKind::kServerStreaming) {
    return absl::InvalidArgumentError(
        absl::StrCat(where, spec.rpc, " is not server streaming: its events cannot be followed"));
  }
  auto event_keys = CompileKeyReader(*method->response_type, spec.match_event);
  if (!event_keys.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat(where, "match.event: ", event_keys.status().message()));
  }
  auto request = RequestTemplate::Compile(*method->request_type, spec.request_json,
                                          TemplateInputs{first->metadata, nullptr});
  if (!request.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(where, "request: ", request.status().message()));
  }
  TemplateRequestSource source(*request, 0, scenario.seed);
  const std::string_view bytes = source.Build(RequestContext{});
  if (bytes.data() == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat(where, "request: cannot be built"));
  }
  PlannedFinality planned{spec.rpc, method->path,           std::string(bytes),
                          {},       *std::move(event_keys), spec.timeout_nanos};
  for (const Header& header : source.BuildHeaders(RequestContext{})) {
    planned.headers.emplace_back(header.key, header.value);
  }
  return planned;
}

// The plan once the load fits its operations: unary ones need a load, and an
// open-loop rate without them paces the streams.
absl::StatusOr<OperationsPlan> CheckLoad(const Scenario& scenario, OperationsPlan& plan) {
  if (!plan.unary.empty() && !scenario.has_load) {
    return absl::InvalidArgumentError(
        "load: required for unary operations (model: open with a rate, or closed with a "
        "concurrency)");
  }
  if (plan.unary.empty() && scenario.has_load && scenario.model == LoadModel::kOpenLoop) {
    if (auto paced = PaceStreamsByTheLoadRate(scenario, plan.streaming); !paced.ok()) return paced;
  }
  return std::move(plan);
}

}  // namespace

std::vector<const PlannedOperation*> InTrackerOrder(const OperationsPlan& plan) {
  std::vector<const PlannedOperation*> ordered;
  for (const PlannedOperation& op : plan.unary) ordered.push_back(&op);
  for (const PlannedOperation& op : plan.streaming) ordered.push_back(&op);
  return ordered;
}

bool NeedsReflection(const Scenario& scenario) {
  return scenario.proto_files.empty() && scenario.reflection;
}

absl::StatusOr<OperationsPlan> PlanOperations(const Scenario& scenario, TransportFactory& wire,
                                              const std::string& target) {
  OperationsPlan plan;
  if (IsHttpScenario(scenario)) {
    for (size_t i = 0; i < scenario.operations.size(); ++i) {
      auto planned = PlanHttpOperation(scenario, i);
      if (!planned.ok()) return planned.status();
      (planned->kind == CallKind::kUnary ? plan.unary : plan.streaming)
          .push_back(*std::move(planned));
    }
    return CheckLoad(scenario, plan);
  }
  if (!scenario.proto_files.empty()) {
    auto catalog = MethodCatalog::FromProtoFiles(scenario.proto_files, scenario.import_paths);
    if (!catalog.ok()) return catalog.status();
    plan.catalog = *std::move(catalog);
  } else if (!scenario.protoset_files.empty()) {
    auto catalog = MethodCatalog::FromProtosets(scenario.protoset_files);
    if (!catalog.ok()) return catalog.status();
    plan.catalog = *std::move(catalog);
  } else if (scenario.reflection) {
    auto described = wire.DescribeServices(ServicesOf(scenario));
    if (!described.ok()) return described.status();
    plan.reflection = described->protocol;
    auto catalog = MethodCatalog::FromFileDescriptors(
        described->files, absl::StrCat("the server reflection of ", target));
    if (!catalog.ok()) return catalog.status();
    plan.catalog = *std::move(catalog);
  }
  const MethodCatalog& catalog = plan.catalog ? *plan.catalog : MethodCatalog::Bundled();
  for (size_t i = 0; i < scenario.operations.size(); ++i) {
    auto planned = PlanOperation(scenario, catalog, i);
    if (!planned.ok()) return planned.status();
    (planned->kind == CallKind::kUnary ? plan.unary : plan.streaming)
        .push_back(*std::move(planned));
  }
  if (std::any_of(scenario.operations.begin(), scenario.operations.end(),
                  [](const OperationSpec& op) { return op.finality.has_value(); })) {
    auto finality = PlanFinality(scenario, catalog);
    if (!finality.ok()) return finality.status();
    plan.finality = *std::move(finality);
  }
  return CheckLoad(scenario, plan);
}

}  // namespace aurigraph::loadgen
