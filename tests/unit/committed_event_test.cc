// A committed transaction's event is serialized by hand, straight from the
// transaction: its bytes must be exactly protobuf's serialization of the
// CommittedTransaction with the same fields, whatever the fields (empty,
// zero, negative, the extremes, non-ASCII text, a contract call), and the
// accounts beside them must be the transaction's.
#include "reference-server/transaction/committed_event.h"

#include <google/protobuf/arena.h>
#include <gtest/gtest.h>

#include <limits>
#include <random>
#include <string>

namespace aurigraph::refserver {
namespace {

namespace tv1 = transaction::v1;

std::string Expected(const tv1::Transaction& tx, uint64_t sequence, int64_t committed_at,
                     uint64_t log_index) {
  tv1::CommittedTransaction message;
  *message.mutable_transaction() = tx;
  message.set_sequence(sequence);
  message.set_committed_at_unix_nanos(committed_at);
  message.set_log_index(log_index);
  return message.SerializeAsString();
}

std::string BytesOf(const CommittedEvent& event) {
  return std::string(reinterpret_cast<const char*>(event.bytes.begin()), event.bytes.size());
}

TEST(CommittedEvent, IsProtobufsOwnSerialization) {
  tv1::Transaction tx;
  tx.set_id("tx-1");
  tx.set_sender("acct-1");
  tx.set_receiver("acct-2");
  tx.set_amount(42);
  tx.set_nonce(7);
  tx.set_memo("caf\xc3\xa9 \xe2\x82\xac");
  tx.set_timestamp_unix_nanos(-5);
  tx.set_content_hash(std::string(64, 'a'));
  const auto event = MakeCommittedEvent(tx, 3, 1'764'547'200'123'456'789, 9);
  EXPECT_EQ(BytesOf(*event), Expected(tx, 3, 1'764'547'200'123'456'789, 9));
  EXPECT_EQ(event->sender, "acct-1");
  EXPECT_EQ(event->receiver, "acct-2");
  EXPECT_EQ(event->Message().SerializeAsString(), Expected(tx, 3, 1'764'547'200'123'456'789, 9));
  EXPECT_TRUE(event->Concerns(""));
  EXPECT_TRUE(event->Concerns("acct-1"));
  EXPECT_TRUE(event->Concerns("acct-2"));
  EXPECT_FALSE(event->Concerns("acct-3"));

  // Empty: the transaction field is still there (set, empty), the zeros are not.
  const tv1::Transaction empty;
  EXPECT_EQ(BytesOf(*MakeCommittedEvent(empty, 0, 0, 0)), Expected(empty, 0, 0, 0));
  EXPECT_EQ(BytesOf(*MakeCommittedEvent(empty, 0, 0, 0)).size(), 2u);
  constexpr uint64_t kMax = std::numeric_limits<uint64_t>::max();
  for (const int64_t at :
       {std::numeric_limits<int64_t>::min(), int64_t{-1}, std::numeric_limits<int64_t>::max()}) {
    EXPECT_EQ(BytesOf(*MakeCommittedEvent(tx, kMax, at, kMax)), Expected(tx, kMax, at, kMax)) << at;
  }
}

TEST(CommittedEvent, RandomTransactionsOnAnArenaSerializeAsProtobufDoes) {
  std::mt19937_64 rng(22);
  const auto text = [&rng](size_t most) {
    static const std::string kPieces[] = {"a",  "Z",  "0",        " ",
                                          "\n", "\"", "\xc3\xa9", "\xe2\x82\xac"};
    std::string s;
    for (size_t n = rng() % (most + 1); n > 0; --n) s += kPieces[rng() % 8];
    return s;
  };
  const auto number = [&rng] {
    switch (rng() % 4) {
      case 0:
        return uint64_t{0};
      case 1:
        return rng() % 128;
      case 2:
        return std::numeric_limits<uint64_t>::max();
      default:
        return rng();
    }
  };
  for (int i = 0; i < 500; ++i) {
    google::protobuf::Arena arena;
    auto* tx = google::protobuf::Arena::CreateMessage<tv1::Transaction>(&arena);
    tx->set_id(text(40));
    tx->set_sender(text(30));
    tx->set_receiver(text(30));
    tx->set_amount(number());
    tx->set_nonce(number());
    tx->set_memo(text(300));
    tx->set_timestamp_unix_nanos(static_cast<int64_t>(number()));
    tx->set_content_hash(text(64));
    if (rng() % 3 == 0) {
      tx->mutable_contract_call()->set_address(text(20));
      tx->mutable_contract_call()->set_function(text(10));
      tx->mutable_contract_call()->set_gas_limit(number());
      for (uint64_t n = rng() % 4; n > 0; --n) {
        auto* arg = tx->mutable_contract_call()->add_args();
        if (rng() % 2 == 0) {
          arg->set_int_value(static_cast<int64_t>(number()));
        } else {
          arg->set_text_value(text(20));
        }
      }
    }
    const uint64_t sequence = number(), log_index = number();
    const auto committed_at = static_cast<int64_t>(number());
    const auto event = MakeCommittedEvent(*tx, sequence, committed_at, log_index);
    ASSERT_EQ(BytesOf(*event), Expected(*tx, sequence, committed_at, log_index)) << i;
    EXPECT_EQ(event->sender, tx->sender());
    EXPECT_EQ(event->receiver, tx->receiver());
  }
}

}  // namespace
}  // namespace aurigraph::refserver
