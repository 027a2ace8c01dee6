// Driving a service from its .proto files alone (no generated code for it in
// the loadgen's path): unary and bidi against the reference server, and the
// errors a user sees for a broken .proto or a method it does not declare.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "absl/strings/str_cat.h"
#include "tests/integration/harness.h"

namespace aurigraph {
namespace {

const std::string kProtoDir = PROTO_DIR;

TEST(RuntimeProto, UnaryAndBidiFromTheProtoFilesAlone) {
  auto server = StartServer();
  auto result = RunYaml(absl::StrCat(R"(
duration: 2s
proto: )",
                                     kProtoDir, R"(/aurigraph/approval/v1/approval.proto
import_paths: [)",
                                     kProtoDir, R"(]
load: {model: open, rate: 300}
operations:
  - name: submit
    rpc: aurigraph.approval.v1.ApprovalService/SubmitApprovalRequest
    request: {approval_id: "rt-${uuid}", total_validators: 3, required_approvals: 2}
  - name: votes
    rpc: aurigraph.approval.v1.ApprovalService/BidirectionalApprovalStream
    request: {approval_id: "absent-${msg}", validator_id: v, decision: VALIDATOR_DECISION_APPROVE,
              correlation_id: "${msg}"}
    stream: {streams: 2, send_rate: 100, match: {request: correlation_id, response: correlation_id},
             status_field: code}
)"),
                        server->address());
  ASSERT_TRUE(result.ok()) << result.status();
  const auto& submit = result->operations[0];
  EXPECT_EQ(submit.requests, 600);
  EXPECT_EQ(submit.ok, 600);
  EXPECT_EQ(server->approvals().counters().submitted.load(), 600);
  const auto& votes = *result->operations[1].stream;
  EXPECT_EQ(votes.messages_sent, votes.messages_received);
  EXPECT_GE(votes.messages_received, 350);
  EXPECT_EQ(votes.unmatched_replies, 0);
  // Votes on approvals that do not exist come back NOT_FOUND, per message.
  EXPECT_EQ(votes.message_codes.at("NOT_FOUND"), votes.measured_received);
  EXPECT_EQ(server->streams().messages_received.load(), votes.messages_sent);
}

TEST(RuntimeProto, ABrokenProtoIsNamedByFileAndLine) {
  const auto dir = std::filesystem::temp_directory_path() / "runtime-proto-broken";
  std::filesystem::create_directories(dir);
  std::ofstream(dir / "broken.proto")
      << "syntax = \"proto3\";\npackage p;\nmessage A {\n  int32 x = 1\n}\n";
  auto result =
      RunYaml(absl::StrCat("duration: 1s\nproto: ", (dir / "broken.proto").string(),
                           "\nload: {model: open, rate: 10}\noperations: [{rpc: p.S/M}]\n"),
              "127.0.0.1:1");
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.status().message(), "broken.proto:5:1: Expected \";\".");
  std::filesystem::remove_all(dir);
}

TEST(RuntimeProto, AMethodTheFilesDoNotDeclareIsNamed) {
  auto result = RunYaml(absl::StrCat("duration: 1s\nproto: ", kProtoDir,
                                     "/aurigraph/approval/v1/approval.proto\nimport_paths: [",
                                     kProtoDir, "]\nload: {model: open, rate: 10}\n",
                                     "operations: [{name: t, rpc: aurigraph.transaction.v1."
                                     "TransactionService/SubmitTransaction}]\n"),
                        "127.0.0.1:1");
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.status().message(),
            absl::StrCat("operation 't': unknown rpc 'aurigraph.transaction.v1.TransactionService/"
                         "SubmitTransaction': no service aurigraph.transaction.v1."
                         "TransactionService in the loaded .proto files (",
                         kProtoDir, "/aurigraph/approval/v1/approval.proto)"));
}

TEST(RuntimeProto, ServerReflectionDescribesTheService) {
  auto server = StartServer();
  auto result = RunYaml(R"(
duration: 1s
reflection: true
load: {model: open, rate: 200}
operations:
  - name: submit
    rpc: aurigraph.transaction.v1.TransactionService/SubmitTransaction
    request:
      id: "refl-${seq}"
      sender: a
      receiver: b
      amount: 5
      nonce: "${seq}"
      content_hash: "${sha256:id,sender,receiver,amount,nonce,memo}"
)",
                        server->address());
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->operations[0].ok, 200);
  EXPECT_EQ(server->transactions().counters().accepted.load(), 200);
  // gRPC 1.51 serves only v1alpha: v1 was asked first, UNIMPLEMENTED, then v1alpha.
  EXPECT_EQ(result->reflection, "grpc.reflection.v1alpha");

  auto unknown = RunYaml(R"(
duration: 1s
reflection: true
load: {model: open, rate: 10}
operations: [{rpc: aurigraph.nope.v1.Missing/Call}]
)",
                         server->address());
  ASSERT_FALSE(unknown.ok());
  EXPECT_EQ(unknown.status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(
      unknown.status().message(),
      absl::StrCat(server->address(),
                   ": service aurigraph.nope.v1.Missing: server reflection: Symbol not found."));
}

}  // namespace
}  // namespace aurigraph
