#include "loadgen/payload/request_template.h"

#include <google/protobuf/util/json_util.h>
#include <gtest/gtest.h>

#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <span>
#include <vector>

#include "absl/strings/str_cat.h"
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

TEST(RequestTemplate, ConstantAndVariableFieldsMix) {
  auto compiled =
      RequestTemplate::Compile(*approval::v1::ApprovalRequest::descriptor(),
                               R"({"type": "APPROVAL_TYPE_PARAMETER_CHANGE", "totalValidators": 7,
                                               "approval_id": "${uuid}", "priority": "${pick:APPROVAL_PRIORITY_HIGH}"})");
  ASSERT_TRUE(compiled.ok()) << compiled.status();
  TemplateRequestSource source(*compiled, 0, 1);
  approval::v1::ApprovalRequest a, b;
  ASSERT_TRUE(a.ParseFromString(std::string(source.Build({0}))));
  ASSERT_TRUE(b.ParseFromString(std::string(source.Build({1}))));
  EXPECT_EQ(a.approval_id().size(), 36u);
  EXPECT_EQ(a.approval_id()[14], '4');  // UUID version 4
  EXPECT_NE(a.approval_id(), b.approval_id());
  EXPECT_EQ(a.priority(), approval::v1::APPROVAL_PRIORITY_HIGH);
  EXPECT_EQ(a.type(), approval::v1::APPROVAL_TYPE_PARAMETER_CHANGE);
  EXPECT_EQ(a.total_validators(), 7);
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
            "request template for aurigraph.transaction.v1.Transaction is not a JSON object or a "
            "non-empty array of them");
  EXPECT_EQ(error(R"({"amount": {"value": 5}})"),
            "request field 'amount': expected a number, got an object");
}

TEST(RequestTemplate, EnumErrorsListTheNames) {
  const auto error = [](const char* json) {
    auto compiled = RequestTemplate::Compile(*approval::v1::ApprovalRequest::descriptor(), json);
    return compiled.ok() ? std::string() : std::string(compiled.status().message());
  };
  const std::string names =
      ": expected one of APPROVAL_PRIORITY_UNSPECIFIED, APPROVAL_PRIORITY_NORMAL, "
      "APPROVAL_PRIORITY_HIGH, APPROVAL_PRIORITY_CRITICAL, or a number";
  EXPECT_EQ(
      error(R"({"priority": "NOT_AN_ENUM"})"),
      "'NOT_AN_ENUM' is not a value of aurigraph.approval.v1.ApprovalPriority in priority" + names);
  EXPECT_EQ(
      error(R"({"priority": "${pick:APPROVAL_PRIORITY_HIGH|NOT_AN_ENUM}"})"),
      "'NOT_AN_ENUM' is not a value of aurigraph.approval.v1.ApprovalPriority in priority" + names);
  EXPECT_EQ(error(R"({"priority": "${pick:2|3}"})"), "");
  EXPECT_EQ(error(R"({"priority": 2})"), "");
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

// Three records; "extra" only on the last line, and a blank line between.
std::shared_ptr<const DataFile> Users(DataFile::Order order = DataFile::Order::kSequential) {
  auto data = DataFile::Parse(R"({"user": "alice", "token": "t-a", "amount": 10}
{"user": "bob", "token": "t-b", "amount": 20}

{"user": "carol", "token": "t-c", "amount": 30, "extra": true}
)",
                              "users.jsonl", order);
  EXPECT_TRUE(data.ok()) << data.status();
  return *data;
}

std::map<std::string, std::string> HeaderMap(std::span<const Header> headers) {
  std::map<std::string, std::string> map;
  for (const Header& h : headers) map[std::string(h.key)] = std::string(h.value);
  return map;
}

