#include "loadgen/scenario/scenario.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"
#include "loadgen/scenario/ad_hoc.h"

namespace aurigraph::loadgen {
namespace {

constexpr const char* kValid = R"(
name: t
target: 127.0.0.1:1234
duration: 5s
warmup: 1s
workers: 2
load:
  model: open
  rate: 500
  arrival: poisson
operations:
  - name: submit
    rpc: aurigraph.approval.v1.ApprovalService/SubmitApprovalRequest
    weight: 2
    deadline: 250ms
    request:
      approval_id: "a-${seq}"
      total_validators: 3
      description: "007"
  - rpc: aurigraph.approval.v1.ApprovalService/CheckHealth
gates:
  - "p99 < 20ms"
  - gate: "error_ratio < 1%"
    operation: submit
)";

std::string ErrorOf(const std::string& yaml, std::vector<std::string> overrides = {}) {
  auto s = ParseScenario(yaml, "s.yaml", overrides);
  return s.ok() ? "" : std::string(s.status().message());
}

TEST(Scenario, ParsesEveryField) {
  auto s = ParseScenario(kValid, "s.yaml", {});
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->duration_nanos, 5'000'000'000);
  EXPECT_EQ(s->warmup_nanos, 1'000'000'000);
  EXPECT_EQ(s->workers, 2);
  EXPECT_EQ(s->model, LoadModel::kOpenLoop);
  EXPECT_EQ(s->arrival, ArrivalProcess::kPoisson);
  EXPECT_DOUBLE_EQ(s->rate, 500);
  ASSERT_EQ(s->operations.size(), 2u);
  EXPECT_EQ(s->operations[0].deadline_nanos, 250'000'000);
  EXPECT_EQ(s->operations[1].name, "CheckHealth");
  // Plain scalars become JSON numbers, quoted ones stay strings.
  EXPECT_EQ(s->operations[0].request_json,
            R"({"approval_id":"a-${seq}","description":"007","total_validators":3})");
  ASSERT_EQ(s->gates.size(), 2u);
  EXPECT_EQ(s->gates[1].operation, "submit");
}

TEST(Scenario, OverridesApplyBeforeValidation) {
  auto s =
      ParseScenario(kValid, "s.yaml", {"duration=2s", "load.rate=50", "operations.1.weight=4"});
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->duration_nanos, 2'000'000'000);
  EXPECT_DOUBLE_EQ(s->rate, 50);
  EXPECT_DOUBLE_EQ(s->operations[1].weight, 4);
  EXPECT_NE(s->effective_json.find("\"rate\":50"), std::string::npos);
  EXPECT_EQ(s->spin_nanos, 0);
  auto spin = ParseScenario(kValid, "s.yaml", {"precision=spin"});
  ASSERT_TRUE(spin.ok()) << spin.status();
  EXPECT_EQ(spin->spin_nanos, 200'000);
}

TEST(Scenario, ErrorsNameTheProblem) {
  EXPECT_EQ(ErrorOf(kValid, {"durration=2s"}), "s.yaml: durration: unknown key");
  EXPECT_EQ(ErrorOf(kValid, {"load.rate=-5"}), "s.yaml: load.rate: must be >= 0");
  EXPECT_EQ(ErrorOf(kValid, {"load.rate=0"}),
            "s.yaml: load.rate: impossible rate 0 (0 < rate <= 1e8 per second)");
  EXPECT_EQ(
      ErrorOf(kValid, {"duration=5 parsecs"}),
      "s.yaml: duration: invalid duration '5 parsecs': expected a unit (ns, us, ms, s, m, h)");
  EXPECT_EQ(ErrorOf(kValid, {"operations.7.weight=1"}),
            "--set operations.7.weight: '7' is not an index of s.yaml");
  EXPECT_EQ(ErrorOf(kValid, {"nonsense"}),
            "--set nonsense: expected key=value, e.g. --set duration=5s");
  EXPECT_EQ(ErrorOf(kValid, {"load.model=sideways"}),
            "s.yaml: load.model: 'sideways' is not open or closed");
  EXPECT_EQ(
      ErrorOf("requests: 10\nload: {profile: [{rate: 5, for: 2s}]}\noperations: [{rpc: a/b}]\n"),
      "s.yaml: requests: not with a load profile, which sets the run's length");
  EXPECT_EQ(ErrorOf(kValid, {"precision=exact"}),
            "s.yaml: precision: 'exact' is not sleep or spin");
  EXPECT_EQ(ErrorOf("name: [unclosed\n", {}).rfind("s.yaml:2:1: invalid YAML", 0), 0u);
  EXPECT_EQ(ErrorOf("duration: 1s\nload: {model: open, rate: 1}\n"),
            "s.yaml: operations: a non-empty list is required");
  EXPECT_EQ(ErrorOf("load: {model: open, rate: 1}\noperations: [{rpc: a/b}]\n"),
            "s.yaml: duration: a run needs a duration or a request count");
  EXPECT_EQ(ErrorOf("duration: 1s\nload: {model: closed}\noperations: [{rpc: a/b}]\n"),
            "s.yaml: load.concurrency: required for a closed-loop run (or a load.profile)");
  EXPECT_EQ(ErrorOf(kValid, {"duration=1s", "warmup=1s"}),
            "s.yaml: warmup: 1s is not shorter than the duration (1s): nothing would be measured");
  EXPECT_EQ(
      ErrorOf(
          "duration: 1s\nload: {model: open, rate: 1}\noperations: [{rpc: a/b, colour: red}]\n"),
      "s.yaml: operations.0.colour: unknown key");
}

// A backoff of nothing would try again in a hot loop.
TEST(Scenario, BackoffsAreBoundedAndOrdered) {
  auto s = ParseScenario(kValid, "s.yaml",
                         {"channel.reconnect_backoff=100ms", "channel.reconnect_backoff_max=2s"});
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->channel.reconnect_backoff_nanos, 100'000'000);
  EXPECT_EQ(s->channel.reconnect_backoff_max_nanos, 2'000'000'000);
  auto defaults = ParseScenario(kValid, "s.yaml", {});
  ASSERT_TRUE(defaults.ok()) << defaults.status();
  EXPECT_EQ(defaults->channel.reconnect_backoff_nanos, 1'000'000'000);
  EXPECT_EQ(defaults->channel.reconnect_backoff_max_nanos, 120'000'000'000);
  EXPECT_EQ(ErrorOf(kValid, {"channel.reconnect_backoff=0s"}),
            "s.yaml: channel.reconnect_backoff: expected a duration from 1ms to 24h");
  EXPECT_EQ(ErrorOf(kValid, {"channel.reconnect_backoff_max=30d"}),
            "s.yaml: channel.reconnect_backoff_max: invalid duration '30d': expected a unit (ns, "
            "us, ms, s, m, h)");
  EXPECT_EQ(ErrorOf(kValid, {"channel.reconnect_backoff_max=25h"}),
            "s.yaml: channel.reconnect_backoff_max: expected a duration from 1ms to 24h");
  EXPECT_EQ(ErrorOf(kValid, {"channel.reconnect_backoff=5s", "channel.reconnect_backoff_max=1s"}),
            "s.yaml: channel.reconnect_backoff_max: must not be below reconnect_backoff");
  const std::string stream =
      "duration: 1s\nload: {model: open, rate: 1}\noperations: [{rpc: a/b, stream: "
      "{streams: 1, reopen_backoff: 0s}}]\n";
  EXPECT_EQ(ErrorOf(stream),
            "s.yaml: operations.0.stream.reopen_backoff: expected a duration from 1ms to 24h");
}

TEST(Scenario, HttpOperationsTakeMethodAndPathAndRefuseWhatIsGrpcOnly) {
  const std::string head = "duration: 1s\nload: {model: open, rate: 1}\n";
  auto s =
      ParseScenario(head +
                        "operations:\n  - http: {path: /v1/transactions}\n    request: {id: x}\n"
                        "  - http: {path: '/v1/transactions/${seq}'}\n",
                    "s.yaml", {});
  ASSERT_TRUE(s.ok()) << s.status();
  ASSERT_TRUE(IsHttpScenario(*s));
  EXPECT_EQ(s->operations[0].http->method, "POST");  // with a body
  EXPECT_EQ(s->operations[0].name, "POST /v1/transactions");
  EXPECT_EQ(s->operations[1].http->method, "GET");
  EXPECT_EQ(s->operations[1].request_json, "");  // no body
  EXPECT_EQ(ErrorOf(head + "operations: [{http: {path: /a}}, {rpc: a/b}]\n"),
            "s.yaml: operations: are all gRPC (rpc:) or all HTTP (http:, websocket:), not a mix");
  EXPECT_EQ(ErrorOf(head + "operations: [{http: {path: /a, method: TRACE}}]\n"),
            "s.yaml: operations.0.http.method: 'TRACE': expected GET, POST, PUT, PATCH or DELETE");
  EXPECT_EQ(ErrorOf(head + "operations: [{http: {path: 'no slash'}}]\n"),
            "s.yaml: operations.0.http.path: 'no slash': an origin-form path, '/' then printable "
            "ASCII without spaces");
  EXPECT_EQ(ErrorOf(head + "operations: [{http: {path: /a}, rpc: a/b}]\n"),
            "s.yaml: operations.0.http: give rpc (gRPC) or http, not both");
  EXPECT_EQ(ErrorOf(head + "operations: [{http: {path: /a}, stream: {streams: 2}}]\n"),
            "s.yaml: operations.0.stream: an HTTP request is unary: streams are gRPC or "
            "WebSocket operations");
  EXPECT_EQ(ErrorOf(head + "channel: {compression: gzip}\noperations: [{http: {path: /a}}]\n"),
            "s.yaml: channel.compression: not supported for HTTP operations yet");
  auto tls = ParseScenario(head +
                               "channel: {ca: ca.pem, server_name: a.test}\n"
                               "operations: [{http: {path: /a}}]\n",
                           "s.yaml", {});
  ASSERT_TRUE(tls.ok()) << tls.status();
  EXPECT_TRUE(tls->channel.tls);
  EXPECT_EQ(ErrorOf(head + "report_server_memory: true\noperations: [{http: {path: /a}}]\n"),
            "s.yaml: report_server_memory: asks the target over gRPC: not for HTTP operations");
}

TEST(Scenario, WebSocketOperationsTakeAPathAndAKind) {
  const std::string head = "duration: 1s\n";
  auto s = ParseScenario(head +
                             "operations:\n"
                             "  - websocket: {path: /v1/ws, kind: server_stream}\n"
                             "    request: {op: subscribe, id: s}\n"
                             "    stream: {streams: 3, timestamp_field: event.sentAtUnixNanos}\n"
                             "  - name: submit\n"
                             "    websocket: {path: /v1/ws}\n"
                             "  - http: {path: /v1/health}\n",
                         "s.yaml", {});
  ASSERT_TRUE(s.ok()) << s.status();
  ASSERT_TRUE(IsHttpScenario(*s));  // WebSocket streams and HTTP requests go to one port
  EXPECT_EQ(s->operations[0].name, "WEBSOCKET /v1/ws");
  EXPECT_EQ(s->operations[0].websocket->kind, CallKind::kServerStreaming);
  EXPECT_EQ(s->operations[0].stream.streams, 3);
  EXPECT_EQ(s->operations[1].websocket->kind, CallKind::kBidiStreaming);  // the default
  EXPECT_EQ(ErrorOf(head + "operations: [{websocket: {path: /a, kind: unary}}]\n"),
            "s.yaml: operations.0.websocket.kind: 'unary': expected server_stream, "
            "client_stream or bidi");
  EXPECT_EQ(ErrorOf(head + "operations: [{websocket: {kind: bidi}}]\n"),
            "s.yaml: operations.0.websocket.path: required");
  EXPECT_EQ(ErrorOf(head + "operations: [{websocket: {path: /a}, http: {path: /a}}]\n"),
            "s.yaml: operations.0.websocket: give http or websocket, not both");
  EXPECT_EQ(ErrorOf(head + "operations: [{websocket: {path: /a}, count_field: n}]\n"),
            "s.yaml: operations.0.count_field: does not apply to WebSocket operations");
  EXPECT_EQ(ErrorOf(head + "operations: [{websocket: {path: /a}}, {rpc: a/b}]\n"),
            "s.yaml: operations: are all gRPC (rpc:) or all HTTP (http:, websocket:), not a mix");
}

TEST(Scenario, TextMustBeUtf8) {
  // JSON cannot carry these bytes: once they threw from the scenario's dump.
  EXPECT_EQ(ErrorOf(kValid, {"name=t\xff"}), "s.yaml: name: not valid UTF-8 (at byte 1)");
  EXPECT_EQ(ErrorOf(kValid, {"operations.0.request.approval_id=a-\xc3"}),
            "s.yaml: operations.0.request.approval_id: not valid UTF-8 (at byte 2)");
  EXPECT_EQ(ErrorOf(kValid, {"operations.0.request.n\xe9=1"}),
            "s.yaml: a key in operations.0.request: not valid UTF-8 (at byte 1)");
  EXPECT_EQ(ErrorOf(std::string(kValid) + "description: \"\xed\xa0\x80\"\n"),
            "s.yaml: description: not valid UTF-8 (at byte 0)");
  EXPECT_EQ(ErrorOf(kValid, {"name=caf\xc3\xa9"}), "");
}

TEST(Scenario, AliasesCannotExpandWithoutBound) {
  // Ten uses of the alias a level down, six levels: a million values from a few lines.
  std::string yaml =
      "duration: 1s\nload: {model: open, rate: 1}\noperations:\n- rpc: a/b\n"
      "  request:\n    l0: &l0 [1, 1, 1, 1, 1, 1, 1, 1, 1, 1]\n";
  for (int level = 1; level < 6; ++level) {
    yaml += "    l" + std::to_string(level) + ": &l" + std::to_string(level) + " [";
    for (int i = 0; i < 10; ++i) yaml += (i ? ", *l" : "*l") + std::to_string(level - 1);
    yaml += "]\n";
  }
  EXPECT_EQ(ErrorOf(yaml), "s.yaml: more than 100000 values (YAML aliases counted as expanded)");
  // An alias inside its own anchor is a cycle.
  EXPECT_NE(ErrorOf("duration: 1s\nname: &n [*n]\n").find(": nested more than 100 levels deep"),
            std::string::npos);
}

TEST(Scenario, OverridesBelowAValueAreNamed) {
  EXPECT_EQ(ErrorOf(kValid, {"name.first=x"}),
            "--set name.first: 'name' is not a mapping in s.yaml");
  EXPECT_EQ(ErrorOf(kValid, {"load.rate.x.y=1"}),
            "--set load.rate.x.y: 'rate' is not a mapping in s.yaml");
}

TEST(Scenario, NumbersMustBeFinite) {
  // YAML's .nan compared false with every bound, so a NaN rate or weight was accepted.
  EXPECT_EQ(ErrorOf(kValid, {"load.rate=.nan"}), "s.yaml: load.rate: expected a finite number");
  EXPECT_EQ(ErrorOf(kValid, {"operations.0.weight=.inf"}),
            "s.yaml: operations.0.weight: expected a finite number");
  EXPECT_EQ(ErrorOf(kValid, {"operations.0.weight=.nan"}),
            "s.yaml: operations.0.weight: expected a finite number");
  EXPECT_EQ(ErrorOf(kValid, {"webhook_sink.fail_ratio=.nan"}),
            "s.yaml: webhook_sink.fail_ratio: expected a finite number");
}

TEST(Scenario, MetadataAndDataFiles) {
  auto s = ParseScenario(R"(
duration: 1s
load: {model: open, rate: 10}
metadata: {x-tenant: acme, authorization: "Bearer ${data.token}"}
operations:
  - rpc: a/b
    metadata: {x-tenant: other, x-request-id: "r-${seq}"}
    data: {file: users.jsonl, order: random}
  - rpc: a/c
    data: users.jsonl
)",
                         "s.yaml", {});
  ASSERT_TRUE(s.ok()) << s.status();
  using Headers = std::vector<std::pair<std::string, std::string>>;
  // The operation's own value replaces the scenario's for the same name.
  EXPECT_EQ(s->operations[0].metadata, (Headers{{"x-tenant", "other"},
                                                {"authorization", "Bearer ${data.token}"},
                                                {"x-request-id", "r-${seq}"}}));
  EXPECT_EQ(s->operations[0].data_file, "users.jsonl");
  EXPECT_TRUE(s->operations[0].data_random);
  EXPECT_EQ(s->operations[1].metadata,
            (Headers{{"x-tenant", "acme"}, {"authorization", "Bearer ${data.token}"}}));
  EXPECT_FALSE(s->operations[1].data_random);
  // Credentials stay out of the effective scenario that results carry.
  EXPECT_EQ(s->effective_json.find("Bearer"), std::string::npos);
  EXPECT_NE(s->effective_json.find("\"authorization\":\"(redacted)\""), std::string::npos);
  EXPECT_NE(s->effective_json.find("\"x-tenant\":\"acme\""), std::string::npos);

  const std::string base = "duration: 1s\nload: {model: open, rate: 1}\n";
  EXPECT_EQ(ErrorOf(base + "operations: [{rpc: a/b, data: {file: f, order: shuffled}}]\n"),
            "s.yaml: operations.0.data.order: expected sequential or random");
  EXPECT_EQ(ErrorOf(base + "operations: [{rpc: a/b, data: {order: random}}]\n"),
            "s.yaml: operations.0.data.file: required");
  EXPECT_EQ(ErrorOf(base + "operations: [{rpc: a/b, metadata: [x]}]\n"),
            "s.yaml: operations.0.metadata: must be a mapping of header name to value");
}

TEST(Scenario, FileFieldsReadTheirFileBesideTheScenario) {
  const auto dir = std::filesystem::temp_directory_path() / absl::StrCat("file-fields-", getpid());
  std::filesystem::create_directories(dir / "contracts");
  std::ofstream(dir / "contracts" / "c.stack") << "fn f\n  \"x-${seq}\" ret\nend\n";
  std::ofstream(dir / "contracts" / "bad.stack") << "fn f \xff end";
  // A scenario FILE in `dir` with these operations.
  const auto load = [&dir](const std::string& file, const std::string& operations) {
    std::ofstream(dir / file) << "name: f\ntarget: 127.0.0.1:1\nduration: 1s\n"
                                 "load: {model: closed, concurrency: 1}\noperations:\n"
                              << operations;
    return LoadScenarioFile((dir / file).string(), {});
  };
  const std::string deploy = R"(
  - rpc: aurigraph.contract.v1.ContractService/DeployContract
    request: {source: {$file: contracts/c.stack}, init_args: [{text_value: {$file: contracts/c.stack}}]}
)";
  auto loaded = load("s.yaml", deploy + R"(
  - name: missing
    rpc: aurigraph.contract.v1.ContractService/DeployContract
    request: {source: {$file: nowhere.stack}}
)");
  ASSERT_FALSE(loaded.ok());
  EXPECT_NE(loaded.status().message().find("operations.missing.request.source: $file"),
            std::string::npos)
      << loaded.status();
  EXPECT_NE(loaded.status().message().find("nowhere.stack"), std::string::npos);
  loaded = load("t.yaml", deploy);
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  const auto request = nlohmann::json::parse(loaded->operations[0].request_json);
  EXPECT_EQ(request["source"], "fn f\n  \"x-${seq}\" ret\nend\n");
  EXPECT_EQ(request["init_args"][0]["text_value"], request["source"]);
  loaded = load("u.yaml", R"(
  - rpc: aurigraph.contract.v1.ContractService/DeployContract
    request: {source: {$file: contracts/bad.stack}}
)");
  ASSERT_FALSE(loaded.ok());
  EXPECT_NE(loaded.status().message().find("not UTF-8 text (byte 5)"), std::string::npos)
      << loaded.status();
  std::filesystem::remove_all(dir);
}

TEST(Scenario, MetadataNamesAreCaseInsensitive) {
  auto s = ParseScenario(R"(
duration: 1s
load: {model: open, rate: 10}
metadata: {X-Tenant: acme, Authorization: secret}
operations:
  - rpc: a/b
    metadata: {x-tenant: other}
)",
                         "s.yaml", {});
  ASSERT_TRUE(s.ok()) << s.status();
  using Headers = std::vector<std::pair<std::string, std::string>>;
  // The operation's x-tenant replaces the scenario's X-Tenant: one header.
  EXPECT_EQ(s->operations[0].metadata,
            (Headers{{"x-tenant", "other"}, {"Authorization", "secret"}}));
  EXPECT_EQ(s->effective_json.find("secret"), std::string::npos);
  EXPECT_EQ(ErrorOf("duration: 1s\nload: {model: open, rate: 1}\n"
                    "operations: [{rpc: a/b, metadata: {X-Tenant: a, x-tenant: b}}]\n"),
            "s.yaml: operations.0.metadata: 'X-Tenant' and 'x-tenant' are the same header (header "
            "names are case-insensitive)");
}

TEST(AdHocScenario, FlagsBecomeAScenarioCheckedLikeAFile) {
  AdHocCall call;
  call.call = "aurigraph.approval.v1.ApprovalService/CheckHealth";
  call.data = R"({"note":"${seq}"})";
  call.duration = "3s";
  call.rate = 250;
  call.deadline = "50ms";
  call.metadata = {"X-Run :  ${run}"};
  call.gzip = true;
  call.channel = {{"authority", "svc.local"}};
  auto json = AdHocScenarioJson(call);
  ASSERT_TRUE(json.ok()) << json.status();
  auto s = ParseScenario(*json, "--call", {});
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->name, "ad-hoc aurigraph.approval.v1.ApprovalService/CheckHealth");
  EXPECT_TRUE(s->reflection);  // no .proto: the target describes itself
  EXPECT_EQ(s->model, LoadModel::kOpenLoop);
  EXPECT_DOUBLE_EQ(s->rate, 250);
  EXPECT_EQ(s->duration_nanos, 3'000'000'000);
  ASSERT_EQ(s->operations.size(), 1u);
  EXPECT_EQ(s->operations[0].name, "CheckHealth");
  EXPECT_EQ(s->operations[0].deadline_nanos, 50'000'000);
  ASSERT_EQ(s->operations[0].metadata.size(), 1u);
  EXPECT_EQ(s->operations[0].metadata[0].first, "X-Run");
  EXPECT_EQ(s->operations[0].metadata[0].second, "${run}");
  EXPECT_EQ(s->channel.authority, "svc.local");
  // Neither rate nor concurrency: one call at a time.
  AdHocCall closed;
  closed.call = "a.S/M";
  auto closed_json = AdHocScenarioJson(closed);
  ASSERT_TRUE(closed_json.ok());
  EXPECT_NE(closed_json->find(R"("load":{"concurrency":1,"model":"closed"})"), std::string::npos)
      << *closed_json;
}

TEST(AdHocScenario, BadFlagsAreNamed) {
  AdHocCall call;
  call.call = "a.S/M";
  call.data = "[1]";
  EXPECT_EQ(AdHocScenarioJson(call).status().message(),
            "--data: message 0 of the array is not a JSON object (got a number)");
  call.data = "[]";
  EXPECT_EQ(AdHocScenarioJson(call).status().message(), "--data: an empty array (no message)");
  call.data = "7";
  EXPECT_EQ(AdHocScenarioJson(call).status().message(),
            "--data: not a JSON object or array (got a number)");
  call.data = "{nope";
  EXPECT_EQ(AdHocScenarioJson(call).status().message(),
            "--data: invalid JSON at byte 3: syntax error while parsing object key - invalid "
            "literal; last read: '{no'; expected string literal");
  call.data = R"({"a": 1,})";
  EXPECT_EQ(AdHocScenarioJson(call).status().message(),
            "--data: invalid JSON at byte 9: syntax error while parsing object key - unexpected "
            "'}'; expected string literal");
  call.data = "{}";
  call.rate = 1;
  call.concurrency = 2;
  EXPECT_EQ(AdHocScenarioJson(call).status().message(),
            "--rate and --concurrency: give one (open or closed loop, steady or a profile)");
  call.concurrency.reset();
  call.metadata = {"no-colon"};
  EXPECT_EQ(AdHocScenarioJson(call).status().message(),
            "--metadata no-colon: expected 'name: value'");
  call.metadata = {"x-a: 1", "x-a: 2"};
  EXPECT_EQ(AdHocScenarioJson(call).status().message(), "--metadata x-a: given twice");
  call.metadata = {"x-tenant: a", "X-Tenant: b"};
  EXPECT_EQ(AdHocScenarioJson(call).status().message(),
            "--metadata: 'x-tenant' and 'X-Tenant' are the same header (header names are "
            "case-insensitive)");
}

TEST(AdHocScenario, ARequestBudgetNeedsNoDuration) {
  AdHocCall call;
  call.call = "a.S/M";
  call.requests = 500;
  call.warmup = "1s";
  auto s = ParseAdHocScenario(call, {});
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->requests, 500);
  EXPECT_EQ(s->duration_nanos, 0);  // not the default 10s, which could cut the budget short
  EXPECT_EQ(s->warmup_nanos, 1'000'000'000);
  call.duration = "30s";
  s = ParseAdHocScenario(call, {});
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->requests, 500);
  EXPECT_EQ(s->duration_nanos, 30'000'000'000);
  call.requests.reset();
  call.duration.reset();
  s = ParseAdHocScenario(call, {});
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->duration_nanos, 10'000'000'000);
  EXPECT_EQ(s->requests, 0);
}

// The error of an ad-hoc call to a.S/M with `flags` set ("" when it parses).
std::string AdHocError(const std::function<void(AdHocCall&)>& flags,
                       const std::vector<std::string>& overrides = {}) {
  AdHocCall call;
  call.call = "a.S/M";
  flags(call);
  auto s = ParseAdHocScenario(call, overrides);
  return s.ok() ? std::string() : std::string(s.status().message());
}

TEST(AdHocScenario, ErrorsNameTheFlagTheUserTyped) {
  EXPECT_EQ(AdHocError([](AdHocCall& c) { c.rate = 0; }),
            "--rate: impossible rate 0 (0 < rate <= 1e8 per second)");
  EXPECT_EQ(AdHocError([](AdHocCall& c) { c.concurrency = 0; }), "--concurrency: must be >= 1");
  EXPECT_EQ(AdHocError([](AdHocCall& c) { c.duration = "5 parsecs"; }),
            "--duration: invalid duration '5 parsecs': expected a unit (ns, us, ms, s, m, h)");
  EXPECT_EQ(AdHocError([](AdHocCall& c) { c.requests = 0; }), "--requests: must be >= 1");
  EXPECT_EQ(AdHocError([](AdHocCall& c) { c.warmup = "10s"; }),
            "--warmup: 10s is not shorter than the duration (10s): nothing would be measured");
  EXPECT_EQ(AdHocError([](AdHocCall& c) { c.deadline = "soon"; }),
            "--deadline: invalid duration 'soon'");
  EXPECT_EQ(AdHocError([](AdHocCall& c) { c.streams = 0; }), "--streams: must be >= 1");
  EXPECT_EQ(AdHocError([](AdHocCall& c) {
              c.data_file = "users.jsonl";
              c.data_order = "shuffled";
            }),
            "--data-order: expected sequential or random");
  EXPECT_EQ(AdHocError([](AdHocCall& c) {
              c.channel = {{"max_message_size", "1B"}};
            }),
            "--max-message-size: expected a size from 1KiB to 2GiB");
  // A key --set changed is named as the user typed it: the key.
  EXPECT_EQ(AdHocError([](AdHocCall& c) { c.rate = 5; }, {"load.rate=0"}),
            "--call: load.rate: impossible rate 0 (0 < rate <= 1e8 per second)");
  EXPECT_EQ(AdHocError([](AdHocCall& c) { c.rate = 5; }, {"load={model: open, rate: 0}"}),
            "--call: load.rate: impossible rate 0 (0 < rate <= 1e8 per second)");
  EXPECT_EQ(AdHocError([](AdHocCall&) {}, {"workers=2000"}), "--call: workers: at most 1024");
}

TEST(Scenario, ARequestIsAMappingOrAListOfThem) {
  const std::string head =
      "duration: 1s\nload: {model: open, rate: 1}\noperations:\n  - rpc: a/b\n";
  auto s = ParseScenario(head + "    request: [{id: a}, {id: \"b-${seq}\"}]\n", "s.yaml", {});
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->operations[0].request_json, R"([{"id":"a"},{"id":"b-${seq}"}])");
  EXPECT_EQ(ErrorOf(head + "    request: [{id: a}, 3]\n"),
            "s.yaml: operations.0.request: must be a mapping, or a list of mappings (messages)");
  EXPECT_EQ(ErrorOf(head + "    request: []\n"),
            "s.yaml: operations.0.request: must be a mapping, or a list of mappings (messages)");
  s = ParseScenario(head + "    request_bin: req.bin\n", "s.yaml", {});
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->operations[0].request_bin, "req.bin");
  EXPECT_EQ(ErrorOf(head + "    request_bin: req.bin\n    request: {}\n"),
            "s.yaml: operations.0.request_bin: give request or request_bin");
}

