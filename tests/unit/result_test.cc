#include <gtest/gtest.h>

#include <climits>
#include <filesystem>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <tuple>

#include "absl/strings/escaping.h"
#include "loadgen/histogram/histogram_codec.h"
#include "loadgen/histogram/histogram_wire.h"
#include "loadgen/histogram/latency.h"
#include "loadgen/result/load_results.h"
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
  for (int i = 1; i <= 498; ++i) {
    op.corrected->Record(i * 10);
    op.uncorrected->Record(i * 5);
  }
  // Failed calls are timed apart (a fast UNAVAILABLE and a slow one).
  op.failed["UNAVAILABLE"] = std::make_shared<Histogram>(MakeLatencyHistogram());
  op.failed["UNAVAILABLE"]->Record(40);
  op.failed["UNAVAILABLE"]->Record(9'000);
  op.requests = 500;
  op.ok = 498;
  op.status_codes = {{"OK", 498}, {"UNAVAILABLE", 2}};
  op.error_messages["UNAVAILABLE"] = CodeMessages{{MessageCount{"injected fault", 1}}, 1};
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
  r.timeline.interval_seconds = 1;
  for (int i = 0; i < 5; ++i) {
    TimelinePoint point;
    point.offset_seconds = i;
    point.seconds = 1;
    point.warmup = i == 0;
    point.sent = 100;
    point.schedule_lag_p99_us = 40 + i;
    point.schedule_lag_max_us = 90 + i;
    TimelineOperation o;
    o.count = 100;
    o.errors = i == 3 ? 2 : 0;
    o.codes = {{"OK", 100 - o.errors}};
    if (o.errors > 0) o.codes["UNAVAILABLE"] = o.errors;
    o.timed = 100;
    o.p50 = 2500;
    o.p90 = 4500;
    o.p99 = 4950;
    o.p99_9 = 5003;
    o.max = 5003;
    point.operations.push_back(o);
    r.timeline.points.push_back(point);
  }
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
  EXPECT_EQ(op["latency_us"]["corrected"]["p50"], 2491);
  EXPECT_EQ(op["latency_us"]["corrected"]["count"], 498);
  EXPECT_EQ(op["latency_us"]["corrected"]["max"], 4983);
  EXPECT_EQ(op["failed_latency_us"]["UNAVAILABLE"]["count"], 2);
  EXPECT_EQ(op["failed_latency_us"]["UNAVAILABLE"]["min"], 40);
  EXPECT_EQ(op["histograms"]["failed"]["UNAVAILABLE"].get<std::string>().rfind("HISTF", 0), 0u);
  EXPECT_EQ(op["error_messages"]["UNAVAILABLE"]["messages"][0]["message"], "injected fault");
  EXPECT_EQ(op["error_messages"]["UNAVAILABLE"]["messages"][0]["count"], 1);
  EXPECT_EQ(op["error_messages"]["UNAVAILABLE"]["other"], 1);
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

TEST(RunResult, TimelineRoundTripsAndIsChecked) {
  const RunResult original = Sample();
  const auto j = nlohmann::json::parse(ResultToJson(original));
  EXPECT_EQ(j["timeline"]["interval_seconds"], 1);
  EXPECT_EQ(j["timeline"]["points"].size(), 5u);
  EXPECT_EQ(j["timeline"]["points"][3]["operations"][0]["codes"]["UNAVAILABLE"], 2);
  auto read = ResultFromJson(j.dump(), "r.json");
  ASSERT_TRUE(read.ok()) << read.status();
  ASSERT_EQ(read->timeline.points.size(), 5u);
  EXPECT_TRUE(read->timeline.points[0].warmup);
  EXPECT_EQ(read->timeline.points[4].schedule_lag_max_us, 94);
  EXPECT_EQ(read->timeline.points[3].operations[0].errors, 2);
  // A point whose operations do not line up with the result's is corrupt.
  auto broken = j;
  broken["timeline"]["points"][2]["operations"].push_back(
      broken["timeline"]["points"][2]["operations"][0]);
  EXPECT_EQ(ResultFromJson(broken.dump(), "r.json").status().message(),
            "r.json: timeline.points[2] has 2 operations, the result has 1");
}

TEST(RunResult, SchemaVersion2WithoutATimelineIsStillRead) {
  auto j = nlohmann::json::parse(ResultToJson(Sample()));
  j["schema_version"] = 2;
  j.erase("timeline");
  // Before schema 4 the latency histogram held every completed call.
  for (auto* op : {&j["operations"][0], &j["total"]}) {
    (*op)["requests"] = 498;
    (*op)["status_codes"] = {{"OK", 498}};
    (*op)["histograms"].erase("failed");
    op->erase("error_messages");
  }
  auto read = ResultFromJson(j.dump(), "old.json");
  ASSERT_TRUE(read.ok()) << read.status();
  EXPECT_EQ(read->schema_version, 2);
  EXPECT_TRUE(read->timeline.points.empty());
  EXPECT_EQ(read->operations[0].requests, 498);
  // Where it was the number of requests, the histogram must hold them all.
  j["operations"][0]["requests"] = 500;
  EXPECT_EQ(ResultFromJson(j.dump(), "old.json").status().message(),
            "old.json: operations[0]: histogram holds 498 values but requests is 500");
}

TEST(RunResult, FieldsOfAnotherTypeAreCorruptionNotACrash) {
  const std::string text = ResultToJson(Sample());
  const std::string foreign =
      "r.json: not an aurigraph-loadgen result (schema is not 'aurigraph-loadbench/result')";
  auto j = nlohmann::json::parse(text);
  j["schema"] = -1;  // json::value() threw type_error 302 on this
  EXPECT_EQ(ResultFromJson(j.dump(), "r.json").status().message(), foreign);
  EXPECT_EQ(ResultFromJson("[1, 2]", "r.json").status().message(), foreign);
  for (const nlohmann::json& version :
       {nlohmann::json("3"), nlohmann::json(3.5), nlohmann::json(1e300), nlohmann::json::array()}) {
    j = nlohmann::json::parse(text);
    j["schema_version"] = version;
    EXPECT_EQ(ResultFromJson(j.dump(), "r.json").status().message(),
              "r.json: schema_version is not an integer");
  }
  // A float read as an integer: beyond int64_t, nlohmann's conversion is undefined.
  j = nlohmann::json::parse(text);
  j["generator"]["sent"] = 1.8e80;
  EXPECT_EQ(ResultFromJson(j.dump(), "r.json").status().message(),
            "r.json: number 1.8e+80 out of range");
}

TEST(RunResult, AHostileHistogramIsNamed) {
  // Zero runs adding up to 2^32 - 1, then a count: it once wrote before the counts array.
  std::string payload;
  for (int i = 0; i < 255; ++i) v2::PutZigZag(&payload, -(int64_t{1} << 24));
  v2::PutZigZag(&payload, -((int64_t{1} << 24) - 1));
  v2::PutZigZag(&payload, 500);
  std::string raw;
  v2::PutHeader(&raw, static_cast<uint32_t>(payload.size()), 3, 1, 3'600'000'000LL);
  auto j = nlohmann::json::parse(ResultToJson(Sample()));
  j["operations"][0]["histograms"]["corrected"] = absl::Base64Escape(v2::Compress(raw + payload));
  EXPECT_EQ(ResultFromJson(j.dump(), "r.json").status().message(),
            "r.json: operations[0].histograms.corrected: histogram zero run goes beyond its "
            "configured range");
}

TEST(RunResult, CountsThatOverflowAreCorruption) {
  // requests - ok and the sum of the failed-call histograms once overflowed (undefined).
  auto j = nlohmann::json::parse(ResultToJson(Sample()));
  j["operations"][0]["requests"] = INT64_MIN;
  EXPECT_EQ(ResultFromJson(j.dump(), "r.json").status().message(),
            "r.json: operations[0]: requests out of range");
  Histogram full = MakeLatencyHistogram();
  full.RecordN(5, INT64_MAX);
  j = nlohmann::json::parse(ResultToJson(Sample()));
  for (const char* code : {"INTERNAL", "UNAVAILABLE"}) {
    j["operations"][0]["status_codes"][code] = INT64_MAX;
    j["operations"][0]["histograms"]["failed"][code] = EncodeBase64(full);
  }
  EXPECT_EQ(ResultFromJson(j.dump(), "r.json").status().message(),
            "r.json: operations[0].histograms.failed: counts overflow");
}

TEST(RunResult, ErrorMessagesAreCheckedAgainstTheStatusCodes) {
  const auto j = nlohmann::json::parse(ResultToJson(Sample()));
  const auto read_with = [&](const std::function<void(nlohmann::json&)>& change) {
    nlohmann::json changed = j;
    change(changed["operations"][0]["error_messages"]);
    auto r = ResultFromJson(changed.dump(), "r.json");
    return r.ok() ? std::string("ok") : std::string(r.status().message());
  };
  const std::string at = "r.json: operations[0].error_messages.";
  EXPECT_EQ(read_with([](nlohmann::json& m) { m["UNAVAILABLE"]["other"] = 0; }),
            at + "UNAVAILABLE: the messages' counts do not add up to the 2 calls with that "
                 "status code");
  EXPECT_EQ(read_with([](nlohmann::json& m) { m["UNAVAILABLE"]["other"] = -1; }),
            at + "UNAVAILABLE: the messages' counts do not add up to the 2 calls with that "
                 "status code");
  EXPECT_EQ(read_with([](nlohmann::json& m) { m["INTERNAL"] = m["UNAVAILABLE"]; }),
            at + "INTERNAL: no failed calls with that status code");
  EXPECT_EQ(
      read_with([](nlohmann::json& m) {
        for (int i = 0; i < 10; ++i) {
          m["UNAVAILABLE"]["messages"].push_back({{"message", std::to_string(i)}, {"count", 0}});
        }
      }),
      at + "UNAVAILABLE.messages: not a list of at most 10 messages");
  for (const std::string& message :
       {std::string("two\nlines"), std::string(201, 'a'), std::string("injected fault")}) {
    EXPECT_EQ(read_with([&](nlohmann::json& m) {
                m["UNAVAILABLE"]["messages"].push_back({{"message", message}, {"count", 1}});
                m["UNAVAILABLE"]["other"] = 0;
              }),
              at + "UNAVAILABLE.messages: a message longer than 200 bytes, with control "
                   "characters, or listed twice");
  }
  // Results written before messages were kept have none, and are read.
  nlohmann::json older = j;
  older["operations"][0].erase("error_messages");
  auto read = ResultFromJson(older.dump(), "r.json");
  ASSERT_TRUE(read.ok()) << read.status();
  EXPECT_TRUE(read->operations[0].error_messages.empty());
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
            "r.json: unsupported schema_version 99 (this tool reads 2 to 4)");
  // Failed-call histograms must hold exactly the failures of their code.
  j = nlohmann::json::parse(text);
  j["operations"][0]["status_codes"]["UNAVAILABLE"] = 3;
  j["operations"][0]["requests"] = 501;
  EXPECT_EQ(ResultFromJson(j.dump(), "r.json").status().message(),
            "r.json: operations[0].histograms.failed.UNAVAILABLE holds 2 values, not the count of "
            "that status code");
  j = nlohmann::json::parse(text);
  j["operations"][0]["histograms"].erase("failed");
  EXPECT_EQ(ResultFromJson(j.dump(), "r.json").status().message(),
            "r.json: operations[0]: failed-call histograms hold 0 values but errors is 2");
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

TEST(LoadResults, FilesListsAndDirectoriesInNameOrder) {
  const std::filesystem::path dir =
      std::filesystem::temp_directory_path() / ("load-results-" + std::to_string(getpid()));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir / "runs" / "b");
  RunResult r = Sample();
  for (const auto& name : {"runs/b/2.json", "runs/1.json", "single.json"}) {
    r.scenario_name = name;
    ASSERT_TRUE(WriteResultFile(r, (dir / name).string()).ok());
  }
  std::ofstream(dir / "runs" / "notes.txt") << "not a result";
  auto loaded = LoadResults((dir / "runs").string() + "," + (dir / "single.json").string());
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  ASSERT_EQ(loaded->size(), 3u);
  EXPECT_EQ((*loaded)[0].result.scenario_name, "runs/1.json");
  EXPECT_EQ((*loaded)[1].result.scenario_name, "runs/b/2.json");
  EXPECT_EQ((*loaded)[2].source, (dir / "single.json").string());
  // Errors name what is wrong: an empty directory, a missing file, nothing at all.
  std::filesystem::create_directories(dir / "empty");
  EXPECT_EQ(LoadResults((dir / "empty").string()).status().message(),
            (dir / "empty").string() + ": no result files (or interval logs) in directory");
  EXPECT_FALSE(LoadResults((dir / "absent.json").string()).ok());
  EXPECT_EQ(LoadResults(",").status().message(), "no result file given");
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace aurigraph::loadgen

namespace aurigraph::loadgen {
namespace {

// 100/s for 2 s, a ramp to 300/s over 4 s, a pause of 2 s.
const std::vector<ProfileCorner> kCorners = {{0, 100}, {2, 100}, {2, 100},
                                             {6, 300}, {6, 0},   {8, 0}};

TEST(LoadProfile, MeansOverAnyWindowOfTheCorners) {
  EXPECT_DOUBLE_EQ(LoadProfileMean(kCorners, 0, 2), 100);
  EXPECT_DOUBLE_EQ(LoadProfileMean(kCorners, 2, 6), 200);
  EXPECT_DOUBLE_EQ(LoadProfileMean(kCorners, 1, 3), 112.5);  // half at 100, half 100..150
  EXPECT_DOUBLE_EQ(LoadProfileMean(kCorners, 5, 7), 137.5);  // 250..300, then paused
  EXPECT_DOUBLE_EQ(LoadProfileMean(kCorners, 0, 8), 125);
  EXPECT_DOUBLE_EQ(LoadProfileMean(kCorners, 1, 9), 900.0 / 8);  // nothing due after the end
  EXPECT_DOUBLE_EQ(LoadProfileMean({}, 0, 1), 0);
  EXPECT_EQ(DescribeLoadProfile(kCorners, "/s"), "100/s for 2s, ramp to 300/s over 4s, 0/s for 2s");
  std::vector<ProfileCorner> long_profile;
  for (int i = 0; i < 100; ++i) {
    long_profile.push_back({i * 0.01, i % 2 == 0 ? 1000.0 : 0.0});
    long_profile.push_back({(i + 1) * 0.01, i % 2 == 0 ? 1000.0 : 0.0});
  }
  EXPECT_EQ(DescribeLoadProfile(long_profile, "/s"), "100 segments over 1s between 0/s and 1000/s");
}

TEST(WireTotalsJson, RoundTripsAddsUpAndRefusesWhatIsNotACount) {
  WireTotals http{3, 900, 300, 3, 600, 240, {{201, 2}, {429, 1}}};
  auto read = WireTotalsFromJson(WireTotalsToJson(http));
  ASSERT_TRUE(read.ok()) << read.status();
  const auto fields = [](const WireTotals& w) {
    return std::tie(w.requests, w.request_bytes, w.request_payload_bytes, w.responses,
                    w.response_bytes, w.response_payload_bytes, w.by_status);
  };
  EXPECT_EQ(fields(*read), fields(http));
  // gRPC's: payloads only, whole bytes not seen (-1), which a sum keeps.
  const WireTotals grpc{2, -1, 80, 2, -1, 40, {}};
  ASSERT_TRUE(WireTotalsFromJson(WireTotalsToJson(grpc)).ok());
  WireTotals sum = http;
  AddWireTotals(grpc, sum);
  const WireTotals expected{5, -1, 380, 5, -1, 280, {{201, 2}, {429, 1}}};
  EXPECT_EQ(fields(sum), fields(expected));
  EXPECT_EQ(WireTotalsFromJson(R"({"requests":-1})").status().message(), "requests is not a count");
  EXPECT_EQ(
      WireTotalsFromJson(
          R"({"requests":1,"request_bytes":-2,"request_payload_bytes":1,"responses":1,"response_bytes":1,"response_payload_bytes":1,"by_status":{}})")
          .status()
          .message(),
      "request_bytes is not a count");
  EXPECT_EQ(
      WireTotalsFromJson(
          R"({"requests":1,"request_bytes":1,"request_payload_bytes":1,"responses":1,"response_bytes":1,"response_payload_bytes":1,"by_status":{"200":"x"}})")
          .status()
          .message(),
      "by_status.200 is not a count");
  EXPECT_EQ(
      WireTotalsFromJson(
          R"({"requests":1,"request_bytes":1,"request_payload_bytes":1,"responses":1,"response_bytes":1,"response_payload_bytes":1,"by_status":{"OK":1}})")
          .status()
          .message(),
      "by_status.OK is not a status");
  EXPECT_FALSE(WireTotalsFromJson("[").ok());
}

}  // namespace
}  // namespace aurigraph::loadgen
