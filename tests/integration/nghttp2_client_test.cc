// The nghttp2 client (channel.client: nghttp2) against the reference server,
// whose HTTP/2 and gRPC framing are gRPC's library's: every call the server
// handled is counted with the code and message it sent, metadata arrives as
// gRPC's library would send it, kept responses are read, deadlines end calls,
// a dead server fails calls UNAVAILABLE and a restarted one is reconnected
// to, and latency against an injected delay is as accurate as the library's.
#include <gtest/gtest.h>

#include <chrono>
#include <thread>

#include "absl/strings/str_cat.h"
#include "common/clock/clock.h"
#include "loadgen/transport/host_port.h"
#include "loadgen/transport/nghttp2_grpc_transport.h"
#include "tests/integration/harness.h"

namespace aurigraph {
namespace {

constexpr const char* kNghttp2 = "channel: {client: nghttp2}\n";

// A reference server answering after `latency`, and a transport of `slots`
// calls to its CheckHealth that the test drives itself (null on failure).
struct DelayedServer {
  DelayedServer(const std::string& latency, uint32_t slots) {
    refserver::FaultConfig faults;
    EXPECT_TRUE(refserver::ParseLatencySpec(latency, &faults).ok());
    server = StartServer(faults);
    if (server == nullptr) return;
    const std::string address = server->address();
    auto resolved = loadgen::ResolveHostPort(address);
    if (!resolved.ok()) return;
    transport = std::make_unique<loadgen::Nghttp2GrpcTransport>(
        loadgen::Nghttp2Endpoint{resolved->front(), loadgen::SocketAddressLength(resolved->front()),
                                 address, address},
        loadgen::Nghttp2Connections{.connect_timeout_nanos = 5'000'000'000,
                                    .max_message_bytes = 1 << 20},
        std::vector<loadgen::UnaryMethod>{
            {.path = "/aurigraph.approval.v1.ApprovalService/CheckHealth"}},
        slots);
  }
  std::unique_ptr<refserver::ReferenceServer> server;
  std::unique_ptr<loadgen::Nghttp2GrpcTransport> transport;
};

absl::StatusOr<loadgen::RunResult> RunNghttp2(const std::string& yaml, const std::string& target) {
  return RunYaml(absl::StrCat(kNghttp2, yaml), target);
}

TEST(Nghttp2Client, EveryCallIsCountedAsTheServerAnsweredIt) {
  auto server = StartServer();
  auto result = RunNghttp2(R"(
requests: 3000
workers: 2
connections: 3
load: {model: closed, concurrency: 32}
operations:
  - name: approvals
    rpc: aurigraph.approval.v1.ApprovalService/SubmitApprovalRequest
    request: {approval_id: "h2-${uuid}", total_validators: 3, required_approvals: 2}
  - name: transactions
    rpc: aurigraph.transaction.v1.TransactionService/SubmitTransaction
    request:
      id: "h2-${seq}"
      sender: a
      receiver: b
      amount: 5
      nonce: "${seq}"
      content_hash: "${sha256:id,sender,receiver,amount,nonce,memo}"
  - name: lookup_missing
    rpc: aurigraph.approval.v1.ApprovalService/GetApprovalStatus
    weight: 0.2
    request: {approval_id: "does-not-exist"}
)",
                           server->address());
  ASSERT_TRUE(result.ok()) << result.status();
  const auto& ops = result->operations;
  ASSERT_EQ(ops.size(), 3u);
  EXPECT_EQ(result->total.requests, 3000);
  EXPECT_EQ(server->handled().total(), 3000);
  EXPECT_EQ(ops[0].ok, ops[0].requests);
  EXPECT_EQ(ops[1].ok, ops[1].requests);
  EXPECT_EQ(server->approvals().counters().submitted.load(), ops[0].requests);
  EXPECT_EQ(server->transactions().counters().accepted.load(), ops[1].requests);
  EXPECT_GT(ops[2].requests, 0);
  EXPECT_EQ(ops[2].status_codes.at("NOT_FOUND"), ops[2].requests);
  EXPECT_EQ(server->handled().by_code[5].load(), ops[2].requests);
  // The payloads counted are the messages sent and received, and the kernel
  // counted the connections' whole bytes.
  ASSERT_NE(ops[1].wire, nullptr);
  EXPECT_EQ(ops[1].wire->requests, ops[1].requests);
  EXPECT_EQ(ops[1].wire->responses, ops[1].requests);
  EXPECT_GT(ops[1].wire->request_payload_bytes, 60 * ops[1].requests);
  EXPECT_GT(ops[1].wire->response_payload_bytes, 0);
}

TEST(Nghttp2Client, ErrorsKeepTheServersCodeAndMessage) {
  refserver::FaultConfig faults;
  faults.error_rate = 0.2;
  faults.error_code = 8;  // RESOURCE_EXHAUSTED
  auto server = StartServer(faults);
  auto result = RunNghttp2(R"(
requests: 2000
load: {model: closed, concurrency: 8}
operations: [{rpc: aurigraph.approval.v1.ApprovalService/CheckHealth}]
)",
                           server->address());
  ASSERT_TRUE(result.ok()) << result.status();
  const auto& total = result->total;
  EXPECT_EQ(total.requests, 2000);
  EXPECT_EQ(total.status_codes.at("RESOURCE_EXHAUSTED"), server->handled().by_code[8].load());
  EXPECT_EQ(total.ok + total.status_codes.at("RESOURCE_EXHAUSTED"), total.requests);
  EXPECT_NEAR(total.error_ratio(), 0.2, 0.04);
  ASSERT_EQ(total.error_messages.size(), 1u);
  const auto& kept = total.error_messages.at("RESOURCE_EXHAUSTED");
  ASSERT_EQ(kept.messages.size(), 1u);
  EXPECT_EQ(kept.messages[0].message, "injected fault");
  EXPECT_EQ(kept.messages[0].count, server->handled().by_code[8].load());
}

