#include "loadgen/payload/request_template.h"

#include <gtest/gtest.h>

#include <set>

#include "aurigraph/approval/v1/approval.pb.h"
#include "aurigraph/transaction/v1/transaction.pb.h"
#include "reference-server/transaction/transaction_store.h"

namespace aurigraph::loadgen {
namespace {

using transaction::v1::Transaction;

constexpr const char* kTransaction = R"({
  "id": "tx-${seq}-${worker}",
  "sender": "acct-${rand_int:1:9}",
  "receiver": "bob",
  "amount": "${rand_int:100:200}",
  "nonce": "${seq}",
  "memo": "${pick:a|b}",
  "contentHash": "${sha256:id,sender,receiver,amount,nonce,memo}"
})";

TEST(RequestTemplate, RendersDistinctValidRequests) {
  auto compiled = RequestTemplate::Compile(*Transaction::descriptor(), kTransaction);
  ASSERT_TRUE(compiled.ok()) << compiled.status();
  TemplateRequestSource source(*compiled, 3, 42);
  std::set<std::string> ids;
  for (uint64_t seq = 0; seq < 1000; ++seq) {
    Transaction tx;
    ASSERT_TRUE(tx.ParseFromString(std::string(source.Build({seq}))));
    EXPECT_EQ(tx.id(), "tx-" + std::to_string(seq) + "-3");
    EXPECT_EQ(tx.receiver(), "bob");
    EXPECT_EQ(tx.nonce(), seq);
    EXPECT_GE(tx.amount(), 100u);
    EXPECT_LE(tx.amount(), 200u);
    EXPECT_TRUE(tx.memo() == "a" || tx.memo() == "b");
    // The digest is the one the reference server checks.
    EXPECT_EQ(tx.content_hash(), refserver::TransactionContentHash(tx));
    ids.insert(tx.id());
  }
  EXPECT_EQ(ids.size(), 1000u);
}

TEST(RequestTemplate, ConstantPartIsSerializedOnceAndNestedVariablesMerge) {
  auto compiled =
      RequestTemplate::Compile(*approval::v1::ApprovalRequest::descriptor(),
                               R"({"type": "APPROVAL_TYPE_PARAMETER_CHANGE", "totalValidators": 7,
                                               "approval_id": "${uuid}", "priority": "${pick:APPROVAL_PRIORITY_HIGH}"})");
  ASSERT_TRUE(compiled.ok()) << compiled.status();
  approval::v1::ApprovalRequest constant;
  ASSERT_TRUE(constant.ParseFromString(compiled->constant_bytes()));
  EXPECT_EQ(constant.total_validators(), 7);
  EXPECT_TRUE(constant.approval_id().empty());
  TemplateRequestSource source(*compiled, 0, 1);
  approval::v1::ApprovalRequest a, b;
  ASSERT_TRUE(a.ParseFromString(std::string(source.Build({0}))));
  ASSERT_TRUE(b.ParseFromString(std::string(source.Build({1}))));
  EXPECT_EQ(a.approval_id().size(), 36u);
  EXPECT_EQ(a.approval_id()[14], '4');  // UUID version 4
  EXPECT_NE(a.approval_id(), b.approval_id());
  EXPECT_EQ(a.priority(), approval::v1::APPROVAL_PRIORITY_HIGH);
  EXPECT_EQ(a.type(), approval::v1::APPROVAL_TYPE_PARAMETER_CHANGE);
}

TEST(RequestTemplate, SeededValuesRepeatButUuidsNeverDo) {
  auto compiled = RequestTemplate::Compile(
      *Transaction::descriptor(), R"({"id": "${uuid}", "amount": "${rand_int:1:1000000000}"})");
  ASSERT_TRUE(compiled.ok()) << compiled.status();
  // Two runs of the same scenario: same seed, same worker.
  TemplateRequestSource first_run(*compiled, 0, 42), second_run(*compiled, 0, 42);
  for (uint64_t seq = 0; seq < 100; ++seq) {
    Transaction a, b;
    ASSERT_TRUE(a.ParseFromString(std::string(first_run.Build({seq}))));
    ASSERT_TRUE(b.ParseFromString(std::string(second_run.Build({seq}))));
    EXPECT_EQ(a.amount(), b.amount());
    EXPECT_NE(a.id(), b.id());
  }
}