TEST(RequestTemplate, DataRecordsGoInFileOrderToBodyAndMetadataAlike) {
  const TemplateInputs inputs{{{"authorization", "Bearer ${data.token}"},
                               {"x-request-id", "req-${seq}"},
                               {"x-tenant", "acme"}},
                              Users()};
  auto compiled = RequestTemplate::Compile(
      *Transaction::descriptor(),
      R"({"id": "tx-${seq}", "sender": "${data.user}", "amount": "${data.amount}"})", inputs);
  ASSERT_TRUE(compiled.ok()) << compiled.status();
  TemplateRequestSource source(*compiled, 0, 7);
  const std::string users[] = {"alice", "bob", "carol"};
  const std::string tokens[] = {"t-a", "t-b", "t-c"};
  for (uint64_t seq = 0; seq < 9; ++seq) {
    Transaction tx;
    ASSERT_TRUE(tx.ParseFromString(std::string(source.Build({seq}))));
    EXPECT_EQ(tx.sender(), users[seq % 3]);
    EXPECT_EQ(tx.amount(), 10 * (seq % 3 + 1));
    const auto headers = HeaderMap(source.BuildHeaders({seq}));
    EXPECT_EQ(headers,
              (std::map<std::string, std::string>{{"authorization", "Bearer " + tokens[seq % 3]},
                                                  {"x-request-id", "req-" + std::to_string(seq)},
                                                  {"x-tenant", "acme"}}));
  }
}

TEST(RequestTemplate, HeaderNamesInCapitalsAreSentLowerCased) {
  // Header names are case-insensitive; gRPC refuses capitals on the wire.
  auto compiled = RequestTemplate::Compile(
      *Transaction::descriptor(), "{}", {{{"X-Tenant", "acme"}, {"Authorization", "t"}}, nullptr});
  ASSERT_TRUE(compiled.ok()) << compiled.status();
  TemplateRequestSource source(*compiled, 0, 1);
  EXPECT_EQ(HeaderMap(source.BuildHeaders({0})),
            (std::map<std::string, std::string>{{"authorization", "t"}, {"x-tenant", "acme"}}));
}

TEST(RequestTemplate, RandomDataOrderIsSeededAndCoversEveryRecord) {
  auto compiled =
      RequestTemplate::Compile(*Transaction::descriptor(), R"({"sender": "${data.user}"})",
                               {{}, Users(DataFile::Order::kRandom)});
  ASSERT_TRUE(compiled.ok()) << compiled.status();
  const auto senders = [&](uint64_t seed) {
    TemplateRequestSource source(*compiled, 0, seed);
    std::vector<std::string> out;
    for (uint64_t seq = 0; seq < 3000; ++seq) {
      Transaction tx;
      EXPECT_TRUE(tx.ParseFromString(std::string(source.Build({seq}))));
      out.push_back(tx.sender());
    }
    return out;
  };
  const auto first = senders(1);
  EXPECT_EQ(first, senders(1));
  EXPECT_NE(first, senders(2));
  std::map<std::string, int> counts;
  for (const std::string& user : first) ++counts[user];
  ASSERT_EQ(counts.size(), 3u);
  for (const auto& [user, count] : counts) {
    EXPECT_GT(count, 850) << user;  // 1,000 expected; sd about 26
    EXPECT_LT(count, 1150) << user;
  }
  // Not file order: the first ten are not alice, bob, carol, alice, ...
  int in_order = 0;
  for (int i = 0; i < 10; ++i)
    in_order += first[i] == std::vector<std::string>{"alice", "bob", "carol"}[i % 3];
  EXPECT_LT(in_order, 10);
}

