// The runner without sockets: how a scenario's load is shared among workers
// (pure), and a whole run through a scripted wire on a simulated clock, from
// planning to the assembled result, its verdict and its gates.
#include "loadgen/runner/runner.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <mutex>
#include <numeric>
#include <set>

#include "loadgen/runner/worker_plan.h"

namespace aurigraph::loadgen {
namespace {

constexpr int64_t kMs = 1'000'000;

Scenario Parse(const std::string& yaml) {
  auto scenario = ParseScenario(yaml, "test.yaml", {});
  EXPECT_TRUE(scenario.ok()) << scenario.status();
  return scenario.ok() ? *std::move(scenario) : Scenario{};
}

// Answers every call after a fixed service time on the simulated clock; every
// tenth call (by send order) fails with UNAVAILABLE.
class ScriptedTransport final : public Transport {
 public:
  ScriptedTransport(ManualClock& clock, int64_t service_nanos)
      : clock_(clock), service_nanos_(service_nanos) {}
  void Start(uint32_t slot, uint32_t, std::string_view, std::span<const Header>) override {
    pending_.emplace(clock_.NowNanos() + service_nanos_, Call{slot, ++started_ % 10 == 0});
  }
  bool Next(int64_t timeout_nanos, Completion* completion) override {
    const int64_t now = clock_.NowNanos();
    if (!pending_.empty() && pending_.begin()->first <= now + timeout_nanos) {
      clock_.Set(std::max(now, pending_.begin()->first));
      completion->completed_nanos = pending_.begin()->first;
      completion->slot = pending_.begin()->second.slot;
      completion->status_code = pending_.begin()->second.fails ? 14 : 0;
      pending_.erase(pending_.begin());
      return true;
    }
    clock_.Set(now + timeout_nanos);
    return false;
  }
  void SleepThrough(int64_t nanos) override { clock_.Set(clock_.NowNanos() + nanos); }
  void CancelAll() override {}

 private:
  struct Call {
    uint32_t slot;
    bool fails;
  };
  ManualClock& clock_;
  const int64_t service_nanos_;
  std::multimap<int64_t, Call> pending_;
  int64_t started_ = 0;
};

// A wire of scripted transports: connects to nothing, describes nothing.
class ScriptedWire final : public TransportFactory {
 public:
  ScriptedWire(ManualClock& clock, int64_t service_nanos)
      : clock_(clock), service_nanos_(service_nanos) {}
  absl::Status Connect() override {
    ++connects_;
    return absl::OkStatus();
  }
  absl::StatusOr<ServiceDescriptions> DescribeServices(const std::vector<std::string>&) override {
    return absl::UnimplementedError("no reflection here");
  }
  std::unique_ptr<Transport> MakeTransport(int, int, std::vector<UnaryMethod> methods,
                                           uint32_t) override {
    methods_ = std::move(methods);
    return std::make_unique<ScriptedTransport>(clock_, service_nanos_);
  }
  std::unique_ptr<StreamTransport> MakeStreamTransport(int, int, std::vector<std::string>,
                                                       uint32_t) override {
    return nullptr;
  }
  int connects() const { return connects_; }
  const std::vector<UnaryMethod>& methods() const { return methods_; }

