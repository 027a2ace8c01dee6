#include "loadgen/runner/runner.h"

#include <unistd.h>

#include <algorithm>
#include <memory>
#include <thread>

#include "absl/strings/str_cat.h"
#include "common/units/units.h"
#include "common/version/version.h"
#include "loadgen/catalog/catalog.h"
#include "loadgen/driver/worker.h"
#include "loadgen/gates/gates.h"
#include "loadgen/payload/request_template.h"
#include "loadgen/recorder/operation_stats.h"
#include "loadgen/transport/grpc_transport.h"

namespace aurigraph::loadgen {
namespace {

struct PreparedOperation {
  GrpcMethod method;
  RequestTemplate request_template;
};

absl::StatusOr<std::vector<PreparedOperation>> PrepareOperations(const Scenario& scenario) {
  std::vector<PreparedOperation> prepared;
  for (size_t i = 0; i < scenario.operations.size(); ++i) {
    const OperationSpec& op = scenario.operations[i];
    const std::string where = absl::StrCat("operation '", op.name, "': ");
    auto method = FindBundledMethod(op.rpc);
    if (!method.ok()) {
      return absl::InvalidArgumentError(absl::StrCat(where, method.status().message()));
    }
    if (method->kind != CallKind::kUnary) {
      return absl::InvalidArgumentError(
          absl::StrCat(where, op.rpc, " is a streaming RPC; this build drives unary RPCs only"));
    }
    auto compiled = RequestTemplate::Compile(*method->request_type, op.request_json);
    if (!compiled.ok()) {
      return absl::InvalidArgumentError(absl::StrCat(where, compiled.status().message()));
    }
    prepared.push_back(
        PreparedOperation{GrpcMethod{method->path, op.deadline_nanos}, *std::move(compiled)});
  }
  return prepared;
}

// Splits `total` into `parts` shares that differ by at most one.
int64_t Share(int64_t total, int parts, int index) {
  return total / parts + (index < total % parts ? 1 : 0);
}

std::string HostName() {
  char name[256] = {};
  gethostname(name, sizeof name - 1);
  return name;
}

OperationResult ToOperationResult(const OperationStats& stats, const std::string& name,
                                  const std::string& rpc, double seconds, double target_rate) {
  OperationResult r;
  r.name = name;
  r.rpc = rpc;
  r.corrected = std::make_shared<Histogram>(stats.corrected());
  r.uncorrected = std::make_shared<Histogram>(stats.uncorrected());
  r.requests = stats.completed();
  r.ok = stats.codes()[0];
  for (int code = 0; code < kStatusCodeCount; ++code) {
    if (stats.codes()[code] > 0) r.status_codes[StatusCodeName(code)] = stats.codes()[code];
  }
  r.achieved_rate = seconds > 0 ? static_cast<double>(r.requests) / seconds : 0;
  r.target_rate = target_rate;
  return r;
}

}  // namespace

absl::StatusOr<RunResult> RunScenario(const Scenario& scenario, const RunOptions& options) {
  const std::string target = options.target.empty() ? scenario.target : options.target;
  if (target.empty()) {
    return absl::InvalidArgumentError(
        "no target: give --target HOST:PORT or 'target:' in the scenario");
  }
  std::vector<Gate> gates;
  for (const GateSpec& spec : scenario.gates) {
    auto gate = ParseGate(spec.expression, spec.operation);
    if (!gate.ok()) return gate.status();
    if (!spec.operation.empty() &&
        std::none_of(scenario.operations.begin(), scenario.operations.end(),
                     [&](const OperationSpec& op) { return op.name == spec.operation; })) {
      return absl::InvalidArgumentError(absl::StrCat(
          "gate '", spec.expression, "' names unknown operation '", spec.operation, "'"));
    }
    gates.push_back(*std::move(gate));
  }
  auto prepared = PrepareOperations(scenario);
  if (!prepared.ok()) return prepared.status();

  const auto channels = CreateChannels(target, scenario.connections);
  if (auto connected = WaitForConnection(channels, target, scenario.connect_timeout_nanos);
      !connected.ok()) {
    return connected;
  }

  const int workers = scenario.workers;
  std::vector<GrpcMethod> methods;
  std::vector<double> weights;
  double weight_sum = 0;
  for (size_t i = 0; i < prepared->size(); ++i) {
    methods.push_back((*prepared)[i].method);
    weights.push_back(scenario.operations[i].weight);
    weight_sum += scenario.operations[i].weight;
  }

  const Clock& clock = *options.clock;
  // Workers start together a little after set-up, so the schedule's first
  // intended times are not already late.
  const int64_t start = clock.NowNanos() + 20'000'000;
  const int64_t start_unix = UnixNanosNow() + 20'000'000;

  struct WorkerParts {
    std::unique_ptr<GrpcTransport> transport;
    std::vector<std::unique_ptr<TemplateRequestSource>> sources;
    std::unique_ptr<Worker> worker;
  };
  std::vector<WorkerParts> parts(workers);
  for (int w = 0; w < workers; ++w) {
    std::vector<std::shared_ptr<grpc::Channel>> own;
    for (size_t c = 0; c < channels.size(); ++c) {
      if (static_cast<int>(c % workers) == w) own.push_back(channels[c]);
    }
    if (own.empty()) own.push_back(channels[w % channels.size()]);
    WorkerPlan plan;
    plan.model = scenario.model;
    plan.start_nanos = start;
    plan.warmup_nanos = scenario.warmup_nanos;
    plan.duration_nanos = scenario.duration_nanos;
    plan.max_requests = scenario.requests > 0 ? Share(scenario.requests, workers, w) : 0;
    plan.max_in_flight = static_cast<uint32_t>(scenario.model == LoadModel::kClosedLoop
                                                   ? Share(scenario.concurrency, workers, w)
                                                   : scenario.max_in_flight);
    plan.drain_timeout_nanos = scenario.drain_timeout_nanos;
    plan.operation_weights = weights;
    plan.seed = scenario.seed;
    plan.worker_index = w;
    plan.worker_count = workers;
    if (scenario.requests > 0 && plan.max_requests == 0) continue;

    WorkerParts& p = parts[w];
    p.transport = std::make_unique<GrpcTransport>(own, methods, plan.max_in_flight);
    std::vector<RequestSource*> sources;
    for (const PreparedOperation& op : *prepared) {
      p.sources.push_back(
          std::make_unique<TemplateRequestSource>(op.request_template, w, scenario.seed));
      sources.push_back(p.sources.back().get());
    }
    std::unique_ptr<ArrivalSchedule> schedule;
    if (scenario.model == LoadModel::kOpenLoop) {
      schedule = std::make_unique<ArrivalSchedule>(scenario.rate, scenario.arrival, w, workers,
                                                   scenario.seed);
    }
    p.worker = std::make_unique<Worker>(clock, *p.transport, std::move(sources),
                                        std::move(schedule), plan);
  }

  std::vector<std::thread> threads;
  for (WorkerParts& p : parts) {
    if (p.worker) threads.emplace_back([&p, &options] { p.worker->Run(options.stop); });
  }
  for (std::thread& t : threads) t.join();
  const int64_t end = clock.NowNanos();

  WorkerStats merged;
  merged.operations.resize(prepared->size());
  for (const WorkerParts& p : parts) {
    if (p.worker) merged.Merge(p.worker->stats());
  }

  RunResult result;
  result.tool_version = kVersion;
  result.host = HostName();
  result.scenario_name = scenario.name;
  result.scenario_json = scenario.effective_json;
  result.target = target;
  result.load_model = scenario.model == LoadModel::kOpenLoop ? "open" : "closed";
  result.target_rate = scenario.model == LoadModel::kOpenLoop ? scenario.rate : 0;
  result.start_unix_nanos = start_unix;
  result.end_unix_nanos = start_unix + (end - start);

  // Rates are over the measured window: from the end of warm-up to the end of
  // the schedule (or, for a request budget or an early stop, the last completion).
  const int64_t measured_start = start + scenario.warmup_nanos;
  int64_t measured_end = merged.last_completion_nanos;
  if (scenario.duration_nanos > 0 && scenario.requests == 0) {
    measured_end = std::min(start + scenario.duration_nanos, std::max(end, measured_start));
    if (options.stop != nullptr && options.stop->load()) measured_end = std::min(measured_end, end);
  }
  result.measured_seconds =
      std::max<double>(0, static_cast<double>(measured_end - measured_start) / 1e9);

  OperationStats all;
  for (size_t i = 0; i < prepared->size(); ++i) {
    const OperationSpec& spec = scenario.operations[i];
    const double share = result.target_rate * spec.weight / weight_sum;
    result.operations.push_back(ToOperationResult(merged.operations[i], spec.name, spec.rpc,
                                                  result.measured_seconds, share));
    all.Merge(merged.operations[i]);
  }
  result.total = ToOperationResult(all, "total", "*", result.measured_seconds, result.target_rate);

  GeneratorHealth& g = result.generator;
  g.schedule_lag = std::make_shared<Histogram>(merged.schedule_lag);
  g.generator_lag = std::make_shared<Histogram>(merged.generator_lag);
  g.max_generator_lag_p99_us = scenario.max_generator_lag_nanos / 1000;
  g.sent = merged.sent;
  g.delayed_by_in_flight_bound = merged.delayed_by_in_flight_bound;
  g.cancelled_at_drain = merged.cancelled_at_drain;
  g.warmup_completions = merged.warmup_completions;
  const int64_t own_lag_p99 = g.generator_lag->ValueAtPercentile(99);
  if (scenario.model == LoadModel::kOpenLoop && own_lag_p99 > g.max_generator_lag_p99_us) {
    g.kept_up = false;
    g.verdict = absl::StrCat("the generator fell behind its schedule: p99 of its own send lag is ",
                             FormatDuration(own_lag_p99 * 1000), " (bound ",
                             FormatDuration(scenario.max_generator_lag_nanos),
                             "); latency figures describe the generator, not the target");
  }

  auto gate_results = EvaluateGates(gates, result);
  if (!gate_results.ok()) return gate_results.status();
  result.gates = *std::move(gate_results);
  return result;
}

}  // namespace aurigraph::loadgen
