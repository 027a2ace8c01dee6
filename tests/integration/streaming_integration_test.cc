// Streaming against the reference server over real gRPC on loopback: every
// call kind, message counts on both sides, per-message latency against
// injected ground truth, a slow consumer, and 1,000 streams on one connection.
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <thread>

#include "aurigraph/transaction/v1/transaction.grpc.pb.h"
#include "aurigraph/transaction/v1/transaction.pb.h"
#include "reference-server/transaction/transaction_store.h"
#include "tests/integration/harness.h"

namespace aurigraph {
namespace {

namespace tv1 = transaction::v1;

const loadgen::OperationResult& Op(const loadgen::RunResult& r, const std::string& name) {
  for (const auto& op : r.operations) {
    if (op.name == name) return op;
  }
  ADD_FAILURE() << "no operation " << name;
  return r.operations.front();
}

void WaitUntil(const std::function<bool()>& done) {
  for (int i = 0; i < 500 && !done(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

// Server streaming: each subscriber receives every committed transaction; the
// loadgen's count equals the server's, and the real-time latency is sane.
TEST(StreamingIntegration, ServerStreamSubscribersReceiveEveryEvent) {
  EXPECT_WHEN_QUIET([&]() -> testing::AssertionResult {
    auto server = StartServer();
    auto result = RunYaml(R"(
name: events
duration: 3s
workers: 1
connections: 1
load: {model: open, rate: 100}
operations:
  - name: subscribe
    rpc: aurigraph.transaction.v1.TransactionService/StreamTransactions
    stream: {streams: 4, delay: 0s, timestamp_field: sent_at_unix_nanos}
  - name: commit
    rpc: aurigraph.transaction.v1.TransactionService/BatchSubmitTransactions
    count_field: accepted
    request:
      transactions:
        $repeat: 20
        $item:
          id: "ev-${run}-${seq}-${item}"
          sender: a
          receiver: b
          amount: 1
          nonce: "${item}"
          content_hash: "${sha256:id,sender,receiver,amount,nonce,memo}"
)",
                          server->address());
    if (!result.ok()) return testing::AssertionFailure() << result.status();
    const auto& commit = Op(*result, "commit");
    const auto& subscribe = Op(*result, "subscribe");
    if (!subscribe.stream) return testing::AssertionFailure() << "no stream results";
    EXPECT_EQ(server->transactions().counters().accepted.load(), 20 * commit.ok);
    // What the server wrote is what the loadgen received and timed.
    const int64_t received = subscribe.stream->messages_received;
    EXPECT_EQ(server->streams().events_written.load(), received);
    EXPECT_EQ(subscribe.corrected->TotalCount(), received);
    EXPECT_LE(received, 4 * 20 * commit.ok);
    EXPECT_EQ(subscribe.stream->streams_ended_early, 0);
    EXPECT_EQ(subscribe.stream->streams_completed, 4);
    // A subscriber that disconnects releases everything.
    WaitUntil([&] { return server->streams().subscribers.load() == 0; });
    EXPECT_EQ(server->streams().subscribers.load(), 0);
    // What the timing decides: every batch sent in time; subscriptions and the
    // first batches start together, so a subscriber misses what was committed
    // before it subscribed, on a loaded 2-core machine up to tens of
    // milliseconds of batches (allowed: half a second's, 50 batches of 20), and
    // nothing after; loopback latency and the rate of events.
    if (commit.ok != 300) return testing::AssertionFailure() << commit.ok << " batches OK";
    if (received < 4 * (6000 - 50 * 20))
      return testing::AssertionFailure() << received << " events";
    const int64_t p50 = subscribe.corrected->ValueAtPercentile(50);
    if (p50 >= 20'000) return testing::AssertionFailure() << "p50 " << p50 << " us";
    if (std::abs(subscribe.stream->received_rate - 8000) > 400) {
      return testing::AssertionFailure() << subscribe.stream->received_rate << " events/s";
    }
    return testing::AssertionSuccess();
  });
}

// Bidi: every request answered and matched by id; with a fixed injected latency
// L, each message's latency (from its intended send time) has p50 in
// [L, InjectedLatencyUpperBound], the wake-ups' lateness measured by the
// run's own send lag (see the unary accuracy test).
TEST(StreamingIntegration, BidiRepliesAreMatchedAndTimedAgainstInjectedLatency) {
  refserver::FaultConfig faults;
  ASSERT_TRUE(refserver::ParseLatencySpec("fixed:5ms", &faults).ok());
  EXPECT_WHEN_QUIET([&]() -> testing::AssertionResult {
    auto server = StartServer(faults);
    auto result = RunYaml(R"(
name: bidi
duration: 3s
workers: 1
connections: 1
# Messages due before the end still go out this long after it: a loaded
# machine's stall at the end (20-30 ms seen) must not drop them from the count.
max_generator_lag: 50ms
operations:
  - name: submit_stream
    rpc: aurigraph.transaction.v1.TransactionService/SubmitTransactionStream
    request:
      id: "bd-${run}-${seq}"
      sender: a
      receiver: b
      amount: 1
      nonce: "${msg}"
      content_hash: "${sha256:id,sender,receiver,amount,nonce,memo}"
    stream:
      streams: 4
      send_rate: 200
      match: {request: id, response: id}
      status_field: code
)",
                          server->address());
    if (!result.ok()) return testing::AssertionFailure() << result.status();
    const auto& op = Op(*result, "submit_stream");
    if (!op.stream) return testing::AssertionFailure() << "no stream results";
    const auto& s = *op.stream;
    EXPECT_EQ(s.messages_received, s.messages_sent);
    EXPECT_EQ(server->streams().messages_received.load(), s.messages_sent);
    EXPECT_EQ(server->streams().replies_written.load(), s.messages_sent);
    EXPECT_EQ(server->transactions().counters().accepted.load(), s.messages_sent);
    EXPECT_EQ(s.unmatched_replies, 0);
    EXPECT_EQ(s.message_codes.at("OK"), s.measured_received);
    EXPECT_EQ(op.corrected->TotalCount(), s.messages_received);
    EXPECT_EQ(s.streams_completed, 4);
    EXPECT_EQ(s.streams_failed + s.streams_ended_early, 0);
    // On the wire: every message and its serialized bytes, and the whole bytes
    // of the run's one operation (HTTP/2 frames and all) as the kernel counted them.
    if (op.wire == nullptr) return testing::AssertionFailure() << "no wire counts";
    EXPECT_EQ(op.wire->requests, s.messages_sent);
    EXPECT_EQ(op.wire->responses, s.messages_received);
    EXPECT_GT(op.wire->request_payload_bytes, 40 * s.messages_sent);
    EXPECT_GT(op.wire->response_payload_bytes, 10 * s.messages_received);
    EXPECT_GT(op.wire->request_bytes, op.wire->request_payload_bytes);
    EXPECT_GT(op.wire->response_bytes, op.wire->response_payload_bytes);
    const int64_t p50 = op.corrected->ValueAtPercentile(50);
    EXPECT_GE(p50, 5'000);  // nothing answers early
    // What the timing decides: every message due in the run is either sent or
    // counted as not sent (a write held past the end's grace keeps a few back),
    // and the latency's upper bound.
    if (std::abs(static_cast<double>(s.messages_sent + s.messages_not_sent) - 4 * 600) > 8 ||
        s.messages_sent < 4 * 600 * 98 / 100) {
      return testing::AssertionFailure()
             << s.messages_sent << " sent, " << s.messages_not_sent << " not sent";
    }
    const int64_t wake_up_late = s.histograms.at("send_lag")->ValueAtPercentile(50);
    if (p50 > InjectedLatencyUpperBound(5'000, wake_up_late)) {
      return testing::AssertionFailure()
             << "p50 " << p50 << " us; sends went out " << wake_up_late << " us late (p50)";
    }
    return testing::AssertionSuccess();
  });
}

// A run of streams only: its open-loop rate paces their messages, in total (as
// `run --call ... --rate` asks), instead of being silently ignored.
TEST(StreamingIntegration, AnOpenLoopRatePacesTheMessagesOfAStreamOnlyRun) {
  auto server = StartServer();
  // A server stream sends one request: a rate has nothing to pace.
  auto refused = RunYaml(R"(
duration: 1s
load: {model: open, rate: 300}
operations:
  - rpc: aurigraph.transaction.v1.TransactionService/StreamTransactions
    stream: {streams: 1}
)",
                         server->address());
  ASSERT_FALSE(refused.ok());
  EXPECT_TRUE(absl::IsInvalidArgument(refused.status()));
  EXPECT_NE(refused.status().message().find("load.rate: nothing to pace"), std::string::npos)
      << refused.status();

  EXPECT_WHEN_QUIET([&]() -> testing::AssertionResult {
    const int64_t received_before = server->streams().messages_received.load();
    auto result = RunYaml(R"(
name: paced
duration: 2s
workers: 1
load: {model: open, rate: 300}
operations:
  - name: submit_stream
    rpc: aurigraph.transaction.v1.TransactionService/SubmitTransactionStream
    request: {id: "pc-${run}-${seq}", sender: a, receiver: b, amount: 1, nonce: "${msg}"}
    stream: {streams: 3}
)",
                          server->address());
    if (!result.ok()) return testing::AssertionFailure() << result.status();
    EXPECT_EQ(result->load_model, "streams");
    EXPECT_DOUBLE_EQ(result->target_rate, 300);
    const auto& s = *Op(*result, "submit_stream").stream;
    EXPECT_EQ(server->streams().messages_received.load() - received_before, s.messages_sent);
    // What the timing decides: the messages were sent at the rate.
    if (std::abs(static_cast<double>(s.messages_sent) - 600) > 6 ||
        std::abs(s.sent_rate - 300) > 15) {
      return testing::AssertionFailure()
             << s.messages_sent << " messages sent, " << s.sent_rate << "/s";
    }
    return testing::AssertionSuccess();
  });
}

// Client streaming next to unary in one mix: votes are streamed for approvals
// submitted by a unary operation, and the server counts every one.
TEST(StreamingIntegration, ClientStreamVotesAlongsideUnarySubmissions) {
  EXPECT_WHEN_QUIET([&]() -> testing::AssertionResult {
    auto server = StartServer();
    auto result = RunYaml(R"(
name: votes
duration: 3s
workers: 1
connections: 1
load: {model: open, rate: 200}
operations:
  - name: submit
    rpc: aurigraph.approval.v1.ApprovalService/SubmitApprovalRequest
    request: {approval_id: "cv-${run}-${seq}", total_validators: 2, required_approvals: 2}
  - name: votes
    rpc: aurigraph.approval.v1.ApprovalService/BatchSubmitResponses
    request:
      approval_id: "cv-${run}-${msg}"
      validator_id: "v-${stream}"
      decision: VALIDATOR_DECISION_APPROVE
    stream: {streams: 2, send_rate: 200, delay: 100ms}
)",
                          server->address());
    if (!result.ok()) return testing::AssertionFailure() << result.status();
    const auto& votes = *Op(*result, "votes").stream;
    EXPECT_EQ(server->streams().messages_received.load(), votes.messages_sent);
    EXPECT_EQ(server->approvals().counters().votes.load(), votes.messages_sent);
    EXPECT_EQ(votes.messages_received, 2);  // one summary per stream, at its half-close
    EXPECT_EQ(votes.streams_completed, 2);
    // What the timing decides: every send made in time, and each vote found its
    // approval (sent 100 ms after it) and both validators' votes approved it.
    if (Op(*result, "submit").ok != 600) {
      return testing::AssertionFailure() << Op(*result, "submit").ok << " submissions OK";
    }
    if (std::abs(static_cast<double>(votes.messages_sent) - 2 * 580) > 10) {
      return testing::AssertionFailure() << votes.messages_sent << " votes sent";
    }
    const int64_t approved = server->approvals().counters().approved.load();
    if (approved < votes.messages_sent / 2 - 2) {
      return testing::AssertionFailure()
             << approved << " approved of " << votes.messages_sent << " votes";
    }
    return testing::AssertionSuccess();
  });
}

// A subscriber that stops reading is cut off at its queue bound; one that keeps
// up receives everything, and the server's memory for the slow one stays bounded.
TEST(StreamingIntegration, SlowSubscriberIsCutOffAndDoesNotStallOthers) {
  refserver::ServerOptions options;
  options.stream_queue_bound = 2000;
  auto server = StartServer(options);
  auto channel = grpc::CreateChannel(server->address(), grpc::InsecureChannelCredentials());
  auto stub = tv1::TransactionService::NewStub(channel);

  grpc::ClientContext slow_context;
  tv1::StreamRequest all;
  auto slow = stub->StreamTransactions(&slow_context, all);  // never read until the end
  grpc::ClientContext fast_context;
  auto fast = stub->StreamTransactions(&fast_context, all);
  WaitUntil([&] { return server->streams().subscribers.load() == 2; });
  ASSERT_EQ(server->streams().subscribers.load(), 2);

  constexpr int kBatches = 40, kPerBatch = 500;
  std::atomic<int64_t> fast_received{0};
  std::thread reader([&] {
    tv1::CommittedTransaction event;
    while (fast_received < kBatches * kPerBatch && fast->Read(&event)) ++fast_received;
  });
  for (int b = 0; b < kBatches; ++b) {
    tv1::BatchRequest batch;
    for (int i = 0; i < kPerBatch; ++i) {
      tv1::Transaction* tx = batch.add_transactions();
      tx->set_id("slow-" + std::to_string(b) + "-" + std::to_string(i));
      tx->set_sender("a");
      tx->set_receiver("b");
      tx->set_amount(1);
      tx->set_memo(std::string(200, 'x'));
      tx->set_content_hash(refserver::TransactionContentHash(*tx));
    }
    grpc::ClientContext context;
    tv1::BatchResponse response;
    ASSERT_TRUE(stub->BatchSubmitTransactions(&context, batch, &response).ok());
    ASSERT_EQ(response.accepted(), kPerBatch);
    // Publish no faster than the fast subscriber reads: it keeps up by construction.
    WaitUntil([&] { return fast_received.load() >= (b + 1) * kPerBatch - 1000; });
  }
  reader.join();
  EXPECT_EQ(fast_received, kBatches * kPerBatch);
  EXPECT_EQ(server->streams().overflowed.load(), 1);
  EXPECT_LE(server->streams().queue_peak.load(), 2000);

  // The slow reader gets what was in flight, then the cut-off.
  tv1::CommittedTransaction event;
  int64_t slow_received = 0;
  while (slow->Read(&event)) ++slow_received;
  const grpc::Status status = slow->Finish();
  EXPECT_EQ(status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED) << status.error_message();
  EXPECT_LT(slow_received, kBatches * kPerBatch);
  fast_context.TryCancel();
  fast->Finish();
  WaitUntil([&] { return server->streams().subscribers.load() == 0; });
  EXPECT_EQ(server->streams().subscribers.load(), 0);
}

// 1,000 concurrent streams multiplexed on one connection, held for the whole run.
// Streams against a server that dies: reopened with backoff, not in a hot loop,
// and the outage reported as failed opens.
TEST(StreamingIntegration, StreamsToADeadServerBackOff) {
  auto server = StartServer();
  std::thread killer([&server] {
    std::this_thread::sleep_for(std::chrono::milliseconds(1000));
    server->Shutdown(0);
  });
  auto result = RunYaml(R"(
duration: 4s
operations:
  - name: subscribers
    rpc: aurigraph.transaction.v1.TransactionService/StreamTransactions
    request: {}
    stream: {streams: 8, reopen_backoff: 50ms, reopen_backoff_max: 500ms}
)",
                        server->address());
  killer.join();
  ASSERT_TRUE(result.ok()) << result.status();
  const auto& s = *Op(*result, "subscribers").stream;
  // About 3 s of outage: per stream 50+100+200+400+500+500+500+500 ms, with jitter,
  // at most ~12 failed opens; an immediate reopen made tens of thousands.
  EXPECT_GT(s.streams_failed_to_open, 0);
  EXPECT_LE(s.streams_failed_to_open, 8 * 14);
  EXPECT_EQ(s.min_open_streams, 0);
  EXPECT_GT(Op(*result, "subscribers").status_codes.at("UNAVAILABLE"), 0);
  // Each failed stream with gRPC's reason, counted once.
  const auto& kept = Op(*result, "subscribers").error_messages.at("UNAVAILABLE");
  ASSERT_FALSE(kept.messages.empty());
  EXPECT_FALSE(kept.messages[0].message.empty());
  int64_t counted = kept.other;
  for (const auto& m : kept.messages) counted += m.count;
  EXPECT_EQ(counted, Op(*result, "subscribers").status_codes.at("UNAVAILABLE"));
}

TEST(StreamingIntegration, ThousandStreamsOnOneConnection) {
  EXPECT_WHEN_QUIET([&]() -> testing::AssertionResult {
    auto server = StartServer();
    auto result = RunYaml(R"(
name: many
duration: 4s
warmup: 2s
workers: 1
connections: 1
load: {model: open, rate: 500}
operations:
  - name: subscribe
    rpc: aurigraph.transaction.v1.TransactionService/StreamTransactions
    request: {account: "acct-${stream}"}
    stream: {streams: 1000, timestamp_field: sent_at_unix_nanos}
  - name: commit
    rpc: aurigraph.transaction.v1.TransactionService/SubmitTransaction
    request:
      id: "many-${run}-${seq}"
      sender: "acct-${rand_int:0:999}"
      receiver: external
      amount: 1
      nonce: "${seq}"
      content_hash: "${sha256:id,sender,receiver,amount,nonce,memo}"
gates:
  - {gate: "min_open_streams >= 1000", operation: subscribe}
  - {gate: "streams_ended_early <= 0", operation: subscribe}
)",
                          server->address());
    if (!result.ok()) return testing::AssertionFailure() << result.status();
    const auto& s = *Op(*result, "subscribe").stream;
    EXPECT_EQ(s.streams_opened, 1000);
    EXPECT_EQ(s.streams_failed + s.streams_ended_early, 0);
    EXPECT_EQ(server->streams().subscriptions.load(), 1000);
    // Each commit names one subscribed account as its sender: one event each.
    EXPECT_GE(s.messages_received, Op(*result, "commit").ok);
    WaitUntil([&] { return server->streams().subscribers.load() == 0; });
    EXPECT_EQ(server->streams().subscribers.load(), 0);
    // What the timing decides: every stream open by the end of the warm-up and
    // held to the end; commits before every stream was subscribed may miss
    // some, none after the warm-up do.
    if (s.min_open_streams != 1000 || s.streams_completed != 1000 || !result->passed()) {
      return testing::AssertionFailure()
             << s.min_open_streams << " streams open at the least, " << s.streams_completed
             << " completed; " << result->generator.verdict;
    }
    if (s.messages_received > Op(*result, "commit").ok + result->generator.warmup_completions) {
      return testing::AssertionFailure()
             << s.messages_received << " events for " << Op(*result, "commit").ok << " commits";
    }
    return testing::AssertionSuccess();
  });
}

}  // namespace
}  // namespace aurigraph
