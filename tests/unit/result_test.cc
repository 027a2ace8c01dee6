#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "loadgen/recorder/operation_stats.h"
#include "loadgen/result/run_result.h"

namespace aurigraph::loadgen {
namespace {

RunResult Sample() {
  RunResult r;
  r.tool_version = "0.1.0";
  r.host = "h";
  r.scenario_name = "s";
  r.scenario_json = R"({"name":"s"})";
  r.target = "127.0.0.1:1";
  r.load_model = "open";
  r.target_rate = 100;
  r.start_unix_nanos = 1'700'000'000'000'000'000;
  r.end_unix_nanos = r.start_unix_nanos + 5'000'000'000;
  r.measured_seconds = 5;
  OperationResult op;
  op.name = "submit";
  op.rpc = "a.B/C";
  op.corrected = std::make_shared<Histogram>(MakeLatencyHistogram());
  op.uncorrected = std::make_shared<Histogram>(MakeLatencyHistogram());
  for (int i = 1; i <= 500; ++i) {
    op.corrected->Record(i * 10);
    op.uncorrected->Record(i * 5);
  }
  op.requests = 500;
  op.ok = 498;
  op.status_codes = {{"OK", 498}, {"UNAVAILABLE", 2}};
  op.achieved_rate = 100;
  op.target_rate = 100;
  r.operations.push_back(op);
  r.total = op;
  r.total.name = "total";
  r.generator.schedule_lag = std::make_shared<Histogram>(MakeLatencyHistogram());
  r.generator.generator_lag = std::make_shared<Histogram>(MakeLatencyHistogram());
  r.generator.sent = 500;
  r.gates.push_back(
      GateResult{"p99 < 20ms", "", "p99", "us", 4950, 20000, true, "p99 = 4.95ms, limit < 20ms"});
  return r;
}

TEST(RunResult, JsonHasTheDocumentedFields) {
  const auto j = nlohmann::json::parse(ResultToJson(Sample()));
  EXPECT_EQ(j["schema"], "aurigraph-loadbench/result");
  EXPECT_EQ(j["schema_version"], kResultSchemaVersion);
  EXPECT_EQ(j["verdict"], "pass");
  const auto& op = j["operations"][0];
  EXPECT_EQ(op["rpc"], "a.B/C");
  EXPECT_EQ(op["requests"], 500);
  EXPECT_EQ(op["status_codes"]["UNAVAILABLE"], 2);
  // Values are reported as the highest value of their bucket (3 significant digits).
  EXPECT_EQ(op["latency_us"]["corrected"]["p50"], 2501);
  EXPECT_EQ(op["latency_us"]["corrected"]["max"], 5003);
  for (const char* key : {"p50", "p90", "p99", "p99_9", "p99_99", "max"}) {
    EXPECT_TRUE(op["latency_us"]["uncorrected"].contains(key)) << key;
  }
  EXPECT_EQ(op["histograms"]["corrected"].get<std::string>().rfind("HISTF", 0), 0u);
  EXPECT_EQ(j["start_time"], "2023-11-14T22:13:20.000Z");
}

TEST(RunResult, RoundTripsThroughJson) {
  const RunResult original = Sample();
  auto read = ResultFromJson(ResultToJson(original), "r.json");
  ASSERT_TRUE(read.ok()) << read.status();
  EXPECT_EQ(ResultToJson(*read), ResultToJson(original));
}

TEST(RunResult, CorruptOrForeignFilesAreRejectedByName) {
  const std::string text = ResultToJson(Sample());
  EXPECT_EQ(ResultFromJson(text.substr(0, text.size() / 2), "r.json").status().message(),
            "r.json: not valid JSON (truncated or corrupt result file)");
  EXPECT_EQ(ResultFromJson(R"({"hello": 1})", "r.json").status().message(),
            "r.json: not an aurigraph-loadgen result (schema is not 'aurigraph-loadbench/result')");
  auto j = nlohmann::json::parse(text);
  j["schema_version"] = 99;
  EXPECT_EQ(ResultFromJson(j.dump(), "r.json").status().message(),
            "r.json: unsupported schema_version 99 (this tool reads 2 to 3)");
  j = nlohmann::json::parse(text);
  j["operations"][0]["histograms"]["corrected"] = "HISTFAAAAbogus";
  EXPECT_NE(std::string(ResultFromJson(j.dump(), "r.json").status().message())
                .find("r.json: operations[0].histograms.corrected"),
            std::string::npos);
  j = nlohmann::json::parse(text);
  j["operations"][0].erase("requests");
  EXPECT_NE(std::string(ResultFromJson(j.dump(), "r.json").status().message())
                .find("r.json: wrong schema"),
            std::string::npos);
}

}  // namespace
}  // namespace aurigraph::loadgen
