// Request metadata end to end: headers rendered from templates and a data file
// reach the reference server (which counts each value it receives) with the
// values and counts the templates promise, for unary calls and stream opens.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "absl/strings/str_cat.h"
#include "tests/integration/harness.h"

namespace aurigraph {
namespace {

const std::string kProtoDir = PROTO_DIR;

std::string WriteUsers() {
  const auto path = std::filesystem::temp_directory_path() / "metadata-test-users.jsonl";
  std::ofstream(path) << R"({"user": "alice", "token": "t-a"}
{"user": "bob", "token": "t-b"}
{"user": "carol", "token": "t-c"}
)";
  return path.string();
}

refserver::ServerOptions Counting() {
  refserver::ServerOptions options;
  options.count_metadata = {"x-user", "x-tenant", "x-stream"};
  return options;
}

TEST(Metadata, UnaryHeadersFromTemplatesAndADataFileReachTheServer) {
  auto server = StartServer(Counting());
  const std::string users = WriteUsers();
  auto result = RunYaml(absl::StrCat(R"(
requests: 300
proto: )",
                                     kProtoDir, R"(/aurigraph/approval/v1/approval.proto
import_paths: [)",
                                     kProtoDir, R"(]
load: {model: closed, concurrency: 4}
metadata: {x-tenant: acme}
operations:
  - rpc: aurigraph.approval.v1.ApprovalService/SubmitApprovalRequest
    request: {approval_id: "${data.user}-${uuid}", total_validators: 3, required_approvals: 2}
    data: )",
                                     users, R"(
    metadata: {authorization: "Bearer ${data.token}", x-user: "${data.user}"}
)"),
                        server->address());
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->total.ok, 300);
  // In file order, each of the three records goes with exactly a third of the requests.
  for (const char* user : {"alice", "bob", "carol"}) {
    EXPECT_EQ(server->metadata_count("x-user", user), 100) << user;
  }
  EXPECT_EQ(server->metadata_count("x-tenant", "acme"), 300);
  // The effective scenario in the result does not carry the credentials.
  EXPECT_EQ(result->scenario_json.find("Bearer"), std::string::npos);
  std::filesystem::remove(users);
}

TEST(Metadata, StreamHeadersAreSentOncePerStream) {
  auto server = StartServer(Counting());
  auto result = RunYaml(R"(
duration: 1s
metadata: {x-tenant: acme}
operations:
  - name: votes
    rpc: aurigraph.approval.v1.ApprovalService/BidirectionalApprovalStream
    request: {approval_id: "absent", validator_id: v, correlation_id: "${msg}"}
    metadata: {x-stream: "s-${stream}"}
    stream: {streams: 3, send_rate: 50, match: {request: correlation_id, response: correlation_id}}
)",
                        server->address());
  ASSERT_TRUE(result.ok()) << result.status();
  const auto& votes = *result->operations[0].stream;
  EXPECT_EQ(votes.streams_opened, 3);
  EXPECT_GE(votes.messages_received, 100);
  for (const char* stream : {"s-0", "s-1", "s-2"}) {
    EXPECT_EQ(server->metadata_count("x-stream", stream), 1) << stream;
  }
  EXPECT_EQ(server->metadata_count("x-tenant", "acme"), 3);
}

// Counted values become metric labels, readable by anyone who can scrape the
// metrics: a header that carries credentials is refused, whatever its case.
TEST(Metadata, CredentialHeadersAreNotCounted) {
  for (const char* header :
       {"authorization", "Cookie", "x-api-key", "x-auth-token", "db-password"}) {
    refserver::ServerOptions options;
    options.listen = "127.0.0.1:0";
    options.count_metadata = {"x-tenant", header};
    auto server = refserver::ReferenceServer::Start(options);
    ASSERT_FALSE(server.ok()) << header;
    EXPECT_EQ(server.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_EQ(server.status().message(),
              absl::StrCat("--count-metadata: '", header,
                           "' looks like a credential header; counting it would export its "
                           "values as metric labels"));
  }
}

}  // namespace
}  // namespace aurigraph
