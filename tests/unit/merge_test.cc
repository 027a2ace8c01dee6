// One run split across processes and merged: the same samples recorded by one
// process, or dealt out to three, give the same result and the same histogram
// log, bucket for bucket; gates are judged on the merged data; a process that
// stopped early or fell behind shows; logs of other runs are refused.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <tuple>

#include "absl/strings/str_cat.h"
#include "loadgen/assemble/result_builder.h"
#include "loadgen/histogram/histogram_codec.h"
#include "loadgen/intervallog/interval_log.h"
#include "loadgen/merge/merge_runs.h"

namespace aurigraph::loadgen {
namespace {

constexpr int64_t kSecond = 1'000'000'000;
constexpr int kIntervals = 4;  // the first is warm-up

// Per process: 80 measured requests over 3 s, 26.7/s; the whole run: 240 at 80/s.
constexpr const char* kScenario =
    R"({"name":"split","target":"127.0.0.1:1","duration":"4s","warmup":"1s",)"
    R"("load":{"model":"open","rate":80},)"
    R"("operations":[{"name":"submit","rpc":"aurigraph.approval.v1.ApprovalService/CheckHealth"},)"
    R"({"name":"get","rpc":"aurigraph.approval.v1.ApprovalService/CheckHealth"}],)"
    R"("gates":["requests <= 100","rate >= 50","p99 < 900ms"]})";

struct Options {
  int partition_index = 0;
  int partition_count = 1;
  int64_t start_unix_nanos = 1'700'000'000 * kSecond;
  int intervals = kIntervals;  // fewer: the process was killed (no end record)
  bool behind = false;         // requests due it did not send
};

class MergeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = std::filesystem::temp_directory_path() /
            absl::StrCat("merge-", ::testing::UnitTest::GetInstance()->random_seed(), "-",
                         ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(root_);
    std::filesystem::create_directories(root_);
  }
  void TearDown() override { std::filesystem::remove_all(root_); }

  // The run's samples, the same whatever the split: request r of interval i
  // goes to process r % processes. Each is a call of one of two operations,
  // some failed, with a latency drawn from a seeded, long-tailed distribution.
  std::string WriteProcess(const std::string& name, const Options& o) {
    const std::string dir = (root_ / name).string();
    std::filesystem::create_directories(dir);
    auto writer = IntervalLogWriter::Create(dir);
    EXPECT_TRUE(writer.ok()) << writer.status();
    RunDescription run;
    run.tool_version = "0.1.0";
    run.host = "h";
    run.scenario_name = "split";
    run.scenario_json = kScenario;
    run.target = "127.0.0.1:1";
    run.load_model = "open";
    // A process of a split run describes its share of the target, as the runner does.
    run.target_rate = 80.0 / o.partition_count;
    run.start_unix_nanos = o.start_unix_nanos;
    run.interval_nanos = kSecond;
    run.duration_nanos = kIntervals * kSecond;
    run.warmup_nanos = kSecond;
    run.max_generator_lag_p99_us = 10'000;
    run.partition_index = o.partition_index;
    run.partition_count = o.partition_count;
    run.operations = {{"submit", "a.S/Submit", "unary", 72.0 / o.partition_count},
                      {"get", "a.S/Get", "unary", 8.0 / o.partition_count}};
    (*writer)->OnRunStart(run);
    std::mt19937_64 rng(7);
    std::lognormal_distribution<double> latency_us(7.0, 1.2);
    // What an HTTP transport would count for "submit" (the other operation has no counts).
    WireTotals wire{0, 0, 0, 0, 0, 0, {}};
    for (int i = 0; i < o.intervals; ++i) {
      IntervalSlice slice(2);
      slice.index = i;
      for (int r = 0; r < 80; ++r) {
        const int64_t latency = 1 + static_cast<int64_t>(latency_us(rng));
        const int64_t lag = static_cast<int64_t>(rng() % 3000);
        if (r % o.partition_count != o.partition_index) continue;
        const int op = r % 10 == 9 ? 1 : 0;
        const int code = r % 13 == 0 ? 14 : r % 17 == 0 ? 4 : 0;
        slice.operations[op].Record(latency, latency * 3 / 4, code,
                                    code == 14 ? "injected fault" : "deadline");
        if (op == 0) {
          ++wire.requests;
          ++wire.responses;
          wire.request_bytes += 300 + r;
          wire.request_payload_bytes += 100 + r;
          wire.response_bytes += 200;
          wire.response_payload_bytes += 50;
          ++wire.by_status[code == 0 ? 201 : 503];
        }
        ++slice.sent;
        slice.schedule_lag.Record(lag);
        slice.generator_lag.Record(lag / 2);
      }
      if (o.behind) slice.generator.not_sent_generator_behind = 5;
      TimelinePoint point = SummarizeSlice(slice);
      point.offset_seconds = i;
      point.seconds = 1;
      point.warmup = i == 0;
      point.loadgen_rss_bytes = 40'000'000;
      (*writer)->OnInterval(slice, point);
    }
    if (o.intervals == kIntervals) {
      RunEnd end;
      end.end_offset_nanos = kIntervals * kSecond + 1000 * o.partition_index;
      end.cpu_seconds = 0.5;
      end.cpu_cores = 2;
      end.loadgen_peak_rss_bytes = 50'000'000;
      end.wire = {wire, std::nullopt};
      (*writer)->OnRunEnd(end);
    }
    return dir;
  }