TEST(RequestTemplate, DataAndMetadataErrorsNameTheProblem) {
  const auto error = [](const char* json, const TemplateInputs& inputs) {
    auto compiled = RequestTemplate::Compile(*Transaction::descriptor(), json, inputs);
    return compiled.ok() ? std::string() : std::string(compiled.status().message());
  };
  EXPECT_EQ(error(R"({"sender": "${data.user}"})", {}),
            "${data.user} needs a data file (the operation's data:, or --data-file) (sender)");
  EXPECT_EQ(error(R"({"memo": "${data.extra}"})", {{}, Users()}),
            "${data.extra}: data file users.jsonl:1: no field 'extra' (memo)");
  EXPECT_EQ(error(R"({"memo": "${data.nope}"})", {{}, Users()}),
            "${data.nope}: data file users.jsonl: no field 'nope' in any record (memo)");
  EXPECT_EQ(error(R"({"amount": "${data.user}"})", {{}, Users()}),
            "'alice' is not an integer in amount");
  EXPECT_EQ(error("{}", {{{"X Tenant", "a"}}, nullptr}),
            "metadata 'X Tenant': a header name is letters, digits, '-', '_' or '.'");
  EXPECT_EQ(error("{}", {{{"grpc-timeout", "1S"}}, nullptr}),
            "metadata 'grpc-timeout': grpc- headers are reserved");
  EXPECT_EQ(error("{}", {{{"x-a", "1"}, {"x-a", "2"}}, nullptr}), "metadata 'x-a': given twice");
  EXPECT_EQ(error("{}", {{{"x-a", "1"}, {"X-A", "2"}}, nullptr}), "metadata 'X-A': given twice");
  EXPECT_EQ(error("{}", {{{"x-a", "${nope}"}}, nullptr}),
            "unknown template variable ${nope} (metadata 'x-a')");
  EXPECT_EQ(error("{}", {{{"x-a", "caf\xc3\xa9"}}, nullptr}),
            "metadata 'x-a': text values must be printable ASCII (name binary headers ...-bin)");
  EXPECT_EQ(error("{}", {{{"x-a-bin", "caf\xc3\xa9"}}, nullptr}), "");

  const auto parse_error = [](const char* text) {
    auto data = DataFile::Parse(text, "f.jsonl", DataFile::Order::kSequential);
    return data.ok() ? std::string() : std::string(data.status().message());
  };
  EXPECT_EQ(parse_error("{\"a\": 1}\nnot json\n"), "data file f.jsonl:2: not a JSON object");
  EXPECT_EQ(parse_error("{\"a\": 1}\n[1, 2]\n"), "data file f.jsonl:2: not a JSON object");
  EXPECT_EQ(parse_error("\n  \n"), "data file f.jsonl: no records");
  EXPECT_EQ(
      std::string(
          DataFile::Load("/nonexistent/users.jsonl", DataFile::Order::kRandom).status().message()),
      "data file /nonexistent/users.jsonl: cannot read");
}

