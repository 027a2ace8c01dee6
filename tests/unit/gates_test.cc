#include "loadgen/gates/gates.h"

#include <gtest/gtest.h>

#include "loadgen/recorder/operation_stats.h"

namespace aurigraph::loadgen {
namespace {

RunResult ResultWith(int64_t requests, int64_t errors, int64_t latency_us, double rate,
                     double target) {
  RunResult r;
  OperationResult& op = r.total;
  op.name = "total";
  op.requests = requests;
  op.ok = requests - errors;
  op.achieved_rate = rate;
  op.target_rate = target;
  op.corrected = std::make_shared<Histogram>(MakeLatencyHistogram());
  op.uncorrected = std::make_shared<Histogram>(MakeLatencyHistogram());
  op.corrected->RecordN(latency_us, requests);
  op.uncorrected->RecordN(latency_us / 2, requests);
  OperationResult named = op;
  named.name = "submit";
  r.operations.push_back(named);
  return r;
}

std::vector<GateResult> Evaluate(const std::vector<std::string>& expressions, const RunResult& r) {
  std::vector<Gate> gates;
  for (const auto& e : expressions) gates.push_back(*ParseGate(e, ""));
  return *EvaluateGates(gates, r);
}

TEST(Gates, LatencyGateComparesCorrectedPercentile) {
  const auto results = Evaluate({"p99 < 20ms", "p99 < 10ms", "uncorrected_p99 < 10ms"},
                                ResultWith(1000, 0, 15'000, 100, 100));
  EXPECT_TRUE(results[0].passed);
  EXPECT_FALSE(results[1].passed);
  EXPECT_TRUE(results[2].passed);
  EXPECT_EQ(results[1].message, "p99 = 15.01ms, limit < 10ms");
  EXPECT_DOUBLE_EQ(results[1].limit, 10'000);
}

TEST(Gates, RatioAndRateGates) {
  const auto results = Evaluate({"error_ratio < 0.1%", "error_ratio <= 1%", "rate_ratio >= 99%",
                                 "rate >= 95", "requests > 999"},
                                ResultWith(1000, 5, 100, 98, 100));
  EXPECT_FALSE(results[0].passed);
  EXPECT_EQ(results[0].message, "error_ratio = 0.5%, limit < 0.1%");
  EXPECT_TRUE(results[1].passed);
  EXPECT_FALSE(results[2].passed);
  EXPECT_TRUE(results[3].passed);
  EXPECT_TRUE(results[4].passed);
}

TEST(Gates, LatencyGateFailsWhenNothingWasMeasured) {
  const auto results = Evaluate({"p99 < 20ms"}, ResultWith(0, 0, 1, 0, 100));
  EXPECT_FALSE(results[0].passed);
  EXPECT_NE(results[0].message.find("nothing measured"), std::string::npos);
}

TEST(Gates, PerOperationGatesAndUnknownOperations) {
  const RunResult r = ResultWith(10, 0, 100, 1, 1);
  auto ok = EvaluateGates({*ParseGate("p50 < 1ms", "submit")}, r);
  ASSERT_TRUE(ok.ok());
  EXPECT_TRUE((*ok)[0].passed);
  EXPECT_FALSE(EvaluateGates({*ParseGate("p50 < 1ms", "nope")}, r).ok());
}

TEST(Gates, BadExpressionsAreRejectedWithAReason) {
  EXPECT_EQ(ParseGate("p99 20ms", "").status().message(),
            "gate 'p99 20ms': expected METRIC OP VALUE, e.g. 'p99 < 20ms'");
  EXPECT_EQ(ParseGate("p99 ~ 20ms", "").status().message(),
            "gate 'p99 ~ 20ms': unknown comparison '~' (use <, <=, >, >=)");
  EXPECT_FALSE(ParseGate("p99 < fast", "").ok());
  EXPECT_FALSE(ParseGate("happiness > 1", "").ok());
  EXPECT_FALSE(ParseGate("p101 < 1ms", "").ok());
}

}  // namespace
}  // namespace aurigraph::loadgen