  std::vector<std::string> WriteSplit(int processes, Options each = {}) {
    std::vector<std::string> dirs;
    for (int k = 0; k < processes; ++k) {
      Options o = each;
      o.partition_index = k;
      o.partition_count = processes;
      dirs.push_back(WriteProcess(absl::StrCat("worker-", k), o));
    }
    return dirs;
  }

  std::string Out() {
    const std::string out = (root_ / "merged").string();
    std::filesystem::create_directories(out);
    return out;
  }

  std::filesystem::path root_;
};

// The histogram lines of a .hlog: every interval's histograms, encoded.
std::string HistogramLines(const std::string& dir) {
  std::ifstream in(std::filesystem::path(dir) / kHistogramLogName);
  std::string line, lines;
  while (std::getline(in, line)) {
    if (line.rfind("Tag=", 0) == 0) lines += line + "\n";
  }
  return lines;
}

TEST_F(MergeTest, ThreeProcessesMergeIntoExactlyTheOneProcessRun) {
  const std::string whole_dir = WriteProcess("whole", {});
  auto whole = RecoverRun(whole_dir);
  ASSERT_TRUE(whole.ok()) << whole.status();
  const std::string out = Out();
  auto merged = MergeRuns(WriteSplit(3), out);
  ASSERT_TRUE(merged.ok()) << merged.status();

  // Bucket for bucket: the merged histogram log is the one process's, line for line.
  EXPECT_FALSE(HistogramLines(whole_dir).empty());
  EXPECT_EQ(HistogramLines(out), HistogramLines(whole_dir));
  ASSERT_EQ(merged->operations.size(), whole->operations.size());
  for (size_t i = 0; i < whole->operations.size(); ++i) {
    const OperationResult& m = merged->operations[i];
    const OperationResult& w = whole->operations[i];
    EXPECT_EQ(m.requests, w.requests);
    EXPECT_EQ(m.status_codes, w.status_codes);
    EXPECT_EQ(EncodeBase64(*m.corrected), EncodeBase64(*w.corrected));
    EXPECT_EQ(EncodeBase64(*m.uncorrected), EncodeBase64(*w.uncorrected));
    ASSERT_EQ(m.failed.size(), w.failed.size());
    for (const auto& [code, h] : w.failed)
      EXPECT_EQ(EncodeBase64(*m.failed.at(code)), EncodeBase64(*h));
    EXPECT_EQ(m.error_messages.size(), w.error_messages.size());
    EXPECT_DOUBLE_EQ(m.achieved_rate, w.achieved_rate);
  }
  // Wire counts add up to the one process's.
  ASSERT_TRUE(whole->operations[0].wire && merged->operations[0].wire);
  EXPECT_FALSE(merged->operations[1].wire);
  const WireTotals& mw = *merged->operations[0].wire;
  const WireTotals& ww = *whole->operations[0].wire;
  EXPECT_GT(ww.requests, 0);
  EXPECT_EQ(std::tie(mw.requests, mw.request_bytes, mw.request_payload_bytes, mw.responses,
                     mw.response_bytes, mw.response_payload_bytes, mw.by_status),
            std::tie(ww.requests, ww.request_bytes, ww.request_payload_bytes, ww.responses,
                     ww.response_bytes, ww.response_payload_bytes, ww.by_status));
  EXPECT_EQ(merged->total.requests, 240);
  EXPECT_DOUBLE_EQ(merged->target_rate, whole->target_rate);
  EXPECT_DOUBLE_EQ(merged->operations[1].target_rate, whole->operations[1].target_rate);
  EXPECT_EQ(merged->generator.sent, whole->generator.sent);
  EXPECT_EQ(EncodeBase64(*merged->generator.schedule_lag),
            EncodeBase64(*whole->generator.schedule_lag));
  ASSERT_EQ(merged->timeline.points.size(), whole->timeline.points.size());
  for (size_t i = 0; i < whole->timeline.points.size(); ++i) {
    EXPECT_EQ(merged->timeline.points[i].sent, whole->timeline.points[i].sent);
    EXPECT_EQ(merged->timeline.points[i].operations[0].p99,
              whole->timeline.points[i].operations[0].p99);
  }
  // Each process's memory adds up.
  EXPECT_EQ(merged->timeline.points[1].loadgen_rss_bytes, 3 * 40'000'000);
  EXPECT_TRUE(merged->recovered_from.empty());
  EXPECT_TRUE(merged->complete());

  ASSERT_EQ(merged->workers.size(), 3u);
  int64_t sent = 0;
  for (int k = 0; k < 3; ++k) {
    EXPECT_EQ(merged->workers[k].index, k);
    EXPECT_EQ(merged->workers[k].stopped_at_seconds, -1);
    EXPECT_TRUE(merged->workers[k].kept_up);
    sent += merged->workers[k].sent;
  }
  EXPECT_EQ(sent, 320);
  // Processes on one host share its cores.
  EXPECT_EQ(merged->generator.cpu_cores, 2);
  EXPECT_DOUBLE_EQ(merged->generator.cpu_seconds, 1.5);

  // A merged result is a result: written and read back whole.
  const std::string path = (std::filesystem::path(out) / "result.json").string();
  ASSERT_TRUE(WriteResultFile(*merged, path).ok());
  auto read = ReadResultFile(path);
  ASSERT_TRUE(read.ok()) << read.status();
  ASSERT_EQ(read->workers.size(), 3u);
  EXPECT_EQ(read->workers[2].sent, merged->workers[2].sent);
  ASSERT_TRUE(read->operations[0].wire);
  EXPECT_EQ(read->operations[0].wire->request_bytes, mw.request_bytes);
  EXPECT_EQ(read->operations[0].wire->by_status, mw.by_status);
  EXPECT_FALSE(read->operations[1].wire);
}

// Gates are judged once, on the merged data, as for one process: every process
// passes "requests <= 100" on its own share (80) and fails "rate >= 50" (26.7/s);
// the run does the opposite (240, 80/s).
TEST_F(MergeTest, GatesAreJudgedOnTheMergedRunNotPerProcess) {
  const std::vector<std::string> dirs = WriteSplit(3);
  for (const std::string& dir : dirs) {
    auto alone = RecoverRun(dir);
    ASSERT_TRUE(alone.ok()) << alone.status();
    ASSERT_EQ(alone->gates.size(), 3u);
    EXPECT_TRUE(alone->gates[0].passed) << alone->gates[0].message;
    EXPECT_FALSE(alone->gates[1].passed) << alone->gates[1].message;
  }
  auto merged = MergeRuns(dirs, Out());
  ASSERT_TRUE(merged.ok()) << merged.status();
  ASSERT_EQ(merged->gates.size(), 3u);
  EXPECT_FALSE(merged->gates[0].passed) << merged->gates[0].message;
  EXPECT_EQ(merged->gates[0].measured, 240);
  EXPECT_TRUE(merged->gates[1].passed) << merged->gates[1].message;
  EXPECT_FALSE(merged->passed());
}

TEST_F(MergeTest, AProcessThatStoppedMakesTheRunIncompleteAndKeepsItsData) {
  std::vector<std::string> dirs = {WriteProcess("worker-0", {0, 3}),
                                   WriteProcess("worker-1", {1, 3})};
  Options killed;
  killed.partition_index = 2;
  killed.partition_count = 3;
  killed.intervals = 2;  // killed after 2 s
  dirs.push_back(WriteProcess("worker-2", killed));
  auto merged = MergeRuns(dirs, Out());
  ASSERT_TRUE(merged.ok()) << merged.status();
  EXPECT_FALSE(merged->complete());
  EXPECT_FALSE(merged->passed());
  EXPECT_EQ(merged->workers[2].stopped_at_seconds, 2);
  EXPECT_EQ(merged->workers[0].stopped_at_seconds, -1);
  // Every request logged is kept: processes 0 and 1 each hold 27 of each interval's
  // 80 (3 measured), process 2 holds 26 (1 measured before it stopped).
  EXPECT_EQ(merged->total.requests, 2 * 3 * 27 + 26);
  EXPECT_EQ(merged->timeline.points.size(), static_cast<size_t>(kIntervals));
}

TEST_F(MergeTest, AProcessThatFellBehindMakesTheRunInvalid) {
  std::vector<std::string> dirs = {WriteProcess("worker-0", {0, 2})};
  Options behind;
  behind.partition_index = 1;
  behind.partition_count = 2;
  behind.behind = true;
  dirs.push_back(WriteProcess("worker-1", behind));
  auto merged = MergeRuns(dirs, Out());
  ASSERT_TRUE(merged.ok()) << merged.status();
  EXPECT_FALSE(merged->generator.kept_up);
  EXPECT_TRUE(merged->workers[0].kept_up);
  EXPECT_FALSE(merged->workers[1].kept_up);
  EXPECT_EQ(merged->generator.not_sent_generator_behind, 5 * kIntervals);
  EXPECT_FALSE(merged->passed());
}

TEST_F(MergeTest, LogsOfAnotherRunAreRefusedByName) {
  std::vector<std::string> dirs = WriteSplit(3);
  const auto message = [&](const std::vector<std::string>& given) {
    auto merged = MergeRuns(given, Out());
    return merged.ok() ? std::string("ok") : std::string(merged.status().message());
  };
  Options late;
  late.partition_index = 2;
  late.partition_count = 3;
  late.start_unix_nanos += kSecond;
  const std::string other = WriteProcess("other-start", late);
  EXPECT_EQ(message({dirs[0], dirs[1], other}),
            other +
                ": not a process of the same run as the others: another start time "
                "(--start-at)");
  EXPECT_EQ(message({dirs[0], dirs[1], dirs[1]}),
            dirs[1] + ": not a process of the same run as the others: process 1 given twice");
  EXPECT_EQ(message({dirs[0], dirs[2]}),
            "merge: the run was split across 3 processes, 2 given; missing: 1 (give every "
            "process's run directory once)");
  const std::string whole = WriteProcess("whole", {});
  EXPECT_EQ(message({dirs[0], dirs[1], whole}),
            whole +
                ": not a process of the same run as the others: split into another number "
                "of processes");
}

}  // namespace
}  // namespace aurigraph::loadgen
