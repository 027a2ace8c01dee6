// A run rebuilt from its interval logs is the run: against the reference
// server, a unary run (with warm-up ending mid-interval, injected errors and a
// weighted mix) and a streaming run (server streams and bidi) are stopped after
// a few intervals, and RecoverRun over the logs they left gives back exactly
// their live results, field by field as result.json holds them.
#include <atomic>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "loadgen/intervallog/interval_log.h"
#include "tests/integration/harness.h"

namespace aurigraph {
namespace {

// Stops the run once it has seen `intervals` intervals.
class StopAfter final : public loadgen::IntervalObserver {
 public:
  StopAfter(int intervals, std::atomic<bool>& stop) : intervals_(intervals), stop_(stop) {}
  void OnRunStart(const loadgen::RunDescription&) override {}
  void OnInterval(const loadgen::IntervalSlice&, const loadgen::TimelinePoint&) override {
    if (++seen_ == intervals_) stop_ = true;
  }

 private:
  const int intervals_;
  std::atomic<bool>& stop_;
  int seen_ = 0;
};

class Recovery : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("recovery-" + std::to_string(getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  // Runs `yaml` against `target`, stopped after `intervals` intervals, with
  // interval logs; returns the live result.
  loadgen::RunResult RunStopped(const std::string& yaml, const std::string& target, int intervals) {
    auto scenario = loadgen::ParseScenario(yaml, "test.yaml", {});
    EXPECT_TRUE(scenario.ok()) << scenario.status();
    auto log = loadgen::IntervalLogWriter::Create(dir_.string());
    EXPECT_TRUE(log.ok()) << log.status();
    std::atomic<bool> stop{false};
    StopAfter stopper(intervals, stop);
    loadgen::RunOptions options;
    options.target = target;
    options.stop = &stop;
    options.interval_observers = {log->get(), &stopper};
    auto result = loadgen::RunScenario(*scenario, options);
    EXPECT_TRUE(result.ok()) << result.status();
    return result.ok() ? *std::move(result) : loadgen::RunResult{};
  }

  // The recovered result as result.json would hold it, and the live one.
  void ExpectRecoveredEqualsLive(const loadgen::RunResult& live) {
    auto recovered = loadgen::RecoverRun(dir_.string());
    ASSERT_TRUE(recovered.ok()) << recovered.status();
    EXPECT_EQ(recovered->recovered_from, (dir_ / loadgen::kIntervalsLogName).string());
    recovered->recovered_from.clear();
    const std::string expected = loadgen::ResultToJson(live);
    const std::string actual = loadgen::ResultToJson(*recovered);
    if (expected == actual) return;
    // Name the first field that differs, not two pages of JSON.
    size_t at = 0;
    while (at < expected.size() && at < actual.size() && expected[at] == actual[at]) ++at;
    const size_t from = at > 200 ? at - 200 : 0;
    ADD_FAILURE() << "recovered differs from live at byte " << at << "\nlive:      ..."
                  << expected.substr(from, 300) << "\nrecovered: ..." << actual.substr(from, 300);
  }

  std::filesystem::path dir_;
};

TEST_F(Recovery, AUnaryRunComesBackExactlyAsItRan) {
  refserver::FaultConfig faults;
  faults.error_rate = 0.05;
  auto server = StartServer(faults);
  const loadgen::RunResult live = RunStopped(R"(
name: unary-recovery
duration: 20s
warmup: 700ms
interval: 500ms
workers: 2
load: {model: open, rate: 400}
operations:
  - name: health
    rpc: aurigraph.approval.v1.ApprovalService/CheckHealth
    weight: 3
  - name: submit
    rpc: aurigraph.transaction.v1.TransactionService/SubmitTransaction
    request: {id: "rec-${run}-${seq}", sender: a, receiver: b, amount: 1}
gates: ["p99 < 1s", {gate: "error_ratio < 50%", operation: submit}]
)",
                                             server->address(), 5);
  ASSERT_EQ(live.operations.size(), 2u);
  ASSERT_GT(live.total.requests, 500);
  ASSERT_GT(live.total.errors(), 0);
  ASSERT_GT(live.generator.warmup_completions, 0);
  ExpectRecoveredEqualsLive(live);
}

TEST_F(Recovery, AKilledRunKeepsItsStatusMessages) {
  refserver::FaultConfig faults;
  faults.error_rate = 0.1;
  faults.error_code = 9;  // FAILED_PRECONDITION
  auto server = StartServer(faults);
  const loadgen::RunResult live = RunStopped(R"(
name: messages-recovery
duration: 20s
interval: 500ms
workers: 2
load: {model: open, rate: 400}
operations: [{rpc: aurigraph.approval.v1.ApprovalService/CheckHealth}]
)",
                                             server->address(), 4);
  const int64_t failed = live.total.status_codes.at("FAILED_PRECONDITION");
  ASSERT_GT(failed, 0);
  // Killed: the log ends with its last interval, without the run's end.
  const auto intervals = dir_ / loadgen::kIntervalsLogName;
  std::stringstream text;
  text << std::ifstream(intervals).rdbuf();
  std::string log = text.str();
  const size_t end_record = log.rfind("{\"end\":");
  ASSERT_NE(end_record, std::string::npos);
  log.erase(end_record);
  std::ofstream(intervals, std::ios::trunc) << log;
  auto recovered = loadgen::RecoverRun(dir_.string());
  ASSERT_TRUE(recovered.ok()) << recovered.status();
  // Every failed call with the message the server sent (service/responder.cc), as live.
  for (const loadgen::OperationResult* op : {&recovered->total, &recovered->operations[0]}) {
    ASSERT_EQ(op->error_messages.size(), 1u);
    const loadgen::CodeMessages& kept = op->error_messages.at("FAILED_PRECONDITION");
    ASSERT_EQ(kept.messages.size(), 1u);
    EXPECT_EQ(kept.messages[0].message, "injected fault");
    EXPECT_EQ(kept.messages[0].count, failed);
    EXPECT_EQ(kept.other, 0);
  }
  EXPECT_EQ(live.total.error_messages.at("FAILED_PRECONDITION").messages[0].count, failed);
}

TEST_F(Recovery, AStreamingRunComesBackExactlyAsItRan) {
  auto server = StartServer();
  const loadgen::RunResult live = RunStopped(R"(
name: stream-recovery
duration: 20s
warmup: 500ms
interval: 500ms
workers: 2
load: {model: open, rate: 200}
operations:
  - name: subscribe
    rpc: aurigraph.transaction.v1.TransactionService/StreamTransactions
    stream: {streams: 3, delay: 0s, timestamp_field: sent_at_unix_nanos}
  - name: submit_stream
    rpc: aurigraph.transaction.v1.TransactionService/SubmitTransactionStream
    request: {id: "rs-${run}-${seq}", sender: a, receiver: b, amount: 1}
    stream: {streams: 2, send_rate: 100, match: {request: id, response: id}, status_field: code}
  - name: commit
    rpc: aurigraph.transaction.v1.TransactionService/BatchSubmitTransactions
    count_field: accepted
    request:
      transactions:
        $repeat: 5
        $item:
          id: "ru-${run}-${seq}-${item}"
          sender: a
          receiver: b
          amount: 1
          nonce: "${item}"
          content_hash: "${sha256:id,sender,receiver,amount,nonce,memo}"
)",
                                             server->address(), 5);
  ASSERT_EQ(live.operations.size(), 3u);
  ASSERT_TRUE(live.operations[0].stream);
  ASSERT_GT(live.operations[0].stream->measured_received, 0);
  ASSERT_GT(live.operations[1].stream->measured_sent, 0);
  ASSERT_GT(live.operations[1].corrected->TotalCount(), 0);
  ExpectRecoveredEqualsLive(live);
}

}  // namespace
}  // namespace aurigraph
