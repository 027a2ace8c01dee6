// Interval logs written and recovered: the standard histogram log format, a
// log cut off by a kill, hostile logs, and a recovered result equal to the
// live one.
#include "loadgen/intervallog/interval_log.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "loadgen/histogram/histogram_codec.h"
#include "loadgen/histogram/histogram_wire.h"

namespace aurigraph::loadgen {
namespace {

// The scenario the logged run ran: recovery checks its gates again.
constexpr const char* kScenario =
    R"({"name":"s","target":"127.0.0.1:1","duration":"60s","load":{"model":"open","rate":100},)"
    R"("operations":[{"name":"get","rpc":"aurigraph.approval.v1.ApprovalService/CheckHealth"}],)"
    R"("gates":["p99 < 20ms",{"gate":"rate >= 1","operation":"get"}]})";

class IntervalLogTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("interval-log-" + std::to_string(::testing::UnitTest::GetInstance()->random_seed()) +
            "-" + ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  // Writes `intervals` intervals of two operations (the second a stream) with warm-up first.
  void WriteRun(int intervals) {
    auto writer = IntervalLogWriter::Create(dir_.string());
    ASSERT_TRUE(writer.ok()) << writer.status();
    RunDescription run;
    run.tool_version = "0.1.0";
    run.host = "h";
    run.scenario_name = "s";
    run.scenario_json = kScenario;
    run.target = "127.0.0.1:1";
    run.load_model = "open";
    run.target_rate = 100;
    run.start_unix_nanos = 1'700'000'000'000'000'000;
    run.interval_nanos = 1'000'000'000;
    run.duration_nanos = 60'000'000'000;
    run.warmup_nanos = 1'000'000'000;
    run.max_generator_lag_p99_us = 10'000;
    run.operations = {{"get", "a.S/Get", "unary", 100},
                      {"watch,\nall", "a.S/Watch", "server_streaming", 0, 3}};
    (*writer)->OnRunStart(run);
    for (int i = 0; i < intervals; ++i) {
      IntervalSlice slice(2);
      slice.index = i;
      for (int n = 0; n < 100; ++n) {
        slice.operations[0].Record(n < 99 ? 1000 + 10 * i : 50 + i, 900, n < 99 ? 0 : 14,
                                   "injected fault");
      }
      slice.operations[1].count = 50;
      for (int n = 0; n < 50; ++n) slice.operations[1].latency.Record(300);
      StreamStats& streams = slice.operations[1].streams();
      streams.messages_received = 50;
      streams.measured_received = i == 0 ? 0 : 50;
      streams.streams_opened = i == 0 ? 3 : 0;
      streams.min_open_streams = 3;
      streams.max_open_streams = 3;
      if (i == 2) {  // the server ends a stream
        streams.streams_ended_early = 1;
        streams.close_codes[14] = 1;
        streams.close_messages.Record(14, "stream reset by the server");
      }
      slice.sent = 100;
      for (int n = 0; n < 100; ++n) slice.schedule_lag.Record(20);
      TimelinePoint point;
      point.offset_seconds = i;
      point.seconds = 1;
      point.warmup = i == 0;
      point.sent = 100;
      point.loadgen_rss_bytes = 50'000'000;
      point.operations.resize(2);
      point.operations[0].count = 100;
      point.operations[0].errors = 1;
      point.operations[0].codes = {{"OK", 99}, {"UNAVAILABLE", 1}};
      point.operations[0].timed = 99;
      point.operations[1].count = 50;
      point.operations[1].timed = 50;
      (*writer)->OnInterval(slice, point);
    }
  }

  std::filesystem::path dir_;
};

TEST_F(IntervalLogTest, AHistogramLogInTheStandardFormat) {
  WriteRun(3);
  std::ifstream in(dir_ / kHistogramLogName);
  std::stringstream text;
  text << in.rdbuf();
  const std::string log = text.str();
  EXPECT_EQ(log.rfind("#[Histogram log format version 1.3]\n#[StartTime: 1700000000.000 (seconds "
                      "since epoch), 2023-11-14T22:13:20.000Z]\n",
                      0),
            0u)
      << log;
  EXPECT_NE(log.find("\"StartTimestamp\",\"Interval_Length\",\"Interval_Max\","
                     "\"Interval_Compressed_Histogram\"\n"),
            std::string::npos);
  // A tag per operation (commas, spaces and line breaks replaced) and the generator's lag.
  EXPECT_NE(log.find("\nTag=get,2.000,1.000,1.020,HISTF"), std::string::npos) << log;
  EXPECT_NE(log.find("\nTag=watch__all,0.000,1.000,0.300,HISTF"), std::string::npos);
  EXPECT_NE(log.find("\nTag=schedule_lag,1.000,1.000,0.020,HISTF"), std::string::npos);
}

TEST_F(IntervalLogTest, RecoveryRebuildsTheRunAndItsGates) {
  WriteRun(5);
  auto r = RecoverRun(dir_.string());
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->recovered_from, (dir_ / kIntervalsLogName).string());
  ASSERT_EQ(r->operations.size(), 2u);
  const OperationResult& get = r->operations[0];
  EXPECT_EQ(get.requests, 400);  // the warm-up interval is left out
  EXPECT_EQ(get.status_codes.at("UNAVAILABLE"), 4);
  EXPECT_EQ(get.corrected->TotalCount(), 396);
  EXPECT_EQ(get.corrected->Max(), 1040);
  // The failed calls' latency comes back apart, by code, as the live run keeps it.
  ASSERT_EQ(get.failed.count("UNAVAILABLE"), 1u);
  EXPECT_EQ(get.failed.at("UNAVAILABLE")->TotalCount(), 4);
  EXPECT_EQ(get.failed.at("UNAVAILABLE")->Min(), 51);
  EXPECT_EQ(r->total.failed.at("UNAVAILABLE")->TotalCount(), 4);
  // ... and their status messages, counted over the measured intervals.
  ASSERT_EQ(get.error_messages.count("UNAVAILABLE"), 1u);
  const CodeMessages& unavailable = get.error_messages.at("UNAVAILABLE");
  ASSERT_EQ(unavailable.messages.size(), 1u);
  EXPECT_EQ(unavailable.messages[0].message, "injected fault");
  EXPECT_EQ(unavailable.messages[0].count, 4);
  EXPECT_EQ(unavailable.other, 0);
  EXPECT_EQ(r->total.error_messages.at("UNAVAILABLE").messages[0].count, 4);
  // A stream's: of the stream the server ended.
  ASSERT_EQ(r->operations[1].error_messages.count("UNAVAILABLE"), 1u);
  EXPECT_EQ(r->operations[1].error_messages.at("UNAVAILABLE").messages[0].message,
            "stream reset by the server");
  // ... and the recovered result is a valid result file.
  EXPECT_TRUE(ResultFromJson(ResultToJson(*r), "recovered").ok());
  EXPECT_DOUBLE_EQ(get.achieved_rate, 100);
  // The stream side comes back whole: the whole run's counts, the measured ones, the bounds.
  const StreamResult& watch = *r->operations[1].stream;
  EXPECT_EQ(watch.messages_received, 250);
  EXPECT_EQ(watch.measured_received, 200);
  EXPECT_DOUBLE_EQ(watch.received_rate, 50);
  EXPECT_EQ(watch.streams_opened, 3);
  EXPECT_EQ(watch.streams_target, 3);
  EXPECT_EQ(watch.min_open_streams, 3);
  EXPECT_EQ(r->operations[1].corrected->TotalCount(), 200);
  EXPECT_EQ(r->timeline.points.size(), 5u);
  // The generator sent every request, warm-up included; it is judged, as live,
  // on the lag of the measured ones.
  EXPECT_EQ(r->generator.sent, 500);
  EXPECT_EQ(r->generator.schedule_lag->TotalCount(), 400);
  EXPECT_EQ(r->generator.max_generator_lag_p99_us, 10'000);
  // Killed: what only the end knows stays unknown.
  EXPECT_EQ(r->generator.cpu_seconds, -1);
  EXPECT_EQ(r->resources.loadgen_peak_rss_bytes, -1);
  ASSERT_EQ(r->gates.size(), 2u);
  EXPECT_TRUE(r->gates[0].passed);
  EXPECT_EQ(r->gates[1].operation, "get");
}

TEST_F(IntervalLogTest, ALogWrittenBeforeStatusMessagesWereKeptIsRead) {
  WriteRun(3);
  const auto path = dir_ / kIntervalsLogName;
  std::stringstream text;
  text << std::ifstream(path).rdbuf();
  std::string older = text.str();
  for (const std::string field : {R"(,"close_messages":)", R"(,"error_messages":)"}) {
    for (size_t at = older.find(field); at != std::string::npos; at = older.find(field, at)) {
      // The field's value is an object or array up to the matching bracket.
      size_t end = at + field.size(), depth = 0;
      do {
        depth += older[end] == '{' || older[end] == '[';
        depth -= older[end] == '}' || older[end] == ']';
        ++end;
      } while (depth > 0);
      older.erase(at, end - at);
    }
  }
  ASSERT_EQ(older.find("injected fault"), std::string::npos);
  std::ofstream(path, std::ios::trunc) << older;
  auto r = RecoverRun(dir_.string());
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->operations[0].status_codes.at("UNAVAILABLE"), 2);
  EXPECT_TRUE(r->operations[0].error_messages.empty());
  EXPECT_TRUE(r->operations[1].error_messages.empty());
}

TEST_F(IntervalLogTest, ALineCutOffByAKillIsIgnoredOtherDamageIsNamed) {
  WriteRun(4);
  const auto path = dir_ / kIntervalsLogName;
  std::string text;
  {
    std::ifstream in(path);
    std::stringstream s;
    s << in.rdbuf();
    text = s.str();
  }
  std::ofstream(path, std::ios::trunc) << text.substr(0, text.size() - 40);  // mid-line
  auto r = RecoverRun(dir_.string());
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->timeline.points.size(), 3u);
  EXPECT_EQ(r->operations[0].requests, 200);  // intervals 1 and 2
  // A damaged line in the middle is corruption, named by file and line.
  const size_t second_line = text.find('\n') + 1;
  std::string damaged = text;
  damaged.replace(second_line, 10, "garbage!!!");
  std::ofstream(path, std::ios::trunc) << damaged;
  r = RecoverRun(dir_.string());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(std::string(r.status().message()).rfind(path.string() + ":2: ", 0), 0u) << r.status();
  EXPECT_FALSE(RecoverRun((dir_ / "absent").string()).ok());
}

