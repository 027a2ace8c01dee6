// Shared by the integration tests: the reference server in-process on an
// ephemeral loopback port, and scenarios run against it from YAML text.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <fstream>
#include <functional>
#include <iostream>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <utility>

#include "loadgen/runner/runner.h"
#include "loadgen/scenario/scenario.h"
#include "reference-server/service/reference_server.h"

namespace aurigraph {

inline std::unique_ptr<refserver::ReferenceServer> StartServer(
    refserver::ServerOptions options = {}) {
  options.listen = "127.0.0.1:0";
  auto server = refserver::ReferenceServer::Start(options);
  EXPECT_TRUE(server.ok()) << server.status();
  return *std::move(server);
}

inline std::unique_ptr<refserver::ReferenceServer> StartServer(refserver::FaultConfig faults) {
  refserver::ServerOptions options;
  options.faults = faults;
  return StartServer(options);
}

inline absl::StatusOr<loadgen::RunResult> RunYaml(const std::string& yaml,
                                                  const std::string& target) {
  auto scenario = loadgen::ParseScenario(yaml, "test.yaml", {});
  if (!scenario.ok()) return scenario.status();
  loadgen::RunOptions options;
  options.target = target;
  return loadgen::RunScenario(*scenario, options);
}

// The most a p50 measured against a fixed injected latency may exceed it by:
// three sleeping wake-ups (the server's delay queue, gRPC's completion, the
// loadgen's own), each as late as the run's own send lag measured, and 2 ms
// for the rest of the in-process path, which a compiler running beside the
// test stretches (bidi p50 6.52 ms for 5 ms, wake-ups 152 us late). The
// precise figure belongs in a benchmark (issue 22).
inline int64_t InjectedLatencyUpperBound(int64_t injected_us, int64_t wake_up_late_us) {
  return injected_us + 2'000 + 3 * wake_up_late_us;
}

// Whether a 200/s run of CheckHealth against `address`, whose server injects
// a fixed 5 ms, measures p50 (corrected and not) in [5 ms,
// InjectedLatencyUpperBound]; `channel` opens the scenario (another client).
inline testing::AssertionResult MeasuresInjectedFiveMilliseconds(const std::string& address,
                                                                 const std::string& channel = "") {
  auto result = RunYaml(channel + R"(
duration: 3s
warmup: 500ms
load: {model: open, rate: 200}
operations: [{rpc: aurigraph.approval.v1.ApprovalService/CheckHealth}]
)",
                        address);
  if (!result.ok()) return testing::AssertionFailure() << result.status();
  if (result->total.requests <= 400) {
    return testing::AssertionFailure() << result->total.requests << " requests";
  }
  const int64_t wake_up_late = result->generator.schedule_lag->ValueAtPercentile(50);
  const int64_t upper = InjectedLatencyUpperBound(5000, wake_up_late);
  for (const auto* h : {result->total.corrected.get(), result->total.uncorrected.get()}) {
    const int64_t p50 = h->ValueAtPercentile(50);
    if (p50 < 5000 || p50 > upper) {
      return testing::AssertionFailure()
             << "p50 " << p50 << " us, not in [5000, " << upper << "]: wake-ups landed "
             << wake_up_late << " us late (p50)";
    }
  }
  return testing::AssertionSuccess();
}

// Shared CI machines are at times taken from the tests for tens to hundreds of
// milliseconds (VM steal), or slowed on every core, and a check judged on its
// timing cannot pass then, whatever the code does. A probe thread sleeps 2 ms
// at a time and notes how late it wakes, and /proc/stat gives the CPU time the
// host took meanwhile. EXPECT_WHEN_QUIET(attempt) runs `attempt` again, up to 3
// times and a few seconds apart, only when it failed while the probe woke 20 ms
// or more late or the host took 10% or more; a failure on a quiet machine fails
// the test. When every attempt failed stalled (a CI run saw 37-64% stolen for
// its whole length), the timing cannot be judged there: the test is skipped
// with the figures, as a run whose generator fell behind is INVALID rather
// than failed. `attempt` asserts what holds on any machine itself (EXPECT_*,
// failing the test whatever the machine did) and returns the verdict on what
// the timing decides. (tests/e2e/common.sh's until_quiet does the same.)
class StallProbe {
 public:
  StallProbe()
      : thread_([this] {
          while (!stop_.load()) {
            const auto start = std::chrono::steady_clock::now();
            std::this_thread::sleep_for(std::chrono::milliseconds(2));
            const auto late =
                std::chrono::steady_clock::now() - start - std::chrono::milliseconds(2);
            worst_ = std::max<int64_t>(
                worst_, std::chrono::duration_cast<std::chrono::milliseconds>(late).count());
          }
        }) {}
  ~StallProbe() { worst_ms(); }
  // The share of all CPU time the host took since the probe started, in percent.
  int64_t stolen_percent() const {
    const auto [steal, total] = CpuTicks();
    return total > before_.second ? 100 * (steal - before_.first) / (total - before_.second) : 0;
  }
  // Stops the probe: the worst lateness it saw, in milliseconds.
  int64_t worst_ms() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
    return worst_;
  }

 private:
  // Steal and total ticks of all CPUs so far (/proc/stat's "cpu" line).
  static std::pair<int64_t, int64_t> CpuTicks() {
    std::ifstream stat("/proc/stat");
    std::string cpu;
    int64_t field = 0, steal = 0, total = 0;
    stat >> cpu;
    for (int i = 0; i < 8 && stat >> field;
         ++i) {  // user nice system idle iowait irq softirq steal
      total += field;
      if (i == 7) steal = field;
    }
    return {steal, total};
  }

  std::atomic<bool> stop_{false};
  int64_t worst_ = 0;
  const std::pair<int64_t, int64_t> before_ = CpuTicks();
  std::thread thread_;
};

struct QuietVerdict {
  testing::AssertionResult result = testing::AssertionSuccess();
  bool judged = true;
};

inline QuietVerdict UntilQuiet(const std::function<testing::AssertionResult()>& attempt) {
  constexpr int kAttempts = 3;
  constexpr int64_t kStallMs = 20;
  constexpr int64_t kStolenPercent = 10;
  for (int i = 1;; ++i) {
    StallProbe probe;
    testing::AssertionResult result = attempt();
    const int64_t stall = probe.worst_ms();
    const int64_t stolen = probe.stolen_percent();
    if (result || (stall < kStallMs && stolen < kStolenPercent)) return {result, true};
    std::ostringstream why;
    why << "it failed while the machine stalled (a 2 ms sleep woke " << stall
        << " ms late; the host took " << stolen << "% of its CPU time): " << result.message();
    if (i == kAttempts) {
      const auto* test = testing::UnitTest::GetInstance()->current_test_info();
      return {
          testing::AssertionFailure()
              << "not judged " << test->test_suite_name() << "." << test->name()
              << ": it failed on every attempt while the machine stalled; the last: " << why.str(),
          false};
    }
    std::cout << "again: " << why.str() << std::endl;
    std::this_thread::sleep_for(std::chrono::seconds(5 * i));  // stalls come in episodes
  }
}

}  // namespace aurigraph

// See UntilQuiet: a timed check, run again while the machine stalls, and the
// test skipped when it stalled on every attempt.
#define EXPECT_WHEN_QUIET(...)                                                 \
  do {                                                                         \
    const auto quiet_verdict = ::aurigraph::UntilQuiet(__VA_ARGS__);           \
    if (!quiet_verdict.judged) GTEST_SKIP() << quiet_verdict.result.message(); \
    EXPECT_TRUE(quiet_verdict.result);                                         \
  } while (false)