// A file in the test's scratch directory, removed with it.
class AdHocInputs : public testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           absl::StrCat("adhoc-inputs-", ::getpid(), "-",
                        testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string Write(const std::string& name, const std::string& text) {
    const std::string path = (dir_ / name).string();
    std::ofstream(path) << text;
    return path;
  }
  std::filesystem::path dir_;
};

TEST_F(AdHocInputs, DataFromAFileAndAnArray) {
  AdHocCall call;
  call.call = "a.S/M";
  call.data = "@" + Write("request.json", R"([{"id": "a-${seq}"}, {"id": "b"}])");
  auto s = ParseAdHocScenario(call, {});
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->operations[0].request_json, R"([{"id":"a-${seq}"},{"id":"b"}])");
  call.data = "@" + Write("broken.json", "{\"id\": ");
  EXPECT_EQ(AdHocScenarioJson(call).status().message(),
            absl::StrCat("--data @", (dir_ / "broken.json").string(),
                         ": invalid JSON at byte 8: syntax error while parsing value - unexpected "
                         "end of input; expected '[', '{', or a literal"));
  call.data = "@" + (dir_ / "absent.json").string();
  EXPECT_EQ(AdHocScenarioJson(call).status().message(),
            absl::StrCat("--data @", (dir_ / "absent.json").string(), ": cannot read"));
}

