// Finality and scheduled events over real gRPC against the reference server:
// every transaction the loadgen submits (one by one, inside batches and on a
// bidi stream) is matched with its commit on StreamTransactions; a rejected
// one is never final and not lost; events run at their times, are marked in
// the result and the interval log, and a failing one is reported as failed.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "loadgen/intervallog/interval_log.h"
#include "tests/integration/harness.h"

namespace aurigraph {
namespace {

using loadgen::RunResult;

constexpr const char* kFinality = R"(
name: finality
duration: 3s
warmup: 1s
workers: 2
max_generator_lag: 50ms
load: {model: open, rate: 300}
operations:
  # Declared first: the tracker numbers unary operations before streams.
  - name: stream
    rpc: aurigraph.transaction.v1.TransactionService/SubmitTransactionStream
    request:
      id: "bidi-${seq}"
      sender: a
      receiver: b
      amount: 3
      nonce: "${seq}"
      content_hash: "${sha256:id,sender,receiver,amount,nonce,memo}"
    stream: {streams: 2, send_rate: 50, match: {request: id, response: id}, status_field: code}
    finality: &final
      rpc: aurigraph.transaction.v1.TransactionService/StreamTransactions
      match: {request: id, event: transaction.id}
      timeout: 2s
  - name: submit
    rpc: aurigraph.transaction.v1.TransactionService/SubmitTransaction
    weight: 2
    request:
      id: "one-${seq}"
      sender: a
      receiver: b
      amount: 5
      nonce: "${seq}"
      content_hash: "${sha256:id,sender,receiver,amount,nonce,memo}"
    finality: *final
  - name: batch
    rpc: aurigraph.transaction.v1.TransactionService/BatchSubmitTransactions
    request:
      batch_id: "b-${seq}"
      transactions:
        $repeat: 5
        $item:
          id: "batch-${seq}-${item}"
          sender: a
          receiver: b
          amount: 7
          nonce: "${item}"
          content_hash: "${sha256:id,sender,receiver,amount,nonce,memo}"
    finality:
      rpc: aurigraph.transaction.v1.TransactionService/StreamTransactions
      match: {request: transactions.id, event: transaction.id}
      timeout: 2s
  - name: replay
    rpc: aurigraph.transaction.v1.TransactionService/SubmitTransaction
    weight: 0.2
    request: &replayed
      id: "one-0"
      sender: a
      receiver: b
      amount: 5
      nonce: "0"
      content_hash: "${sha256:id,sender,receiver,amount,nonce,memo}"
    finality: *final
  - name: stream_replay
    rpc: aurigraph.transaction.v1.TransactionService/SubmitTransactionStream
    request: *replayed
    # After warm-up: by then "one-0" is committed, so every replay is refused.
    stream: {streams: 1, send_rate: 40, delay: 1500ms, match: {request: id, response: id},
             status_field: code}
    finality: *final
gates:
  - "lost == 0"
  - "duplicates == 0"
  - gate: "finality_p99 < 1s"
    operation: submit
  - gate: "finality_p99 < 1s"
    operation: stream
)";

const loadgen::OperationResult& Op(const RunResult& r, const std::string& name) {
  for (const auto& op : r.operations) {
    if (op.name == name) return op;
  }
  ADD_FAILURE() << "no operation " << name;
  return r.total;
}

TEST(Finality, EverySubmittedTransactionIsSeenFinalOnceAndRejectedOnesAreNotLost) {
  auto server = StartServer();
  auto result = RunYaml(kFinality, server->address());
  ASSERT_TRUE(result.ok()) << result.status();
  const auto& submit = Op(*result, "submit");
  const auto& submit_final = Op(*result, "submit.final");
  const auto& batch = Op(*result, "batch");
  const auto& batch_final = Op(*result, "batch.final");
  const auto& replay_final = Op(*result, "replay.final");
  ASSERT_TRUE(submit_final.finality && batch_final.finality && replay_final.finality);
  EXPECT_EQ(submit_final.kind, "finality");
  EXPECT_EQ(submit_final.finality->tracks, "submit");
  EXPECT_EQ(submit_final.finality->subscriptions, 1);
  // Every acknowledged transaction was seen final exactly once, from its
  // intended send time (so never before its own acknowledgement's send).
  EXPECT_GT(submit.ok, 300);
  EXPECT_EQ(submit_final.finality->tracked, submit.requests);
  EXPECT_EQ(submit_final.ok, submit.ok);
  EXPECT_EQ(submit_final.corrected->TotalCount(), submit.ok);
  EXPECT_EQ(batch_final.finality->tracked, 5 * batch.requests);
  EXPECT_EQ(batch_final.ok, 5 * batch.ok);
  for (const auto* f : {&submit_final, &batch_final, &replay_final}) {
    EXPECT_EQ(f->finality->lost, 0) << f->name;
    EXPECT_EQ(f->finality->duplicates, 0) << f->name;
    EXPECT_EQ(f->finality->final_without_ack, 0) << f->name;
  }
  // The replays of an id already committed are refused, never final, and not lost.
  const auto& replay = Op(*result, "replay");
  EXPECT_GT(replay.requests, 0);
  EXPECT_EQ(replay.ok, 0);
  EXPECT_EQ(replay_final.ok, 0);
  EXPECT_EQ(replay_final.finality->not_final_unacked, replay.requests);
  // Each message of a bidi submission stream is an item, acknowledged by its
  // matched reply; those refused in their reply are never final and not lost.
  const auto& stream = Op(*result, "stream");
  const auto& stream_final = Op(*result, "stream.final");
  const auto& stream_replay_final = Op(*result, "stream_replay.final");
  ASSERT_TRUE(stream.stream && stream_final.finality && stream_replay_final.finality);
  EXPECT_EQ(stream_final.finality->tracks, "stream");
  EXPECT_GT(stream.stream->measured_sent, 150);
  EXPECT_EQ(stream_final.finality->tracked, stream.stream->measured_sent);
  EXPECT_EQ(stream_final.ok, stream_final.finality->tracked);
  EXPECT_EQ(stream_final.corrected->TotalCount(), stream_final.ok);
  for (const auto* f : {&stream_final, &stream_replay_final}) {
    EXPECT_EQ(f->finality->lost, 0) << f->name;
    EXPECT_EQ(f->finality->duplicates, 0) << f->name;
    EXPECT_EQ(f->finality->final_without_ack, 0) << f->name;
  }
  EXPECT_GT(stream_replay_final.finality->tracked, 20);
  EXPECT_EQ(stream_replay_final.ok, 0);
  EXPECT_EQ(stream_replay_final.finality->not_final_unacked, stream_replay_final.finality->tracked);
  // Finality operations do not count the calls again.
  EXPECT_EQ(result->total.requests, submit.requests + batch.requests + replay.requests);
  for (const auto& gate : result->gates) EXPECT_TRUE(gate.passed) << gate.message;
  // Every item the server committed while measured was seen on the stream.
  EXPECT_LE(submit.ok + 5 * batch.ok + stream_final.ok,
            server->transactions().counters().accepted.load());
}

constexpr const char* kEvents = R"(
name: events
duration: 3s
max_generator_lag: 50ms
load: {model: open, rate: 200}
operations:
  - name: health
    rpc: aurigraph.approval.v1.ApprovalService/CheckHealth
events:
  - name: touch
    at: 1s
    exec: "echo marked; touch \"$MARK\""
  - name: fails
    at: 1500ms
    exec: "echo broken >&2; exit 3"
  - name: call
    at: 2s
    rpc: {call: aurigraph.approval.v1.ApprovalService/CheckHealth}
gates: ["recovery_time < 1s"]
)";