 private:
  ManualClock& clock_;
  const int64_t service_nanos_;
  int connects_ = 0;
  std::vector<UnaryMethod> methods_;
};

TEST(PlanWorkers, SharesAddUpToTheScenarioAndDifferByAtMostOne) {
  const Scenario scenario = Parse(R"(
target: 127.0.0.1:1
requests: 10
workers: 3
load: {model: closed, concurrency: 5}
operations:
  - name: health
    rpc: aurigraph.approval.v1.ApprovalService/CheckHealth
)");
  ManualClock clock;
  ScriptedWire wire(clock, kMs);
  auto operations = PlanOperations(scenario, wire, "127.0.0.1:1");
  ASSERT_TRUE(operations.ok()) << operations.status();
  const std::vector<WorkerAssignment> plans = PlanWorkers(scenario, *operations, 7 * kMs);
  ASSERT_EQ(plans.size(), 3u);
  int64_t requests = 0, in_flight = 0;
  for (int w = 0; w < 3; ++w) {
    ASSERT_TRUE(plans[w].calls);
    EXPECT_FALSE(plans[w].streams);
    const WorkerPlan& p = *plans[w].calls;
    EXPECT_EQ(p.worker_index, w);
    EXPECT_EQ(p.worker_count, 3);
    EXPECT_EQ(p.start_nanos, 7 * kMs);
    EXPECT_EQ(p.seed, scenario.seed);
    requests += p.max_requests;
    in_flight += p.max_in_flight;
  }
  EXPECT_EQ(requests, 10);
  EXPECT_EQ(in_flight, 5);
  EXPECT_EQ(plans[0].calls->max_requests, 4);
  EXPECT_EQ(plans[2].calls->max_in_flight, 1);
}

// A run split across N processes (of 3 threads each): each process's share of
// the concurrency, the request budget and the streams differs from another's by
// at most one and they add up to the scenario's; the run's workers (and with
// them sequence numbers) are numbered once across all processes.
TEST(PlanWorkers, ASplitRunsSharesAddUpAndDifferByAtMostOneAcrossProcesses) {
  const std::string operations_yaml = R"(
workers: 3
load: {model: closed, concurrency: 29}
operations:
  - name: health
    rpc: aurigraph.approval.v1.ApprovalService/CheckHealth
)";
  const Scenario budget = Parse("target: 127.0.0.1:1\nrequests: 1000\n" + operations_yaml);
  // Fewer slots than workers: the budget goes to the workers with a slot only.
  const Scenario scarce = Parse(
      "target: 127.0.0.1:1\nrequests: 1000\nworkers: 3\nload: {model: closed, concurrency: 4}\n"
      "operations: [{rpc: aurigraph.approval.v1.ApprovalService/CheckHealth}]\n");
  const Scenario timed = Parse("target: 127.0.0.1:1\nduration: 1s\n" + operations_yaml + R"(
  - name: watch
    rpc: aurigraph.transaction.v1.TransactionService/StreamTransactions
    stream: {streams: 17}
)");
  ManualClock clock;
  ScriptedWire wire(clock, kMs);
  auto budget_operations = PlanOperations(budget, wire, "127.0.0.1:1");
  ASSERT_TRUE(budget_operations.ok()) << budget_operations.status();
  auto timed_operations = PlanOperations(timed, wire, "127.0.0.1:1");
  ASSERT_TRUE(timed_operations.ok()) << timed_operations.status();
  auto scarce_operations = PlanOperations(scarce, wire, "127.0.0.1:1");
  ASSERT_TRUE(scarce_operations.ok()) << scarce_operations.status();
  for (const int processes : {1, 2, 4, 7}) {
    std::vector<int64_t> in_flight, requests, streams;
    int64_t scarce_requests = 0;
    std::set<int> run_workers;
    for (int k = 0; k < processes; ++k) {
      const Partition partition{k, processes};
      int64_t process_in_flight = 0, process_requests = 0, process_streams = 0;
      for (const WorkerAssignment& a : PlanWorkers(timed, *timed_operations, 0, partition)) {
        ASSERT_TRUE(a.calls);
        EXPECT_EQ(a.calls->worker_count, 3 * processes);
        EXPECT_TRUE(run_workers.insert(a.calls->worker_index).second);
        process_in_flight += a.calls->max_in_flight;
        if (a.streams) {
          EXPECT_EQ(a.streams->worker_count, 3 * processes);
          EXPECT_EQ(a.streams->worker_index, a.calls->worker_index);
          process_streams += a.streams->operations[0].streams;
        }
      }
      for (const WorkerAssignment& a : PlanWorkers(budget, *budget_operations, 0, partition)) {
        if (a.calls) process_requests += a.calls->max_requests;
      }
      for (const WorkerAssignment& a : PlanWorkers(scarce, *scarce_operations, 0, partition)) {
        if (!a.calls) continue;
        EXPECT_GT(a.calls->max_in_flight, 0u);
        scarce_requests += a.calls->max_requests;
      }
      in_flight.push_back(process_in_flight);
      requests.push_back(process_requests);
      streams.push_back(process_streams);
    }
    for (const auto* shares : {&in_flight, &requests, &streams}) {
      const auto [low, high] = std::minmax_element(shares->begin(), shares->end());
      EXPECT_LE(*high - *low, 1) << processes << " processes";
    }
    EXPECT_EQ(std::accumulate(in_flight.begin(), in_flight.end(), int64_t{0}), 29);
    EXPECT_EQ(std::accumulate(requests.begin(), requests.end(), int64_t{0}), 1000);
    EXPECT_EQ(std::accumulate(streams.begin(), streams.end(), int64_t{0}), 17);
    EXPECT_EQ(scarce_requests, 1000) << processes << " processes";
    EXPECT_EQ(run_workers.size(), static_cast<size_t>(3 * processes));
    EXPECT_EQ(*run_workers.rbegin(), 3 * processes - 1);
  }
}

TEST(PlanWorkers, AWorkerWithNothingToDoGetsNoPlan) {
  const Scenario scenario = Parse(R"(
target: 127.0.0.1:1
duration: 1s
workers: 3
operations:
  - name: watch
    rpc: aurigraph.transaction.v1.TransactionService/StreamTransactions
    stream: {streams: 2, open_rate: 10}
)");
  ManualClock clock;
  ScriptedWire wire(clock, kMs);
  auto operations = PlanOperations(scenario, wire, "127.0.0.1:1");
  ASSERT_TRUE(operations.ok()) << operations.status();
  const std::vector<WorkerAssignment> plans = PlanWorkers(scenario, *operations, 0);
  ASSERT_EQ(plans.size(), 3u);
  ASSERT_TRUE(plans[0].streams);
  ASSERT_TRUE(plans[1].streams);
  EXPECT_FALSE(plans[2].streams);  // two streams, three workers
  EXPECT_FALSE(plans[0].calls);
  EXPECT_EQ(plans[0].streams->operations[0].streams, 1u);
  EXPECT_EQ(plans[0].streams->operations[0].mode, StreamMode::kServerStream);
  EXPECT_DOUBLE_EQ(plans[0].streams->operations[0].open_rate, 5);
}

TEST(Runner, AWholeRunThroughAScriptedWireIsPlannedExecutedAndAssembled) {
  const Scenario scenario = Parse(R"(
name: scripted
target: 127.0.0.1:1
duration: 2s
warmup: 500ms
interval: 500ms
workers: 1
load: {model: open, rate: 100}
operations:
  - name: health
    rpc: aurigraph.approval.v1.ApprovalService/CheckHealth
    deadline: 250ms
gates: ["p99 < 5ms", "error_ratio < 5%"]
)");
  ManualClock clock(1'000 * kMs);
  ManualClock wall(1'700'000'000'000'000'000);
  ScriptedWire wire(clock, 2 * kMs);
  RunOptions options;
  options.clock = &clock;
  options.wall_clock = &wall;
  options.transport = &wire;
  options.watch_pid = -1;
  auto result = RunScenario(scenario, options);
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(wire.connects(), 1);
  ASSERT_EQ(wire.methods().size(), 1u);
  EXPECT_EQ(wire.methods()[0].path, "/aurigraph.approval.v1.ApprovalService/CheckHealth");
  EXPECT_EQ(wire.methods()[0].deadline_nanos, 250 * kMs);

  // 100/s for 2 s, the first 0.5 s warm-up: 150 measured calls, every tenth failed.
  EXPECT_EQ(result->load_model, "open");
  EXPECT_EQ(result->start_unix_nanos, 1'700'000'000'020'000'000);
  // Measured from the end of warm-up to the end of the duration (the run lasts
  // it, though the last call, sent at 1.99 s, ended at 1.992 s).
  EXPECT_DOUBLE_EQ(result->measured_seconds, 1.5);
  EXPECT_EQ(result->generator.sent, 200);
  EXPECT_EQ(result->generator.warmup_completions, 50);
  const OperationResult& health = result->operations.at(0);
  EXPECT_EQ(health.requests, 150);
  EXPECT_EQ(health.status_codes.at("UNAVAILABLE"), 15);
  EXPECT_DOUBLE_EQ(health.achieved_rate, 100);
  EXPECT_DOUBLE_EQ(health.target_rate, 100);
  EXPECT_EQ(health.corrected->Max(), health.corrected->HighestEquivalent(2000));
  EXPECT_EQ(health.failed.at("UNAVAILABLE")->TotalCount(), 15);
  EXPECT_EQ(result->total.requests, 150);
  // The timeline: 500 ms intervals, the first one warm-up.
  ASSERT_GE(result->timeline.points.size(), 4u);
  EXPECT_TRUE(result->timeline.points[0].warmup);
  EXPECT_FALSE(result->timeline.points[1].warmup);
  EXPECT_DOUBLE_EQ(result->timeline.interval_seconds, 0.5);
  // Judged and gated on the assembled result: on time, fast, but 10% errors.
  EXPECT_TRUE(result->generator.kept_up) << result->generator.verdict;
  ASSERT_EQ(result->gates.size(), 2u);
  EXPECT_TRUE(result->gates[0].passed) << result->gates[0].message;
  EXPECT_FALSE(result->gates[1].passed);
  EXPECT_FALSE(result->passed());
}

// A run of `scenario_yaml` through the scripted wire (2 ms per call).
RunResult RunScripted(const std::string& scenario_yaml) {
  const Scenario scenario = Parse(scenario_yaml);
  ManualClock clock(1'000 * kMs);
  ManualClock wall(1'700'000'000'000'000'000);
  ScriptedWire wire(clock, 2 * kMs);
  RunOptions options;
  options.clock = &clock;
  options.wall_clock = &wall;
  options.transport = &wire;
  options.watch_pid = -1;
  auto result = RunScenario(scenario, options);
  EXPECT_TRUE(result.ok()) << result.status();
  return result.ok() ? *std::move(result) : RunResult{};
}

TEST(Runner, TheIntervalTheWarmUpEndsInIsItsMeasuredPart) {
  // Intervals of 500 ms; warm-up ends 750 ms in. The second interval holds the
  // 25 calls meant in [750, 1000) ms: a point of 250 ms, so 100/s, not 50/s.
  const RunResult r = RunScripted(R"(
target: 127.0.0.1:1
duration: 2s
warmup: 750ms
interval: 500ms
load: {model: open, rate: 100}
operations: [{rpc: aurigraph.approval.v1.ApprovalService/CheckHealth}]
)");
  ASSERT_GE(r.timeline.points.size(), 3u);
  const TimelinePoint& straddling = r.timeline.points[1];
  EXPECT_FALSE(straddling.warmup);
  EXPECT_DOUBLE_EQ(straddling.offset_seconds, 0.75);
  EXPECT_DOUBLE_EQ(straddling.seconds, 0.25);
  EXPECT_EQ(straddling.operations.at(0).count, 25);
  EXPECT_DOUBLE_EQ(r.timeline.points[2].offset_seconds, 1.0);

  // Over 1,800 intervals result.json merges them in pairs, but never the last
  // warm-up interval with the first measured one.
  const RunResult merged = RunScripted(R"(
target: 127.0.0.1:1
duration: 200s
warmup: 10100ms
interval: 100ms
load: {model: open, rate: 100}
operations: [{rpc: aurigraph.approval.v1.ApprovalService/CheckHealth}]
)");
  ASSERT_DOUBLE_EQ(merged.timeline.interval_seconds, 0.2);
  bool boundary_seen = false;
  for (size_t i = 0; i + 1 < merged.timeline.points.size(); ++i) {
    const TimelinePoint& p = merged.timeline.points[i];
    if (p.warmup && !merged.timeline.points[i + 1].warmup) {
      boundary_seen = true;
      EXPECT_NEAR(p.offset_seconds + p.seconds, 10.1, 1e-9);
      EXPECT_NEAR(merged.timeline.points[i + 1].offset_seconds, 10.1, 1e-9);
    }
  }
  EXPECT_TRUE(boundary_seen);
}

TEST(Runner, BadInputIsFoundBeforeConnecting) {
  const Scenario scenario = Parse(R"(
target: 127.0.0.1:1
duration: 1s
load: {model: open, rate: 10}
operations:
  - name: nope
    rpc: aurigraph.approval.v1.ApprovalService/NoSuchMethod
)");
  ManualClock clock;
  ScriptedWire wire(clock, kMs);
  RunOptions options;
  options.clock = &clock;
  options.transport = &wire;
  auto result = RunScenario(scenario, options);
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(wire.connects(), 0);
}

}  // namespace
}  // namespace aurigraph::loadgen