TEST_F(AdHocInputs, ABinaryRequestInsteadOfData) {
  AdHocCall call;
  call.call = "a.S/M";
  call.data_bin = "req.bin";
  auto s = ParseAdHocScenario(call, {});
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->operations[0].request_bin, "req.bin");
  call.data = "{}";
  EXPECT_EQ(AdHocScenarioJson(call).status().message(), "--data and --data-bin: give one");
}

TEST_F(AdHocInputs, MetadataFromAFileBesideTheFlags) {
  AdHocCall call;
  call.call = "a.S/M";
  call.metadata_file = Write("headers.json", R"({"X-Tenant": "acme", "x-request-id": "r-${seq}"})");
  call.metadata = {"x-user: u"};
  auto s = ParseAdHocScenario(call, {});
  ASSERT_TRUE(s.ok()) << s.status();
  using Headers = std::vector<std::pair<std::string, std::string>>;
  EXPECT_EQ(s->operations[0].metadata,
            (Headers{{"X-Tenant", "acme"}, {"x-request-id", "r-${seq}"}, {"x-user", "u"}}));
  const std::string label = "--metadata-file " + *call.metadata_file;
  call.metadata = {"x-tenant: other"};
  EXPECT_EQ(AdHocScenarioJson(call).status().message(),
            absl::StrCat(label,
                         " and --metadata: 'X-Tenant' and 'x-tenant' are the same header "
                         "(header names are case-insensitive)"));
  call.metadata = {};
  call.metadata_file = Write("numbers.json", R"({"x-n": 1})");
  EXPECT_EQ(AdHocScenarioJson(call).status().message(),
            absl::StrCat("--metadata-file ", *call.metadata_file,
                         ": 'x-n': expected a string (got a number)"));
  call.metadata_file = Write("twice.json", R"({"x-n": "1", "x-m": {"x-n": "2"}, "x-n": "3"})");
  EXPECT_EQ(AdHocScenarioJson(call).status().message(),
            absl::StrCat("--metadata-file ", *call.metadata_file, ": header 'x-n' is given twice"));
  call.metadata_file = Write("nested.json", R"({"x-m": {"x-a": "1"}, "x-a": "2"})");
  EXPECT_EQ(AdHocScenarioJson(call).status().message(),
            absl::StrCat("--metadata-file ", *call.metadata_file,
                         ": 'x-m': expected a string (got an object)"));
  call.metadata_file = Write("list.json", R"(["x-n: 1"])");
  EXPECT_EQ(AdHocScenarioJson(call).status().message(),
            absl::StrCat("--metadata-file ", *call.metadata_file,
                         ": not a JSON object of header name to value (got an array)"));
}

}  // namespace
}  // namespace aurigraph::loadgen