TEST(Nghttp2Client, MetadataArrivesAsTheLibrarySendsIt) {
  refserver::ServerOptions options;
  options.count_metadata = {"x-user", "x-tenant"};
  auto server = StartServer(options);
  auto result = RunNghttp2(R"(
requests: 300
load: {model: closed, concurrency: 4}
metadata: {x-tenant: acme}
operations:
  - rpc: aurigraph.approval.v1.ApprovalService/CheckHealth
    metadata: {x-user: "u-${pick:a|b|c}"}
)",
                           server->address());
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->total.ok, 300);
  EXPECT_EQ(server->metadata_count("x-tenant", "acme"), 300);
  int64_t users = 0;
  for (const char* user : {"u-a", "u-b", "u-c"}) users += server->metadata_count("x-user", user);
  EXPECT_EQ(users, 300);
}

TEST(Nghttp2Client, KeptResponsesAreReadForTheirCounts) {
  auto server = StartServer();
  auto result = RunNghttp2(R"(
requests: 40
load: {model: closed, concurrency: 4}
operations:
  - rpc: aurigraph.transaction.v1.TransactionService/BatchSubmitTransactions
    count_field: accepted
    request:
      transactions:
        $repeat: 25
        $item:
          id: "b-${seq}-${item}"
          sender: a
          receiver: b
          amount: 1
          nonce: "${item}"
          content_hash: "${sha256:id,sender,receiver,amount,nonce,memo}"
)",
                           server->address());
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->total.ok, 40);
  EXPECT_EQ(server->transactions().counters().accepted.load(), 1000);
  EXPECT_EQ(result->operations[0].items, 1000);
}

// The server answers after 500 ms: only a deadline the client keeps ends
// every call first.
TEST(Nghttp2Client, DeadlinesEndCallsDeadlineExceeded) {
  refserver::FaultConfig faults;
  ASSERT_TRUE(refserver::ParseLatencySpec("fixed:500ms", &faults).ok());
  auto server = StartServer(faults);
  auto result = RunNghttp2(R"(
requests: 20
load: {model: closed, concurrency: 4}
operations: [{rpc: aurigraph.approval.v1.ApprovalService/CheckHealth, deadline: 10ms}]
)",
                           server->address());
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->total.requests, 20);
  EXPECT_EQ(result->total.status_codes.at("DEADLINE_EXCEEDED"), 20);
}