TEST(RequestTemplate, DeeplyNestedTemplatesAreRefused) {
  // Rendering or serializing them recursed once per level: a stack overflow.
  const std::string deep =
      "{\"memo\": " + std::string(100'000, '[') + std::string(100'000, ']') + "}";
  EXPECT_EQ(RequestTemplate::Compile(*Transaction::descriptor(), deep).status().message(),
            "request template for aurigraph.transaction.v1.Transaction: nested deeper than 128 "
            "levels");
}

TEST(RequestTemplate, DataValuesThatAreNotStringsRenderAsJson) {
  auto data = DataFile::Parse(R"({"v": 12, "o": {"k": [1, "x"]}, "b": false})", "d.jsonl",
                              DataFile::Order::kSequential);
  ASSERT_TRUE(data.ok()) << data.status();
  auto compiled = RequestTemplate::Compile(
      *Transaction::descriptor(), R"({"memo": "${data.v}|${data.o}|${data.b}"})", {{}, *data});
  ASSERT_TRUE(compiled.ok()) << compiled.status();
  TemplateRequestSource source(*compiled, 0, 1);
  Transaction tx;
  ASSERT_TRUE(tx.ParseFromString(std::string(source.Build({5}))));
  EXPECT_EQ(tx.memo(), R"(12|{"k":[1,"x"]}|false)");
}

TEST(RequestTemplate, AnArrayOfMessagesIsTakenInTurnByRequests) {
  auto compiled = RequestTemplate::Compile(
      *Transaction::descriptor(),
      R"([{"id": "a-${seq}", "amount": 1}, {"id": "b-${seq}"}, {"id": "c-${seq}", "memo": "m"}])",
      {{{"x-request-id", "r-${seq}"}}, nullptr});
  ASSERT_TRUE(compiled.ok()) << compiled.status();
  TemplateRequestSource source(*compiled, 0, 1);
  const std::string prefixes[] = {"a-", "b-", "c-"};
  for (uint64_t seq = 0; seq < 7; ++seq) {
    Transaction tx;
    ASSERT_TRUE(tx.ParseFromString(std::string(source.Build({seq, 5, seq % 2}))));
    EXPECT_EQ(tx.id(), prefixes[seq % 3] + std::to_string(seq));  // by sequence, not message
    EXPECT_EQ(tx.amount(), seq % 3 == 0 ? 1u : 0u);
    EXPECT_EQ(HeaderMap(source.BuildHeaders({seq})).at("x-request-id"), "r-" + std::to_string(seq));
  }
}

TEST(RequestTemplate, AnArrayOfMessagesIsSentInOrderWithinAStream) {
  TemplateInputs inputs;
  inputs.order = MessageOrder::kWithinStream;
  auto compiled =
      RequestTemplate::Compile(*Transaction::descriptor(),
                               R"([{"id": "first-${stream}"}, {"id": "second-${msg}"}])", inputs);
  ASSERT_TRUE(compiled.ok()) << compiled.status();
  TemplateRequestSource source(*compiled, 0, 1);
  const std::string want[] = {"first-4", "second-1", "first-4", "second-3"};
  for (uint64_t message = 0; message < 4; ++message) {
    Transaction tx;
    // Sequence numbers are shared by every stream of the operation: they do not choose.
    ASSERT_TRUE(tx.ParseFromString(std::string(source.Build({100 + 3 * message, 4, message}))));
    EXPECT_EQ(tx.id(), want[message]);
  }
}

TEST(RequestTemplate, AnArrayNamesTheMessageAtFault) {
  const auto error = [](const char* json) {
    return std::string(
        RequestTemplate::Compile(*Transaction::descriptor(), json).status().message());
  };
  EXPECT_EQ(error(R"([{"id": "a"}, {"nope": 1}])").rfind("message 1 of the request array: ", 0), 0u)
      << error(R"([{"id": "a"}, {"nope": 1}])");
  EXPECT_EQ(error("[]"),
            "request template for aurigraph.transaction.v1.Transaction is not a "
            "JSON object or a non-empty array of them");
  EXPECT_EQ(error(R"([{}, 1])"), error("[]"));
}

TEST(RequestTemplate, ABinaryRequestIsSentAsIs) {
  Transaction tx;
  tx.set_id("bin-1");
  tx.set_amount(12);
  const std::string bytes = tx.SerializeAsString();
  auto compiled = RequestTemplate::FromBinary(*Transaction::descriptor(), bytes,
                                              {{{"x-request-id", "r-${seq}"}}, nullptr});
  ASSERT_TRUE(compiled.ok()) << compiled.status();
  TemplateRequestSource source(*compiled, 0, 1);
  for (uint64_t seq = 0; seq < 3; ++seq) {
    EXPECT_EQ(source.Build({seq}), bytes);
    EXPECT_EQ(HeaderMap(source.BuildHeaders({seq})).at("x-request-id"), "r-" + std::to_string(seq));
  }
  EXPECT_EQ(RequestTemplate::FromBinary(*Transaction::descriptor(), "\xff\xff").status().message(),
            "not a serialized aurigraph.transaction.v1.Transaction message");
  // Another message's bytes: a field Transaction lacks.
  approval::v1::ApprovalRequest other;
  other.set_ttl_ms(5);
  const auto foreign = other.SerializeAsString();
  const int number = approval::v1::ApprovalRequest::kTtlMsFieldNumber;
  ASSERT_EQ(Transaction::descriptor()->FindFieldByNumber(number), nullptr);
  EXPECT_EQ(
      RequestTemplate::FromBinary(*Transaction::descriptor(), foreign).status().message(),
      absl::StrCat("not a serialized aurigraph.transaction.v1.Transaction message (its field ",
                   number, " is not one of aurigraph.transaction.v1.Transaction's)"));
}

}  // namespace
}  // namespace aurigraph::loadgen

