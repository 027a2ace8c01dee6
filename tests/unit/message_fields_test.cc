#include "loadgen/payload/message_fields.h"

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "aurigraph/approval/v1/approval.pb.h"
#include "aurigraph/test/v1/everything.pb.h"
#include "aurigraph/transaction/v1/transaction.pb.h"
#include "loadgen/payload/json_inspector.h"

namespace aurigraph::loadgen {
namespace {

namespace av1 = approval::v1;

TEST(FieldPath, ReadsNestedValuesFromWireBytes) {
  av1::ApprovalEvent event;
  event.set_correlation_id(123456789);
  event.set_sent_at_unix_nanos(1'700'000'000'000'000'000);
  event.mutable_state()->set_status(av1::APPROVAL_STATUS_APPROVED);
  event.mutable_state()->set_created_at_unix_nanos(42);
  const std::string bytes = event.SerializeAsString();
  const auto& type = *av1::ApprovalEvent::descriptor();
  EXPECT_EQ(FieldPath::Resolve(type, "sent_at_unix_nanos")->ReadInt(bytes),
            1'700'000'000'000'000'000);
  EXPECT_EQ(FieldPath::Resolve(type, "state.created_at_unix_nanos")->ReadInt(bytes), 42);
  EXPECT_EQ(FieldPath::Resolve(type, "state.status")->ReadInt(bytes), 2);
  EXPECT_EQ(*FieldPath::Resolve(type, "state.status")->ValueOf("APPROVAL_STATUS_APPROVED"), 2);
  EXPECT_EQ(FieldPath::Resolve(type, "correlation_id")->ReadKey(bytes), 123456789u);
  // proto3 leaves zeros off the wire: absent reads as the default.
  EXPECT_EQ(FieldPath::Resolve(type, "code")->ReadInt(bytes), std::nullopt);
  EXPECT_EQ(FieldPath::Resolve(type, "code")->ReadKey(bytes), 0u);
}

TEST(FieldPath, StringKeysMatchBetweenRequestAndReply) {
  transaction::v1::Transaction tx;
  tx.set_id("tx-77");
  tx.set_memo("other");
  transaction::v1::TransactionResponse reply;
  reply.set_id("tx-77");
  reply.set_code(6);
  const auto request_key = FieldPath::Resolve(*tx.GetDescriptor(), "id");
  const auto reply_key = FieldPath::Resolve(*reply.GetDescriptor(), "id");
  EXPECT_EQ(request_key->ReadKey(tx.SerializeAsString()),
            reply_key->ReadKey(reply.SerializeAsString()));
  reply.set_id("tx-78");
  EXPECT_NE(request_key->ReadKey(tx.SerializeAsString()),
            reply_key->ReadKey(reply.SerializeAsString()));
}

TEST(FieldPath, BadPathsAreRejectedByName) {
  const auto& type = *av1::ApprovalEvent::descriptor();
  EXPECT_EQ(FieldPath::Resolve(type, "nope").status().message(),
            "field path 'nope': no field 'nope' in aurigraph.approval.v1.ApprovalEvent");
  EXPECT_EQ(FieldPath::Resolve(type, "state").status().message(),
            "field path 'state' ends at a message, not a value");
  EXPECT_EQ(FieldPath::Resolve(type, "state.votes.reason").status().message(),
            "field path 'state.votes.reason': 'votes' is repeated");
}

TEST(ResponseCounter, CountsTheAcceptedItemsOfABatch) {
  transaction::v1::BatchResponse response;
  response.set_accepted(9'999);
  response.set_rejected(1);
  auto counter = CompileResponseCounter(*response.GetDescriptor(), "accepted");
  ASSERT_TRUE(counter.ok());
  EXPECT_EQ((*counter)->Count(response.SerializeAsString()), 9'999);
}

TEST(Inspector, PhaseIsReadOnlyWhenItsConditionHolds) {
  InspectorSpec spec;
  spec.phase_from = "state.created_at_unix_nanos";
  spec.phase_when = "state.status";
  spec.phase_equals = "APPROVAL_STATUS_APPROVED";
  auto inspector = CompileInspector(*av1::ValidatorResponse::descriptor(),
                                    *av1::ApprovalEvent::descriptor(), spec);
  ASSERT_TRUE(inspector.ok()) << inspector.status();
  av1::ApprovalEvent event;
  event.mutable_state()->set_created_at_unix_nanos(5);
  event.mutable_state()->set_status(av1::APPROVAL_STATUS_PENDING);
  EXPECT_FALSE((*inspector)->Inspect(event.SerializeAsString()).phase_start_unix_nanos);
  event.mutable_state()->set_status(av1::APPROVAL_STATUS_APPROVED);
  EXPECT_EQ((*inspector)->Inspect(event.SerializeAsString()).phase_start_unix_nanos, 5);
  spec.phase_equals = "APPROVED_ISH";
  EXPECT_EQ(CompileInspector(*av1::ValidatorResponse::descriptor(),
                             *av1::ApprovalEvent::descriptor(), spec)
                .status()
                .message(),
            "phase.equals: 'APPROVED_ISH' is not a value of aurigraph.approval.v1.ApprovalStatus: "
            "expected one of APPROVAL_STATUS_UNSPECIFIED, APPROVAL_STATUS_PENDING, "
            "APPROVAL_STATUS_APPROVED, APPROVAL_STATUS_REJECTED, APPROVAL_STATUS_EXPIRED, or a "
            "number");
}

// KeyReader (CompileKeyReader): the keys of one field, through repeated
// messages on its path; each as FieldPath::ReadKey reads it.

std::vector<uint64_t> KeysOf(const KeyReader& reader, std::string_view bytes) {
  std::vector<uint64_t> keys;
  reader.ReadKeys(bytes, &keys);
  return keys;
}

TEST(KeyReader, ASingleFieldKeyIsFieldPathsKey) {
  namespace tv1 = transaction::v1;
  tv1::Transaction tx;
  tx.set_id("tx-1");
  tx.set_amount(12345);
  tx.set_memo("m");
  const std::string bytes = tx.SerializeAsString();
  const auto& type = *tv1::Transaction::descriptor();
  for (const char* path : {"id", "amount", "memo", "nonce", "sender"}) {
    SCOPED_TRACE(path);
    const auto reader = CompileKeyReader(type, path);
    ASSERT_TRUE(reader.ok()) << reader.status();
    EXPECT_EQ(KeysOf(**reader, bytes),
              std::vector<uint64_t>{FieldPath::Resolve(type, path)->ReadKey(bytes)});
  }
  EXPECT_EQ(KeysOf(**CompileKeyReader(type, "amount"), bytes), std::vector<uint64_t>{12345});
  // Keys of equal ids compare across message types (request and event).
  tv1::TransactionResponse reply;
  reply.set_id("tx-1");
  EXPECT_EQ(KeysOf(**CompileKeyReader(type, "id"), bytes),
            KeysOf(**CompileKeyReader(*tv1::TransactionResponse::descriptor(), "id"),
                   reply.SerializeAsString()));
  // Signed, zigzag and fixed integers read as FieldPath reads them.
  test::v1::Everything e;
  e.set_i32(-5);
  e.set_s64(-7);
  e.set_sf64(-9);
  e.set_f32(4'000'000'000u);
  const std::string ebytes = e.SerializeAsString();
  for (const char* path : {"i32", "s64", "sf64", "f32", "u64"}) {
    SCOPED_TRACE(path);
    const auto reader = CompileKeyReader(*e.GetDescriptor(), path);
    ASSERT_TRUE(reader.ok()) << reader.status();
    EXPECT_EQ(KeysOf(**reader, ebytes),
              std::vector<uint64_t>{FieldPath::Resolve(*e.GetDescriptor(), path)->ReadKey(ebytes)});
  }
  EXPECT_EQ(KeysOf(**CompileKeyReader(*e.GetDescriptor(), "s64"), ebytes),
            std::vector<uint64_t>{static_cast<uint64_t>(int64_t{-7})});
}

TEST(KeyReader, ARepeatedMessageOnThePathGivesAKeyPerElementInOrder) {
  namespace tv1 = transaction::v1;
  tv1::BatchRequest batch;
  batch.set_batch_id("b-1");
  const auto tx_id = FieldPath::Resolve(*tv1::Transaction::descriptor(), "id");
  std::vector<uint64_t> expected;
  for (const char* id : {"tx-a", "tx-b", "tx-c", "tx-b"}) {
    tv1::Transaction* tx = batch.add_transactions();
    tx->set_id(id);
    tx->set_amount(7);
    expected.push_back(tx_id->ReadKey(tx->SerializeAsString()));
  }
  batch.add_transactions()->set_memo("no id");  // reads as the default, as FieldPath reads it
  expected.push_back(tx_id->ReadKey(""));
  const auto reader = CompileKeyReader(*tv1::BatchRequest::descriptor(), "transactions.id");
  ASSERT_TRUE(reader.ok()) << reader.status();
  EXPECT_EQ(KeysOf(**reader, batch.SerializeAsString()), expected);
  // Integers too; an empty batch has no keys.
  const auto amounts = CompileKeyReader(*tv1::BatchRequest::descriptor(), "transactions.amount");
  ASSERT_TRUE(amounts.ok()) << amounts.status();
  EXPECT_EQ(KeysOf(**amounts, batch.SerializeAsString()), (std::vector<uint64_t>{7, 7, 7, 7, 0}));
  EXPECT_TRUE(KeysOf(**reader, tv1::BatchRequest().SerializeAsString()).empty());
  batch.clear_transactions();
  EXPECT_TRUE(KeysOf(**reader, batch.SerializeAsString()).empty());
  // A singular field of the batch is one key.
  EXPECT_EQ(KeysOf(**CompileKeyReader(*tv1::BatchRequest::descriptor(), "batch_id"),
                   batch.SerializeAsString())
                .size(),
            1u);
  // Keys appended after what the caller already holds.
  std::vector<uint64_t> keys = {99};
  batch.add_transactions()->set_id("tx-z");
  (*reader)->ReadKeys(batch.SerializeAsString(), &keys);
  ASSERT_EQ(keys.size(), 2u);
  EXPECT_EQ(keys[0], 99u);
}

TEST(KeyReader, RepeatedElementsWithSingularMessagesAroundThem) {
  test::v1::Everything e;
  for (const int lat : {10, -20, 30}) e.add_points()->set_lat_e7(lat);
  e.mutable_meta()->mutable_counters()->insert({"only", 42});
  const std::string bytes = e.SerializeAsString();
  const auto points = CompileKeyReader(*e.GetDescriptor(), "points.lat_e7");
  ASSERT_TRUE(points.ok()) << points.status();
  EXPECT_EQ(KeysOf(**points, bytes),
            (std::vector<uint64_t>{10, static_cast<uint64_t>(int64_t{-20}), 30}));
  // singular (meta) -> repeated (the map's entries) -> leaf
  const auto counters = CompileKeyReader(*e.GetDescriptor(), "meta.counters.value");
  ASSERT_TRUE(counters.ok()) << counters.status();
  EXPECT_EQ(KeysOf(**counters, bytes), std::vector<uint64_t>{42});
  e.clear_meta();
  EXPECT_TRUE(KeysOf(**counters, e.SerializeAsString()).empty());
}

TEST(KeyReader, APathThroughASingularMessageIsOneKey) {
  namespace tv1 = transaction::v1;
  tv1::CommittedTransaction event;
  event.mutable_transaction()->set_id("tx-9");
  event.set_sequence(3);
  const std::string bytes = event.SerializeAsString();
  const auto reader = CompileKeyReader(*tv1::CommittedTransaction::descriptor(), "transaction.id");
  ASSERT_TRUE(reader.ok()) << reader.status();
  const std::vector<uint64_t> keys = KeysOf(**reader, bytes);
  EXPECT_EQ(keys,
            std::vector<uint64_t>{
                FieldPath::Resolve(*event.GetDescriptor(), "transaction.id")->ReadKey(bytes)});
  // The event's key is the request's.
  EXPECT_EQ(keys, KeysOf(**CompileKeyReader(*tv1::Transaction::descriptor(), "id"),
                         event.transaction().SerializeAsString()));
}

TEST(KeyReader, BadPathsAreRejected) {
  namespace tv1 = transaction::v1;
  const auto& batch = *tv1::BatchRequest::descriptor();
  const auto& committed = *tv1::CommittedTransaction::descriptor();
  const auto& everything = *test::v1::Everything::descriptor();
  struct Case {
    const google::protobuf::Descriptor* type;
    const char* path;
    const char* says;
  };
  for (const Case& c : {
           Case{&batch, "nope", "no field 'nope'"},
           Case{&batch, "nope.id", "no field 'nope'"},
           Case{&batch, "transactions.nope", "no field 'nope'"},
           Case{&batch, "batch_id.x", "'batch_id' is not a message"},
           Case{&committed, "transaction", "ends at a message"},
           Case{&batch, "transactions", "'transactions' is repeated"},
           Case{&everything, "points", "'points' is repeated"},
           Case{&everything, "r_str", "'r_str' is repeated"},
           Case{&everything, "meta.tags", "'tags' is repeated"},
           Case{&everything, "", "no field ''"},
       }) {
    SCOPED_TRACE(c.path);
    const auto reader = CompileKeyReader(*c.type, c.path);
    ASSERT_FALSE(reader.ok());
    EXPECT_EQ(reader.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_NE(reader.status().message().find(c.says), std::string_view::npos)
        << reader.status().message();
    EXPECT_NE(reader.status().message().find(absl::StrCat("'", c.path, "'")),
              std::string_view::npos)
        << reader.status().message();
  }
}

TEST(KeyReader, MalformedBytesGiveNoKeysAndNeverCrash) {
  namespace tv1 = transaction::v1;
  const auto reader = CompileKeyReader(*tv1::BatchRequest::descriptor(), "transactions.id");
  ASSERT_TRUE(reader.ok());
  // Malformed at the top level: a cut varint, a length past the end, a group.
  for (const std::string& bytes :
       {std::string("\xff"), std::string("\x12\x05") + "ab",
        std::string("\x12\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff"), std::string("\x13\x14")}) {
    EXPECT_TRUE(KeysOf(**reader, bytes).empty());
  }
  // Random bytes, and every cut of a real batch: whatever they read as, no crash.
  tv1::BatchRequest batch;
  for (int i = 0; i < 4; ++i) batch.add_transactions()->set_id("tx-" + std::to_string(i));
  const std::string good = batch.SerializeAsString();
  const auto single = CompileKeyReader(*tv1::CommittedTransaction::descriptor(), "transaction.id");
  ASSERT_TRUE(single.ok());
  std::mt19937_64 rng(7);
  std::vector<uint64_t> keys;
  for (int i = 0; i < 20'000; ++i) {
    std::string bytes = good.substr(0, rng() % (good.size() + 1));
    if (i % 2 == 1) {
      for (char& c : bytes) {
        if (rng() % 8 == 0) c = static_cast<char>(rng());
      }
    }
    keys.clear();
    (*reader)->ReadKeys(bytes, &keys);
    EXPECT_LE(keys.size(), 4u + bytes.size());
    keys.clear();
    (*single)->ReadKeys(bytes, &keys);
    EXPECT_LE(keys.size(), 1u);
  }
}

// A message malformed after its first elements: FindField (a singular hop, or
// FieldPath) rejects the whole message, the repeated hop still yields the
// elements before the damage. Disabled: the reader yields the two keys.
TEST(KeyReader, AMessageMalformedAfterSomeElementsGivesNoKeys) {
  namespace tv1 = transaction::v1;
  tv1::BatchRequest batch;
  batch.add_transactions()->set_id("tx-1");
  batch.add_transactions()->set_id("tx-2");
  const std::string bytes = batch.SerializeAsString() + std::string("\x12\x05") + "ab";
  const auto reader = CompileKeyReader(*tv1::BatchRequest::descriptor(), "transactions.id");
  ASSERT_TRUE(reader.ok());
  EXPECT_TRUE(KeysOf(**reader, bytes).empty());
}

// WebSocket messages are JSON text: the same fields by dotted member paths.
TEST(JsonInspector, ReadsKeysStampsCodesAndPhasesFromJsonText) {
  InspectorSpec spec;
  spec.request_key = "id";
  spec.response_key = "id";
  spec.timestamp = "event.sentAtUnixNanos";
  spec.status = "code";
  spec.phase_from = "event.createdAtUnixNanos";
  spec.phase_when = "event.status";
  spec.phase_equals = "APPROVED";
  auto inspector = CompileJsonInspector(spec);
  ASSERT_TRUE(inspector.ok()) << inspector.status();
  const MessageInspector& json = **inspector;
  // A string id is a key by its text, a number by its value: the reply that echoes it matches.
  const auto request_key = json.RequestKey(R"({"op":"submit","id":"c-17","transaction":{}})");
  ASSERT_TRUE(request_key.has_value());
  EXPECT_EQ(json.Inspect(R"({"type":"reply","id":"c-17","code":"OK"})").key, request_key);
  EXPECT_NE(json.Inspect(R"({"type":"reply","id":"c-18","code":"OK"})").key, request_key);
  EXPECT_EQ(json.RequestKey(R"({"id":42})"), 42u);
  // Codes by name (any case) or number; a name that is no code is UNKNOWN.
  EXPECT_EQ(json.Inspect(R"({"id":1,"code":"ALREADY_EXISTS"})").status_code, 6);
  EXPECT_EQ(json.Inspect(R"({"id":1,"code":"unavailable"})").status_code, 14);
  EXPECT_EQ(json.Inspect(R"({"id":1,"code":9})").status_code, 9);
  EXPECT_EQ(json.Inspect(R"({"id":1,"code":"MAYBE"})").status_code, 2);
  EXPECT_FALSE(json.Inspect(R"({"id":1})").status_code.has_value());
  // 64-bit integers as protobuf's JSON mapping writes them (strings), or as numbers.
  const auto event =
      json.Inspect(R"({"type":"event","id":"s","event":{"sentAtUnixNanos":"1700000000123456789",)"
                   R"("status":"APPROVED","createdAtUnixNanos":"1700000000000000000"}})");
  EXPECT_EQ(event.sent_at_unix_nanos, 1'700'000'000'123'456'789);
  EXPECT_EQ(event.phase_start_unix_nanos, 1'700'000'000'000'000'000);
  EXPECT_EQ(json.Inspect(R"({"event":{"sentAtUnixNanos":5}})").sent_at_unix_nanos, 5);
  EXPECT_FALSE(json.Inspect(R"({"event":{"status":"PENDING","createdAtUnixNanos":"1"}})")
                   .phase_start_unix_nanos.has_value());
  EXPECT_FALSE(json.Inspect(R"({"event":"not an object"})").sent_at_unix_nanos.has_value());
  // A code number out of range is UNKNOWN, not a code it wraps to.
  EXPECT_EQ(json.Inspect(R"({"id":1,"code":4294967296})").status_code, 2);
  EXPECT_EQ(json.Inspect(R"({"id":1,"code":-1})").status_code, 2);
  // Members after a subtree deeper than any path (100 levels) are still read.
  const std::string deep = absl::StrCat(R"({"junk":)", std::string(100, '['), std::string(100, ']'),
                                        R"(,"id":"c-17","code":"OK"})");
  EXPECT_EQ(json.Inspect(deep).key, request_key);
  // A member of an object inside an array is not at the path.
  EXPECT_FALSE(json.Inspect(R"({"event":[{"sentAtUnixNanos":5}]})").sent_at_unix_nanos);
  // A message that is not JSON reads as nothing, and does not throw.
  const auto broken = json.Inspect("{\"id\": \"c-17\", \xff");
  EXPECT_FALSE(broken.key.has_value());
  EXPECT_FALSE(json.RequestKey("not json").has_value());
}

TEST(JsonInspector, RefusesPathsWithEmptyNamesAndHalfGivenPairs) {
  InspectorSpec spec;
  spec.timestamp = "event..sentAt";
  EXPECT_EQ(CompileJsonInspector(spec).status().message(),
            "timestamp_field: 'event..sentAt' has an empty member name");
  InspectorSpec half;
  half.request_key = "id";
  EXPECT_FALSE(CompileJsonInspector(half).ok());
}

}  // namespace
}  // namespace aurigraph::loadgen