// Killed 1 s into the run: the calls after fail UNAVAILABLE (those in flight
// at the kill as the server ended them), none of them timed as a success; a
// server started again at the same address 1.5 s later is reconnected to.
TEST(Nghttp2Client, ADeadServerFailsUnavailableAndARestartedOneIsReconnectedTo) {
  refserver::FaultConfig faults;
  ASSERT_TRUE(refserver::ParseLatencySpec("fixed:2ms", &faults).ok());
  auto server = StartServer(faults);
  const std::string address = server->address();
  std::thread restarter([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(1000));
    server->Shutdown(0);
    std::this_thread::sleep_for(std::chrono::milliseconds(1500));
    refserver::ServerOptions options;
    options.listen = address;
    auto restarted = refserver::ReferenceServer::Start(options);
    ASSERT_TRUE(restarted.ok()) << restarted.status();
    server = *std::move(restarted);
  });
  auto result = RunNghttp2(R"(
duration: 4s
interval: 500ms
load: {model: open, rate: 200}
operations: [{rpc: aurigraph.approval.v1.ApprovalService/CheckHealth}]
)",
                           address);
  restarter.join();
  ASSERT_TRUE(result.ok()) << result.status();
  const auto& total = result->total;
  // Calls in flight at the kill end as the dying server ends them (a
  // cancelled or reset stream): a handful at 200/s, seen under load.
  std::string codes;
  for (const auto& [code, count] : total.status_codes)
    codes += code + "=" + std::to_string(count) + " ";
  EXPECT_GE(total.ok + total.status_codes.at("UNAVAILABLE") + 10, total.requests) << codes;
  EXPECT_LE(total.ok + total.status_codes.at("UNAVAILABLE"), total.requests) << codes;
  EXPECT_GT(total.status_codes.at("UNAVAILABLE"), 50);
  EXPECT_EQ(total.corrected->TotalCount(), total.ok);
  // Before the kill and after the restart, calls succeed.
  const auto& points = result->timeline.points;
  ASSERT_GE(points.size(), 8u);
  EXPECT_GT(points[0].operations[0].timed, 50);
  EXPECT_EQ(points[3].operations[0].timed, 0);
  EXPECT_GT(points[7].operations[0].timed, 50);
  EXPECT_GT(server->handled().total(), 50);
}

TEST(Nghttp2Client, FixedInjectedLatencyIsMeasuredWithinTheWakeUpFloor) {
  refserver::FaultConfig faults;
  ASSERT_TRUE(refserver::ParseLatencySpec("fixed:5ms", &faults).ok());
  auto server = StartServer(faults);
  EXPECT_WHEN_QUIET([&] { return MeasuresInjectedFiveMilliseconds(server->address(), kNghttp2); });
}