namespace aurigraph::loadgen {
namespace {

// A hostile template could render a request of terabytes ($repeat around
// ${rand_string}): it is refused when compiled, naming the bound.
TEST(RequestTemplate, ATemplateThatCanRenderPastTheBoundIsRefused) {
  const char* kHuge =
      R"({"transactions": {"$repeat": 1000000, "$item": {"memo": "${rand_string:1048576}"}}})";
  auto huge = RequestTemplate::Compile(*transaction::v1::BatchRequest::descriptor(), kHuge);
  ASSERT_FALSE(huge.ok());
  EXPECT_EQ(std::string(huge.status().message()),
            "a request can render to 976.6 GiB, more than max_request_size (64 MiB): shrink "
            "its $repeat counts or ${rand_string} lengths, or raise max_request_size");
  // Under a raised bound the same shape at a smaller size compiles and renders.
  TemplateInputs inputs;
  inputs.max_request_bytes = int64_t{2} << 20;
  auto fits = RequestTemplate::Compile(
      *transaction::v1::BatchRequest::descriptor(),
      R"({"transactions": {"$repeat": 100, "$item": {"memo": "${rand_string:10000}"}}})", inputs);
  ASSERT_TRUE(fits.ok()) << fits.status();
  TemplateRequestSource source(*fits, 0, 1);
  EXPECT_GT(source.Build({1}).size(), 1'000'000u);
}

// A data-file value is only known per request: one that takes the request past
// the bound fails that request's build (counted, not sent); the rest are sent.
TEST(RequestTemplate, ADataValueThatTakesARequestPastTheBoundIsNotBuilt) {
  const std::string long_memo(4000, 'x');
  auto data = DataFile::Parse(
      absl::StrCat(R"({"memo": "short"})", "\n", R"({"memo": ")", long_memo, R"("})"), "d.jsonl",
      DataFile::Order::kSequential);
  ASSERT_TRUE(data.ok()) << data.status();
  TemplateInputs inputs{{}, *data};
  inputs.max_request_bytes = 2048;
  auto compiled = RequestTemplate::Compile(
      *transaction::v1::BatchRequest::descriptor(),
      R"({"transactions": {"$repeat": 3, "$item": {"memo": "${data.memo}"}}})", inputs);
  ASSERT_TRUE(compiled.ok()) << compiled.status();
  TemplateRequestSource source(*compiled, 0, 1);
  EXPECT_NE(source.Build({0}).data(), nullptr);  // three short memos
  EXPECT_EQ(source.Build({1}).data(), nullptr);  // three of 4,000 bytes: past 2 KiB
}

// JSON bodies (HTTP): protobuf's own JSON parser reads what the template
// renders, and the digest is the one the reference server checks.
TEST(JsonBodyTemplate, RendersTransactionsProtobufsJsonParserReadsWithTheirDigest) {
  auto compiled = RequestTemplate::CompileJson(kTransaction);
  ASSERT_TRUE(compiled.ok()) << compiled.status();
  TemplateRequestSource source(*compiled, 3, 42);
  for (uint64_t seq = 0; seq < 200; ++seq) {
    const std::string body(source.Build({seq}));
    Transaction tx;
    const auto parsed = google::protobuf::util::JsonStringToMessage(body, &tx);
    ASSERT_TRUE(parsed.ok()) << parsed.message().as_string() << " in " << body;
    EXPECT_EQ(tx.id(), absl::StrCat("tx-", seq, "-3"));
    EXPECT_EQ(tx.nonce(), seq);
    EXPECT_GE(tx.amount(), 100u);
    EXPECT_LE(tx.amount(), 200u);
    EXPECT_EQ(tx.content_hash(), refserver::TransactionContentHash(tx)) << body;
  }
}

TEST(JsonBodyTemplate, EscapesDataValuesRepeatsItemsAndKeepsNumbersAndNesting) {
  auto data = DataFile::Parse(R"({"name": "quote \" back \\ nl \n tab \t end"})", "d.jsonl",
                              DataFile::Order::kSequential);
  ASSERT_TRUE(data.ok()) << data.status();
  auto compiled = RequestTemplate::CompileJson(
      R"({"batch": "b-${seq}", "n": 7, "ok": true, "none": null, "list": [1, "x-${seq}"],
          "who": "${data.name}",
          "items": {"$repeat": 3, "$item": {"id": "i-${item}", "who": "${data.name}"}}})",
      TemplateInputs{{}, *data});
  ASSERT_TRUE(compiled.ok()) << compiled.status();
  TemplateRequestSource source(*compiled, 0, 1);
  const std::string body(source.Build({5}));
  const nlohmann::json j = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
  ASSERT_FALSE(j.is_discarded()) << body;
  EXPECT_EQ(j["batch"], "b-5");
  EXPECT_EQ(j["n"], 7);
  EXPECT_EQ(j["ok"], true);
  EXPECT_TRUE(j["none"].is_null());
  EXPECT_EQ(j["list"], nlohmann::json::parse(R"([1, "x-5"])"));
  EXPECT_EQ(j["who"], "quote \" back \\ nl \n tab \t end");
  ASSERT_EQ(j["items"].size(), 3u);
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(j["items"][i]["id"], absl::StrCat("i-", i));
    EXPECT_EQ(j["items"][i]["who"], j["who"]);
  }
}

