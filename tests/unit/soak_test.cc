// Soak building blocks without a network: memory trends and drift over a
// timeline, interval logs written and recovered (including a log cut off by a
// kill), and the progress line.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "loadgen/gates/gates.h"
#include "loadgen/histogram/histogram_codec.h"
#include "loadgen/histogram/histogram_wire.h"
#include "loadgen/intervallog/interval_log.h"
#include "loadgen/progress/progress.h"
#include "loadgen/trends/trends.h"

namespace aurigraph::loadgen {
namespace {

// One point per second for `seconds`, RSS growing by `growth_per_second` from
// 100 MB, one operation whose p99 and count follow the given functions.
Timeline MakeTimeline(int seconds, double growth_per_second, double p99_first, double p99_last,
                      int warmup_seconds = 0) {
  Timeline t;
  t.interval_seconds = 1;
  for (int i = 0; i < seconds; ++i) {
    TimelinePoint p;
    p.offset_seconds = i;
    p.seconds = 1;
    p.warmup = i < warmup_seconds;
    p.loadgen_rss_bytes = static_cast<int64_t>(100e6 + growth_per_second * i);
    p.target_rss_bytes = 200'000'000;
    TimelineOperation op;
    op.count = 1000;
    op.timed = 1000;
    op.p99 = static_cast<int64_t>(p99_first + (p99_last - p99_first) * i / (seconds - 1));
    p.operations.push_back(op);
    t.points.push_back(p);
  }
  return t;
}

TEST(Trends, RssSlopeIsFittedPerHourAfterWarmup) {
  // 1 KB/s growth = 3.6 MB/h; warm-up memory (the first 10 s) is left out.
  Timeline t = MakeTimeline(100, 1000, 1000, 1000, /*warmup_seconds=*/10);
  for (int i = 0; i < 10; ++i) t.points[i].loadgen_rss_bytes = 10'000'000;  // settling
  const Trend trend = RssTrend(t, Process::kLoadgen);
  ASSERT_TRUE(trend.measured);
  EXPECT_NEAR(trend.slope_per_hour, 3.6e6, 1);
  EXPECT_NEAR(trend.r2, 1, 1e-9);
  EXPECT_EQ(trend.samples, 72);  // 90 measured, the first fifth left out
  const Trend flat = RssTrend(t, Process::kTarget);
  ASSERT_TRUE(flat.measured);
  EXPECT_EQ(flat.slope_per_hour, 0);
  EXPECT_FALSE(RssTrend(MakeTimeline(8, 1000, 1, 1), Process::kLoadgen).measured);
}

TEST(Trends, DriftComparesTheLastQuarterWithTheFirst) {
  const Drift p99 = P99Drift(MakeTimeline(40, 0, 1000, 2000));
  ASSERT_TRUE(p99.measured);
  EXPECT_NEAR(p99.first, 1115, 20);
  EXPECT_NEAR(p99.last, 1885, 20);
  EXPECT_NEAR(p99.change, 0.69, 0.03);
  const Drift rate = RateDrift(MakeTimeline(40, 0, 1000, 1000));
  EXPECT_TRUE(rate.measured);
  EXPECT_DOUBLE_EQ(rate.change, 0);
}

TEST(Trends, GatesOnSlopesAndDrift) {
  RunResult r;
  r.timeline = MakeTimeline(100, 20'000, 1000, 1500);  // 72 MB/h, p99 +40%
  std::vector<Gate> gates;
  for (const char* expression : {"loadgen_rss_slope < 50MB", "server_rss_slope < 50MB",
                                 "p99_drift < 25%", "rate_drift > -5%"}) {
    auto gate = ParseGate(expression, "");
    ASSERT_TRUE(gate.ok()) << gate.status();
    gates.push_back(*gate);
  }
  auto results = EvaluateGates(gates, r);
  ASSERT_TRUE(results.ok());
  EXPECT_FALSE((*results)[0].passed);
  EXPECT_EQ((*results)[0].message, "loadgen_rss_slope = 68.66 MiB/h, limit < 47.68 MiB/h");
  EXPECT_TRUE((*results)[1].passed);
  EXPECT_FALSE((*results)[2].passed);
  EXPECT_TRUE((*results)[3].passed);
  // Without samples there is nothing to pass.
  r.timeline = Timeline{};
  results = EvaluateGates(gates, r);
  ASSERT_TRUE(results.ok());
  EXPECT_FALSE((*results)[1].passed);
  EXPECT_NE((*results)[1].message.find("only 0 memory samples"), std::string::npos);
}

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
    auto writer = IntervalLogWriter::Create(
        dir_,
        IntervalLogHeader{"s", R"({"gates":["p99 < 20ms",{"gate":"rate >= 1","operation":"get"}]})",
                          "127.0.0.1:1", "0.1.0", "h", "open", 1'000'000'000});
    ASSERT_TRUE(writer.ok()) << writer.status();
    (*writer)->OnRunStart({1'700'000'000'000'000'000,
                           1'000'000'000,
                           0,
                           100,
                           {{"get", "a.S/Get", false, "unary"},
                            {"watch, all", "a.S/Watch", true, "server_streaming"}}});
    for (int i = 0; i < intervals; ++i) {
      IntervalSlice slice(2);
      slice.index = i;
      for (int n = 0; n < 100; ++n) {
        slice.operations[0].Record(n < 99 ? 1000 + 10 * i : 50 + i, n < 99 ? 0 : 14);
      }
      slice.operations[1].count = 50;
      for (int n = 0; n < 50; ++n) slice.operations[1].latency.Record(300);
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
  // A tag per operation (commas and spaces replaced) and the generator's lag.
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
  // ... and the recovered result is a valid result file.
  EXPECT_TRUE(ResultFromJson(ResultToJson(*r), "recovered").ok());
  EXPECT_DOUBLE_EQ(get.achieved_rate, 100);
  EXPECT_EQ(r->operations[1].stream->messages_received, 200);
  EXPECT_EQ(r->timeline.points.size(), 5u);
  EXPECT_EQ(r->generator.sent, 500);
  EXPECT_EQ(r->generator.schedule_lag->TotalCount(), 400);
  ASSERT_EQ(r->gates.size(), 2u);
  EXPECT_TRUE(r->gates[0].passed);
  EXPECT_EQ(r->gates[1].operation, "get");
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
  EXPECT_EQ(recover_with(R"("gates":["p99 < 20ms",)", R"("gates":[5,{"gate":7},)"), "ok");
  // Counts and times that would overflow 64 bits.
  EXPECT_EQ(recover_with(R"("sent":100)", R"("sent":9223372036854775807)"),
            name + ":3: counts out of range (negative, or overflowing)");
  EXPECT_EQ(recover_with(R"("sent":100)", R"("sent":-1)"),
            name + ":2: counts out of range (negative, or overflowing)");
  EXPECT_EQ(recover_with(R"("offset_seconds":2.0)", R"("offset_seconds":1e12)"),
            name + ":4: interval times out of range");
  EXPECT_EQ(recover_with(R"("start_unix_nanos":1700000000000000000)", R"("start_unix_nanos":-1)"),
            name + ":1: start_unix_nanos out of range");
  // Found by fuzz_interval_log: a float start, converted to an integer unchecked.
  EXPECT_EQ(
      recover_with(R"("start_unix_nanos":1700000000000000000)", R"("start_unix_nanos":1.8e80)"),
      name + ":1: number 1.8e+80 out of range");
  EXPECT_EQ(recover_with(R"("sent":100)", R"("sent":1e19)"), name + ":2: number 1e+19 out of range");
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
                         ": histogram does not fit the run's (its configuration, or a count "
                         "overflow)"));
}

TEST(Progress, PlainLinesAtTheGivenSpacingWhenNotATerminal) {
  std::ostringstream out;
  ProgressPrinter progress(out, /*terminal=*/false, /*every_seconds=*/10);
  progress.OnRunStart(
      {0, 1'000'000'000, 60'000'000'000, 500, {{"get", "a.S/Get", false, "unary"}}});
  for (int i = 0; i < 25; ++i) {
    IntervalSlice slice(1);
    for (int n = 0; n < 500; ++n)
      slice.operations[0].Record(n < 490 ? 800 : 5000, n < 499 ? 0 : 14);
    TimelinePoint point;
    point.offset_seconds = i;
    point.seconds = 1;
    point.warmup = i < 2;
    point.operations.resize(1);
    point.operations[0].errors = 1;
    progress.OnInterval(slice, point);
  }
  progress.Finish();
  // At 1 s, 11 s and 21 s.
  EXPECT_EQ(out.str(),
            "progress [1s / 1m] 500/s of 500/s  p50 800us  p99 5.003ms  errors 1 (0.20%)  warm-up\n"
            "progress [11s / 1m] 500/s of 500/s  p50 800us  p99 5.003ms  errors 11 (0.20%)\n"
            "progress [21s / 1m] 500/s of 500/s  p50 800us  p99 5.003ms  errors 21 (0.20%)\n");
}

}  // namespace
}  // namespace aurigraph::loadgen