TEST(ScheduledEvents, RunAtTheirTimesAndAreMarkedInTheResultAndTheLog) {
  auto server = StartServer();
  const std::filesystem::path dir =
      std::filesystem::temp_directory_path() / absl::StrCat("events-test-", ::getpid());
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  const std::string mark = (dir / "mark").string();
  ::setenv("MARK", mark.c_str(), 1);
  auto scenario = loadgen::ParseScenario(kEvents, "events.yaml", {});
  ASSERT_TRUE(scenario.ok()) << scenario.status();
  auto log = loadgen::IntervalLogWriter::Create(dir.string());
  ASSERT_TRUE(log.ok()) << log.status();
  loadgen::RunOptions options;
  options.target = server->address();
  options.events_dir = dir.string();
  options.interval_observers.push_back(log->get());
  auto result = loadgen::RunScenario(*scenario, options);
  ASSERT_TRUE(result.ok()) << result.status();
  ASSERT_EQ(result->events.size(), 3u);
  const auto& touch = result->events[0];
  EXPECT_EQ(touch.name, "touch");
  EXPECT_TRUE(touch.ok) << touch.error;
  EXPECT_EQ(touch.exit_code, 0);
  EXPECT_EQ(touch.output, "marked\n");
  EXPECT_TRUE(std::filesystem::exists(mark));
  // It ran at its time (the machine may be loaded: within half a second).
  EXPECT_GE(touch.started_seconds, 1.0);
  EXPECT_LT(touch.started_seconds, 1.5);
  const auto& fails = result->events[1];
  EXPECT_FALSE(fails.ok);
  EXPECT_EQ(fails.exit_code, 3);
  EXPECT_EQ(fails.output, "broken\n");
  const auto& call = result->events[2];
  EXPECT_TRUE(call.ok) << call.error;
  EXPECT_NE(call.output.find("SERVING"), std::string::npos) << call.output;
  // Nothing failed, so every request meant after an event succeeded at once.
  for (const auto& e : result->events) {
    EXPECT_TRUE(e.recovery_measured);
    EXPECT_GE(e.first_success_after_seconds, 0) << e.name;
    EXPECT_LT(e.first_success_after_seconds, 0.5) << e.name;
    EXPECT_TRUE(e.failed_by_code.empty()) << e.name;
  }
  ASSERT_EQ(result->gates.size(), 1u);
  EXPECT_TRUE(result->gates[0].passed) << result->gates[0].message;
  // The markers are in the interval log, so a killed run keeps them.
  auto recovered = loadgen::RecoverRun(dir.string());
  ASSERT_TRUE(recovered.ok()) << recovered.status();
  ASSERT_EQ(recovered->events.size(), 3u);
  EXPECT_EQ(recovered->events[1].name, "fails");
  EXPECT_EQ(recovered->events[1].exit_code, 3);
  EXPECT_FALSE(recovered->events[1].recovery_measured);
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace aurigraph