TEST(JsonBodyTemplate, AnArrayTakesTurnsAndNoTemplateIsNoBody) {
  auto turns = RequestTemplate::CompileJson(R"([{"a": 1}, {"b": "${seq}"}])");
  ASSERT_TRUE(turns.ok()) << turns.status();
  TemplateRequestSource source(*turns, 0, 1);
  EXPECT_EQ(source.Build({0}), R"({"a":1})");
  EXPECT_EQ(source.Build({1}), R"({"b":"1"})");
  auto none = RequestTemplate::CompileJson("");
  ASSERT_TRUE(none.ok()) << none.status();
  TemplateRequestSource empty(*none, 0, 1);
  const std::string_view body = empty.Build({0});
  EXPECT_NE(body.data(), nullptr);  // built: an empty body, not a failure
  EXPECT_TRUE(body.empty());
}

TEST(JsonBodyTemplate, RefusesWhatCannotRenderAndPseudoHeadersOnlyForHttp) {
  EXPECT_NE(RequestTemplate::CompileJson("[1]").status().message().find("not a JSON object"),
            std::string::npos);
  EXPECT_NE(RequestTemplate::CompileJson(R"({"a": "${nope}"})").status().message().find("nope"),
            std::string::npos);
  EXPECT_NE(RequestTemplate::CompileJson(R"({"h": "${sha256:a,missing}", "a": "x"})")
                .status()
                .message()
                .find("'missing'"),
            std::string::npos);
  TemplateInputs big;
  big.max_request_bytes = 1000;
  EXPECT_NE(RequestTemplate::CompileJson(R"({"s": "${rand_string:2000}"})", big)
                .status()
                .message()
                .find("max_request_size"),
            std::string::npos);
  TemplateInputs http{{{":path", "/v1/x/${seq}"}, {":method", "GET"}}, nullptr};
  EXPECT_FALSE(RequestTemplate::CompileJson("", http).ok());  // not an HTTP template
  http.http_pseudo_headers = true;
  auto compiled = RequestTemplate::CompileJson("", http);
  ASSERT_TRUE(compiled.ok()) << compiled.status();
  TemplateRequestSource source(*compiled, 0, 1);
  const std::span<const Header> headers = source.BuildHeaders({9});
  ASSERT_EQ(headers.size(), 2u);
  EXPECT_EQ(headers[0].key, ":path");
  EXPECT_EQ(headers[0].value, "/v1/x/9");
}

}  // namespace
}  // namespace aurigraph::loadgen