TEST(RequestTemplate, NestedMessageVariables) {
  auto compiled = RequestTemplate::Compile(
      *transaction::v1::CommittedTransaction::descriptor(),
      R"({"sequence": 5, "transaction": {"memo": "m", "id": "n-${seq}"}})");
  ASSERT_TRUE(compiled.ok()) << compiled.status();
  TemplateRequestSource source(*compiled, 0, 1);
  transaction::v1::CommittedTransaction message;
  ASSERT_TRUE(message.ParseFromString(std::string(source.Build({77}))));
  EXPECT_EQ(message.sequence(), 5u);
  EXPECT_EQ(message.transaction().memo(), "m");
  EXPECT_EQ(message.transaction().id(), "n-77");
}

TEST(RequestTemplate, ErrorsNameTheFieldOrVariable) {
  const auto error = [](const char* json) {
    auto compiled = RequestTemplate::Compile(*Transaction::descriptor(), json);
    return compiled.ok() ? std::string() : std::string(compiled.status().message());
  };
  EXPECT_EQ(error(R"({"colour": "red"})"),
            "unknown field 'colour' in message aurigraph.transaction.v1.Transaction");
  EXPECT_EQ(error(R"({"id": "${bogus}"})"), "unknown template variable ${bogus} (id)");
  EXPECT_EQ(error(R"({"amount": "${uuid}"})"),
            "field amount is uint64: its template must be one numeric variable");
  EXPECT_EQ(
      error(R"({"content_hash": "${sha256:id,nope}"})"),
      "${sha256:id,nope}: unknown field 'nope' in message aurigraph.transaction.v1.Transaction");
  EXPECT_NE(error(R"({"amount": "lots"})")
                .find("request does not match aurigraph.transaction.v1.Transaction"),
            std::string::npos);
  EXPECT_EQ(error("[1,2]"),
            "request template for aurigraph.transaction.v1.Transaction is not a JSON object");
}

}  // namespace
}  // namespace aurigraph::loadgen

namespace aurigraph::loadgen {
namespace {

TEST(RequestTemplate, RepeatGeneratesDistinctValidItems) {
  auto compiled = RequestTemplate::Compile(*transaction::v1::BatchRequest::descriptor(), R"({
    "batch_id": "b-${seq}-${run}",
    "transactions": {"$repeat": 500, "$item": {
      "id": "t-${seq}-${item}", "sender": "s", "receiver": "r", "amount": "${rand_int:1:9}",
      "nonce": "${item}", "memo": "m",
      "content_hash": "${sha256:id,sender,receiver,amount,nonce,memo}"}}
  })");
  ASSERT_TRUE(compiled.ok()) << compiled.status();
  TemplateRequestSource source(*compiled, 0, 1, "run7");
  transaction::v1::BatchRequest batch;
  ASSERT_TRUE(batch.ParseFromString(std::string(source.Build({12}))));
  EXPECT_EQ(batch.batch_id(), "b-12-run7");
  ASSERT_EQ(batch.transactions_size(), 500);
  std::set<std::string> ids;
  for (int i = 0; i < 500; ++i) {
    const auto& tx = batch.transactions(i);
    EXPECT_EQ(tx.id(), "t-12-" + std::to_string(i));
    EXPECT_EQ(tx.nonce(), static_cast<uint64_t>(i));
    EXPECT_EQ(tx.sender(), "s");  // the item's constant part is in every item
    EXPECT_EQ(tx.content_hash(), refserver::TransactionContentHash(tx));
    ids.insert(tx.id());
  }
  EXPECT_EQ(ids.size(), 500u);
}

TEST(RequestTemplate, StreamVariablesNumberStreamsAndMessages) {
  auto compiled = RequestTemplate::Compile(*approval::v1::ValidatorResponse::descriptor(),
                                           R"({"approval_id": "a-${msg}",
                                               "validator_id": "v-${stream}",
                                               "correlation_id": "${msg}"})");
  ASSERT_TRUE(compiled.ok()) << compiled.status();
  TemplateRequestSource source(*compiled, 0, 1);
  approval::v1::ValidatorResponse vote;
  ASSERT_TRUE(vote.ParseFromString(std::string(source.Build({99, 4, 17}))));
  EXPECT_EQ(vote.approval_id(), "a-17");
  EXPECT_EQ(vote.validator_id(), "v-4");
  EXPECT_EQ(vote.correlation_id(), 17u);
}

TEST(RequestTemplate, RepeatNeedsARepeatedMessageField) {
  auto bad = RequestTemplate::Compile(*Transaction::descriptor(),
                                      R"({"id": {"$repeat": 3, "$item": {}}})");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().message(), "$repeat needs a repeated message field; id is not one");
  auto count = RequestTemplate::Compile(*transaction::v1::BatchRequest::descriptor(),
                                        R"({"transactions": {"$repeat": 0, "$item": {}}})");
  ASSERT_FALSE(count.ok());
}

}  // namespace
}  // namespace aurigraph::loadgen