namespace aurigraph::loadgen {
namespace {

std::string WithLoad(const std::string& load, const std::string& duration = "") {
  return "name: t\ntarget: 127.0.0.1:1\n" + duration + "load:\n" + load +
         "operations:\n  - rpc: aurigraph.approval.v1.ApprovalService/CheckHealth\n";
}

TEST(Scenario, ALoadProfileShapesTheRateAndSetsTheDuration) {
  auto s = ParseScenario(WithLoad("  model: open\n"
                                  "  profile:\n"
                                  "    - {rate: 100, for: 30s}\n"
                                  "    - {ramp_to: 5000, over: 2m}\n"
                                  "    - {rate: 5000, for: 10m}\n"),
                         "s.yaml", {});
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->duration_nanos, 750'000'000'000);
  ASSERT_EQ(s->profile.size(), 3u);
  EXPECT_EQ(s->profile[1].from, 100);
  EXPECT_EQ(s->profile[1].to, 5000);
  EXPECT_EQ(s->profile[1].duration_nanos, 120'000'000'000);
  EXPECT_EQ(s->rate, 0);

  auto closed = ParseScenario(WithLoad("  model: closed\n"
                                       "  profile: [{ramp_to: 16, over: 10s}, "
                                       "{concurrency: 4, for: 5s}]\n"),
                              "s.yaml", {"workers=8"});
  ASSERT_TRUE(closed.ok()) << closed.status();
  EXPECT_EQ(closed->concurrency, 16);  // the highest: the workers' slots
  EXPECT_EQ(closed->workers, 8);
  EXPECT_EQ(closed->profile[0].from, 0);  // a first ramp starts from 0
}

TEST(Scenario, ABadLoadProfileIsOneLineNamingTheItem) {
  const auto error = [](const std::string& load, const std::string& duration = "") {
    return ErrorOf(WithLoad(load, duration));
  };
  EXPECT_EQ(error("  model: open\n  profile: [{rate: 100, for: 1s}, {ramp_to: 10}]\n"),
            "s.yaml: load.profile[1]: expected {rate: N, for: D} or {ramp_to: N, over: D}");
  EXPECT_EQ(error("  model: open\n  profile: [{concurrency: 4, for: 1s}]\n"),
            "s.yaml: load.profile[0].concurrency: unknown key");
  EXPECT_EQ(error("  model: open\n  rate: 5\n  profile: [{rate: 100, for: 1s}]\n"),
            "s.yaml: load.profile: give load.rate or a profile");
  EXPECT_EQ(error("  model: open\n  profile: [{rate: 0, for: 1s}]\n"),
            "s.yaml: load.profile: every rate is 0");
  EXPECT_EQ(error("  model: closed\n  profile: [{concurrency: 2.5, for: 1s}]\n"),
            "s.yaml: load.profile[0].concurrency: a concurrency is a whole number");
  EXPECT_EQ(error("  model: open\n  profile: [{rate: 10, for: 0s}]\n"),
            "s.yaml: load.profile[0].for: must be > 0");
  EXPECT_EQ(error("  model: open\n  profile: []\n"),
            "s.yaml: load.profile: expected a list of {rate: N, for: D} holds and "
            "{ramp_to: N, over: D} ramps");
  EXPECT_EQ(error("  model: open\n  profile: [{rate: 10, for: 5s}]\n", "duration: 10s\n"),
            "s.yaml: duration: 10s is not the length of load.profile (5s), which sets it");
  EXPECT_EQ(error("  model: open\n"),
            "s.yaml: load.rate: required for an open-loop run (or a load.profile)");
}

TEST(AdHocScenario, ProfilesFromFlags) {
  AdHocCall call;
  call.call = "a.S/M";
  call.rate_profile = "100 for 30s, ramp to 5000 over 2m,5000 for 10m";
  auto s = ParseAdHocScenario(call, {});
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->model, LoadModel::kOpenLoop);
  EXPECT_EQ(s->duration_nanos, 750'000'000'000);  // not the ad-hoc default of 10s
  ASSERT_EQ(s->profile.size(), 3u);
  EXPECT_EQ(s->profile[1].to, 5000);

  AdHocCall closed;
  closed.call = "a.S/M";
  closed.concurrency_profile = "ramp to 8 over 1s";
  auto c = ParseAdHocScenario(closed, {});
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->model, LoadModel::kClosedLoop);
  EXPECT_EQ(c->concurrency, 8);

  EXPECT_EQ(AdHocError([](AdHocCall& c) { c.rate_profile = "100 for 30s, up to 200"; }),
            "--rate-profile: 'up to 200' is neither 'N for DURATION' nor 'ramp to N over "
            "DURATION'");
  EXPECT_EQ(AdHocError([](AdHocCall& c) { c.rate_profile = "100 for 3 parsecs"; }),
            "--rate-profile: '100 for 3 parsecs' is neither 'N for DURATION' nor 'ramp to N "
            "over DURATION'");
  EXPECT_EQ(AdHocError([](AdHocCall& c) { c.concurrency_profile = "2.5 for 1s"; }),
            "--concurrency-profile: a concurrency is a whole number");
  EXPECT_EQ(AdHocError([](AdHocCall& c) {
              c.rate = 5;
              c.rate_profile = "1 for 1s";
            }),
            "--rate and --rate-profile: give one (open or closed loop, steady or a profile)");
  EXPECT_EQ(AdHocError([](AdHocCall& c) {
              c.rate_profile = "10 for 5s";
              c.duration = "10s";
            }),
            "--duration: 10s is not the length of load.profile (5s), which sets it");
}

}  // namespace
}  // namespace aurigraph::loadgen