TEST_F(IntervalLogTest, HostileLogsAreNamedNotTrusted) {
  WriteRun(3);
  const auto intervals = dir_ / kIntervalsLogName;
  const auto histograms = dir_ / kHistogramLogName;
  const auto read = [](const std::filesystem::path& path) {
    std::ifstream in(path);
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
  };
  const std::string original = read(intervals);
  const std::string original_hlog = read(histograms);
  const auto recover_with = [&](const std::string& from, const std::string& to) {
    std::string text = original;
    const size_t at = text.find(from);
    EXPECT_NE(at, std::string::npos) << from;
    text.replace(at, from.size(), to);
    std::ofstream(intervals, std::ios::trunc) << text;
    auto r = RecoverRun(dir_.string());
    return r.ok() ? std::string("ok") : std::string(r.status().message());
  };
  const std::string name = intervals.string();
  // Fields of another type: json::value() threw on them.
  EXPECT_EQ(recover_with(R"("schema":"aurigraph-loadbench/intervals")", R"("schema":5)"),
            name + ":1: not an aurigraph-loadgen interval log");
  // A gate that does not parse is named, not silently dropped.
  EXPECT_EQ(recover_with(R"("gates":["p99 < 20ms",)", R"("gates":[5,)"),
            name + ":1: gate '5': expected METRIC OP VALUE, e.g. 'p99 < 20ms'");
  // Counts and times that would overflow 64 bits.
  EXPECT_EQ(recover_with(R"("sent":100)", R"("sent":9223372036854775807)"),
            name + ":2: counts out of range (negative, or too large)");
  EXPECT_EQ(recover_with(R"("sent":100)", R"("sent":-1)"),
            name + ":2: counts out of range (negative, or too large)");
  EXPECT_EQ(recover_with(R"("messages_received":50)", R"("messages_received":-5)"),
            name +
                ":2: wrong counts: [json.exception.out_of_range.406] messages_received out of "
                "range");
  EXPECT_EQ(recover_with(R"("offset_seconds":2.0)", R"("offset_seconds":1e12)"),
            name + ":4: interval times out of range");
  EXPECT_EQ(recover_with(R"("start_unix_nanos":1700000000000000000)", R"("start_unix_nanos":-1)"),
            name + ":1: start_unix_nanos out of range");
  // Found by fuzz_interval_log: a float start, converted to an integer unchecked.
  EXPECT_EQ(
      recover_with(R"("start_unix_nanos":1700000000000000000)", R"("start_unix_nanos":1.8e80)"),
      name + ":1: number 1.8e+80 out of range");
  EXPECT_EQ(recover_with(R"("sent":100)", R"("sent":1e19)"),
            name + ":2: number 1e+19 out of range");
  // Status messages: bounded, as kept, and counting the failed calls exactly.
  const std::string message = R"({"message":"injected fault","count":1})";
  std::string eleven;
  for (int i = 0; i < 11; ++i) {
    absl::StrAppend(&eleven, i > 0 ? "," : "", R"({"message":"m)", i, R"(","count":1})");
  }
  const std::string wrong_counts = name + ":2: wrong counts: [json.exception.other_error.501] ";
  EXPECT_EQ(recover_with(message, eleven),
            wrong_counts + "UNAVAILABLE: more messages than are kept");
  EXPECT_EQ(recover_with(message,
                         absl::StrCat(R"({"message":")", std::string(201, 'a'), R"(","count":1})")),
            wrong_counts +
                "UNAVAILABLE: a message not as kept (too long, not UTF-8, or with control "
                "characters)");
  EXPECT_EQ(recover_with(message, R"({"message":"\u001b[2J","count":1})"),
            wrong_counts +
                "UNAVAILABLE: a message not as kept (too long, not UTF-8, or with control "
                "characters)");
  EXPECT_EQ(recover_with("injected fault", "injected \xff"), name + ":2: not a JSON object");
  EXPECT_EQ(recover_with(R"("UNAVAILABLE":{"messages")", R"("OK":{"messages")"),
            wrong_counts + "no failed calls with status OK");
  EXPECT_EQ(recover_with(message, R"({"message":"injected fault","count":2})"),
            name + ":2: error messages do not count the failed calls (or streams) exactly");
  EXPECT_EQ(recover_with(R"("close_messages":{})", R"("close_messages":{"UNAVAILABLE":{)"
                                                   R"("messages":[],"other":1}})"),
            name + ":2: error messages do not count the failed calls (or streams) exactly");
  // A histogram whose zero runs wrap a 32-bit index (it once wrote before its
  // counts) is refused and named by line, not merged.
  std::ofstream(intervals, std::ios::trunc) << original;
  std::string payload;
  for (int i = 0; i < 255; ++i) v2::PutZigZag(&payload, -(int64_t{1} << 24));
  v2::PutZigZag(&payload, -((int64_t{1} << 24) - 1));
  v2::PutZigZag(&payload, 7);
  std::string raw;
  v2::PutHeader(&raw, static_cast<uint32_t>(payload.size()), 3, 1, 3'600'000'000LL);
  std::string hlog = original_hlog;
  const size_t line = hlog.find("\nTag=get,1.000") + 1;
  const size_t histogram = hlog.find(",HISTF", line) + 1;
  hlog.replace(histogram, hlog.find('\n', histogram) - histogram,
               absl::Base64Escape(v2::Compress(raw + payload)));
  std::ofstream(histograms, std::ios::trunc) << hlog;
  const size_t line_number = std::count(hlog.begin(), hlog.begin() + line, '\n') + 1;
  EXPECT_EQ(
      RecoverRun(dir_.string()).status().message(),
      absl::StrCat(histograms.string(), ":", line_number, ": not an interval histogram line"));
  // One of another configuration cannot be merged: named too, rather than left out.
  Histogram other(1, 1000, 2);
  other.Record(5);
  hlog.replace(histogram, hlog.find('\n', histogram) - histogram, EncodeBase64(other));
  std::ofstream(histograms, std::ios::trunc) << hlog;
  EXPECT_EQ(RecoverRun(dir_.string()).status().message(),
            absl::StrCat(histograms.string(), ":", line_number,
                         ": histogram does not fit the run's (its tag, its configuration, or a "
                         "count overflow)"));
}

}  // namespace
}  // namespace aurigraph::loadgen
