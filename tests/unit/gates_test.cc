#include "loadgen/gates/gates.h"

#include <gtest/gtest.h>

#include "loadgen/histogram/latency.h"

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

TEST(Gates, CountGatesOverNothingMeasuredFail) {
  // A run whose warm-up took all of it: zero errors of zero requests is no pass.
  const auto results = Evaluate({"error_ratio < 1%", "rate_ratio >= 0%", "requests < 10"},
                                ResultWith(0, 0, 1, 0, 100));
  for (const GateResult& r : results) {
    EXPECT_FALSE(r.passed) << r.expression;
    EXPECT_NE(r.message.find("(nothing measured)"), std::string::npos) << r.message;
  }
}

TEST(Gates, ARatioWithoutAUnitIsRefusedAsAmbiguous) {
  // "< 1" is 1% to some readers and 100% to others.
  EXPECT_EQ(ParseGate("error_ratio < 1", "").status().message(),
            "gate 'error_ratio < 1': ratio '1' has no unit: write it as a percentage, e.g. 1% or "
            "100%");
  EXPECT_FALSE(ParseGate("rate_ratio >= 0.99", "").ok());
  EXPECT_DOUBLE_EQ(ParseGate("error_ratio < 1%", "")->limit, 0.01);
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
            "gate 'p99 ~ 20ms': unknown comparison '~' (use <, <=, >, >=, ==)");
  EXPECT_FALSE(ParseGate("p99 < fast", "").ok());
  EXPECT_FALSE(ParseGate("happiness > 1", "").ok());
  EXPECT_FALSE(ParseGate("p101 < 1ms", "").ok());
}

}  // namespace
}  // namespace aurigraph::loadgen

namespace aurigraph::loadgen {
namespace {

TEST(Gates, StreamAndMemoryMetrics) {
  RunResult r = ResultWith(10, 0, 1'000, 1, 0);
  auto stream = std::make_shared<StreamResult>();
  stream->received_rate = 60'000;
  stream->min_open_streams = 999;
  auto phase = std::make_shared<Histogram>(MakeLatencyHistogram());
  phase->RecordN(50'000, 10);
  stream->histograms["phase"] = phase;
  r.operations[0].stream = stream;
  r.resources.loadgen_peak_rss_bytes = 100 << 20;
  std::vector<Gate> gates;
  for (const char* e : {"received_rate >= 50000", "min_open_streams >= 1000", "phase_p99 < 40ms",
                        "first_message_p99 < 1s"}) {
    gates.push_back(*ParseGate(e, "submit"));
  }
  gates.push_back(*ParseGate("loadgen_peak_rss < 1GB", ""));
  gates.push_back(*ParseGate("server_peak_rss < 1GB", ""));
  const auto results = *EvaluateGates(gates, r);
  EXPECT_TRUE(results[0].passed);
  EXPECT_FALSE(results[1].passed);
  EXPECT_FALSE(results[2].passed);
  EXPECT_EQ(results[2].message, "phase_p99[submit] = 50.02ms, limit < 40ms");
  EXPECT_FALSE(results[3].passed);  // no such histogram: nothing measured is never a pass
  EXPECT_TRUE(results[4].passed);
  EXPECT_EQ(results[4].message, "loadgen_peak_rss = 100 MiB, limit < 953.7 MiB");
  EXPECT_FALSE(results[5].passed);  // the server did not report its memory
  EXPECT_NE(results[5].message.find("not measured"), std::string::npos);
  // A stream metric on a unary operation is an error, not a silent pass.
  EXPECT_FALSE(EvaluateGates({*ParseGate("received_rate > 1", "")}, r).ok());
}

// A bidi stream's replies carry their own status: 2 refusals in 1,000 replies
// fail an error gate of 0.1% on the messages, while its streams all closed OK.
TEST(Gates, MessageErrorRatioIsOfTheMessagesThatCarriedAStatus) {
  RunResult r = ResultWith(8, 0, 1'000, 1, 0);
  auto stream = std::make_shared<StreamResult>();
  stream->message_codes = {{"OK", 998}, {"INVALID_ARGUMENT", 2}};
  r.operations[0].stream = stream;
  const auto results = *EvaluateGates({*ParseGate("message_error_ratio < 0.1%", "submit"),
                                       *ParseGate("message_error_ratio < 0.5%", "submit"),
                                       *ParseGate("error_ratio < 0.1%", "submit")},
                                      r);
  EXPECT_FALSE(results[0].passed);
  EXPECT_EQ(results[0].message, "message_error_ratio[submit] = 0.2%, limit < 0.1%");
  EXPECT_TRUE(results[1].passed);
  EXPECT_TRUE(results[2].passed);  // of the streams
  stream->message_codes.clear();
  const auto none = *EvaluateGates({*ParseGate("message_error_ratio < 0.1%", "submit")}, r);
  EXPECT_FALSE(none[0].passed);  // nothing measured is never a pass
  EXPECT_NE(none[0].message.find("no message with a status"), std::string::npos);
  EXPECT_FALSE(
      EvaluateGates({*ParseGate("message_error_ratio < 1%", "")}, ResultWith(1, 0, 1, 1, 0)).ok());
}

TEST(Gates, WebhookMetrics) {
  const std::vector<std::string> gates = {"webhook_p99 < 20ms", "webhook_missing <= 0",
                                          "webhook_invalid_signatures <= 0", "webhook_rate >= 900"};
  RunResult without = ResultWith(100, 0, 1000, 100, 100);
  for (const auto& r : Evaluate(gates, without)) {
    EXPECT_FALSE(r.passed) << r.expression;  // nothing measured is never a pass
    EXPECT_NE(r.message.find("(no webhook_sink in the scenario)"), std::string::npos) << r.message;
  }
  RunResult with = without;
  with.webhooks = std::make_shared<WebhookResult>();
  with.webhooks->latency->RecordN(15'000, 99);
  with.webhooks->latency->RecordN(30'000, 1);
  with.webhooks->missing = 0;
  with.webhooks->malformed_bodies = 1;
  with.webhooks->delivery_rate = 1000;
  const auto results = Evaluate(gates, with);
  EXPECT_TRUE(results[0].passed) << results[0].message;
  EXPECT_TRUE(results[1].passed) << results[1].message;
  EXPECT_FALSE(results[2].passed) << results[2].message;  // a malformed body counts as unsigned
  EXPECT_TRUE(results[3].passed) << results[3].message;
  with.webhooks->error = "GetDeliveryHistory: UNAVAILABLE";
  EXPECT_NE(Evaluate({"webhook_missing <= 0"}, with)[0].message.find("UNAVAILABLE"),
            std::string::npos);
}

}  // namespace
}  // namespace aurigraph::loadgen