// A call that ends while the driver sleeps through is stamped when its last
// frame arrived, not when the sleep ended: 60 ms calls slept through for
// 200 ms are stamped about 60 ms after their start. A wait with a call in
// flight ends at its time, or at the completion.
TEST(Nghttp2Client, CallsSleptThroughAreStampedWhenTheyEnded) {
  DelayedServer delayed("fixed:60ms", 2);
  ASSERT_NE(delayed.transport, nullptr);
  loadgen::Nghttp2GrpcTransport& transport = *delayed.transport;
  const auto now = [] { return SteadyClock::Instance().NowNanos(); };
  EXPECT_WHEN_QUIET([&]() -> testing::AssertionResult {
    loadgen::Transport::Completion completion;
    for (int call = 0; call < 3; ++call) {
      const int64_t sent = now();
      transport.Start(0, 0, "", {});
      // A stamp taken at the sleep's end would be 140 ms later than the call's.
      transport.SleepThrough(200'000'000);
      if (!transport.Next(0, &completion)) {
        return testing::AssertionFailure() << "no completion kept through a 200 ms sleep";
      }
      if (completion.status_code != 0) {
        return testing::AssertionFailure() << "the call failed: " << completion.status_message;
      }
      const int64_t took_us = (completion.completed_nanos - sent) / 1'000;
      if (took_us < 60'000 || took_us > 150'000) {
        return testing::AssertionFailure()
               << "a 60 ms call slept through was stamped " << took_us << " us after its start";
      }
      transport.Start(1, 0, "", {});
      const int64_t start = now();
      if (transport.Next(10'000'000, &completion)) {
        return testing::AssertionFailure() << "a 60 ms call completed within a 10 ms wait";
      }
      if (now() - start < 10'000'000) {
        return testing::AssertionFailure() << "a 10 ms wait ended early";
      }
      if (!transport.Next(1'000'000'000, &completion) || completion.slot != 1 ||
          completion.status_code != 0) {
        return testing::AssertionFailure() << "no completion within 1 s of a 60 ms call";
      }
      if (const int64_t took_us = (now() - start) / 1'000; took_us > 150'000) {
        return testing::AssertionFailure() << "a 60 ms call was seen after " << took_us << " us";
      }
    }
    return testing::AssertionSuccess();
  });
}

// A response read late (the worker busy, or woken late) is stamped when the
// kernel received it: 20 ms calls read 30 ms after their start are stamped
// 20 ms after it, as a call read at once is. (A frame the server sends after
// the response and before the read shares its stamp, one read having one
// stamp, the later: gRPC's server sends one about 20 ms after this response,
// so the read comes 10 ms after it.)
TEST(Nghttp2Client, AResponseReadLateIsStampedWhenItArrived) {
  DelayedServer delayed("fixed:20ms", 1);
  ASSERT_NE(delayed.transport, nullptr);
  loadgen::Nghttp2GrpcTransport& transport = *delayed.transport;
  const auto now = [] { return SteadyClock::Instance().NowNanos(); };
  EXPECT_WHEN_QUIET([&]() -> testing::AssertionResult {
    loadgen::Transport::Completion completion;
    for (int call = 0; call < 3; ++call) {
      const int64_t sent = now();
      transport.Start(0, 0, "", {});
      // Written at once, then not read for 30 ms.
      if (transport.Next(0, &completion)) return testing::AssertionFailure() << "ended at once";
      std::this_thread::sleep_for(std::chrono::milliseconds(30));
      const int64_t read_at = now();
      if (!transport.Next(1'000'000'000, &completion) || completion.status_code != 0) {
        return testing::AssertionFailure() << "no good completion of a 20 ms call";
      }
      const int64_t took_us = (completion.completed_nanos - sent) / 1'000;
      if (took_us < 20'000 || completion.completed_nanos >= read_at - 5'000'000) {
        return testing::AssertionFailure()
               << "a 20 ms call read after " << (read_at - sent) / 1'000 << " us was stamped "
               << took_us << " us after its start";
      }
    }
    return testing::AssertionSuccess();
  });
}

TEST(Nghttp2Client, WhatOnlyTheLibraryDoesIsRefusedUpFront) {
  const auto refused = [](const std::string& yaml) {
    return std::string(loadgen::ParseScenario(yaml, "test.yaml", {}).status().message());
  };
  const std::string rest = R"(
requests: 1
operations: [{rpc: aurigraph.approval.v1.ApprovalService/CheckHealth}]
)";
  EXPECT_EQ(refused("channel: {client: nghttp2, tls: true}" + rest),
            "test.yaml: channel.client: nghttp2 calls are plaintext: no TLS");
  EXPECT_EQ(refused("channel: {client: nghttp2, compression: gzip}" + rest),
            "test.yaml: channel.client: nghttp2 calls are not compressed");
  EXPECT_EQ(refused("channel: {client: h3}" + rest),
            "test.yaml: channel.client: expected grpc or nghttp2");
  auto streaming = RunNghttp2(R"(
duration: 1s
load: {model: open, rate: 10}
operations: [{name: s, rpc: aurigraph.transaction.v1.TransactionService/StreamTransactions}]
)",
                              "127.0.0.1:1");
  EXPECT_EQ(streaming.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(streaming.status().message(),
            "operation 's': aurigraph.transaction.v1.TransactionService/StreamTransactions "
            "streams: channel.client nghttp2 drives unary calls only");
}

}  // namespace
}  // namespace aurigraph
