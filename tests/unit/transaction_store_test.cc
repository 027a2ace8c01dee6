#include "reference-server/transaction/transaction_store.h"

#include <gtest/gtest.h>

#include <set>
#include <string>

#include "absl/strings/str_cat.h"

namespace aurigraph::refserver {
namespace {

using namespace transaction::v1;

Transaction Tx(const std::string& id) {
  Transaction tx;
  tx.set_id(id);
  tx.set_sender("alice");
  tx.set_receiver("bob");
  tx.set_amount(10);
  tx.set_nonce(1);
  tx.set_memo("m");
  tx.set_content_hash(TransactionContentHash(tx));
  return tx;
}

class TransactionStoreTest : public ::testing::Test {
 protected:
  ManualClock clock{5};
  TransactionStore store{clock, TransactionStore::Options{640, 100}};
};

TEST(TransactionContentHash, IsSha256OfTheFieldsJoinedByNewlines) {
  Transaction tx;
  tx.set_id("t");
  tx.set_sender("a");
  tx.set_receiver("b");
  tx.set_amount(1);
  tx.set_nonce(2);
  tx.set_memo("");
  // printf 't\na\nb\n1\n2\n' | sha256sum
  EXPECT_EQ(TransactionContentHash(tx),
            "15c053f9729d1cd14ee4cc73f25c4551d0917dcb2e921b6501b5f8d5f32ec7d9");
}

TEST_F(TransactionStoreTest, AcceptsValidAndRejectsDuplicates) {
  EXPECT_EQ(store.Submit(Tx("t1"))->status(), TRANSACTION_STATUS_ACCEPTED);
  EXPECT_EQ(store.Submit(Tx("t1")).status().code(), absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(store.Get("t1")->sender(), "alice");
  EXPECT_EQ(store.Get("t2").status().code(), absl::StatusCode::kNotFound);
}

TEST_F(TransactionStoreTest, ValidatesContentAndHash) {
  Transaction tampered = Tx("t3");
  tampered.set_amount(11);
  EXPECT_EQ(store.Submit(tampered).status().message(),
            "t3: content_hash does not match the content");
  Transaction no_receiver = Tx("t4");
  no_receiver.clear_receiver();
  EXPECT_EQ(store.Submit(no_receiver).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(store.Submit(Transaction()).status().message(), "id is required");
  EXPECT_EQ(store.counters().rejected.load(), 3);
}

// A snapshot is a BatchRequest's bytes, written without building one: protobuf's
// own parser reads every transaction back, and another store restores from it.
TEST_F(TransactionStoreTest, ASnapshotIsABatchRequestOfEveryTransaction) {
  std::set<std::string> ids;
  for (int i = 0; i < 50; ++i) {
    Transaction tx = Tx(absl::StrCat("tx-", i));
    tx.set_memo(std::string(static_cast<size_t>(i * 7), 'x'));  // sizes over one length byte
    tx.set_content_hash(TransactionContentHash(tx));
    ASSERT_TRUE(store.Submit(tx).ok());
    ids.insert(tx.id());
  }
  const std::string snapshot = store.Serialize();
  BatchRequest parsed;
  ASSERT_TRUE(parsed.ParseFromString(snapshot));
  ASSERT_EQ(parsed.transactions_size(), 50);
  std::set<std::string> read;
  for (const Transaction& tx : parsed.transactions()) {
    read.insert(tx.id());
    EXPECT_EQ(tx.SerializeAsString(), store.Get(tx.id())->SerializeAsString());
  }
  EXPECT_EQ(read, ids);
  TransactionStore restored{clock, TransactionStore::Options{640, 100}};
  ASSERT_TRUE(restored.Restore(snapshot).ok());
  EXPECT_EQ(restored.Get("tx-49")->memo(), std::string(343, 'x'));
  EXPECT_EQ(restored.Serialize(), snapshot);
  EXPECT_EQ(restored.Restore("\xff").code(), absl::StatusCode::kDataLoss);
}

TEST_F(TransactionStoreTest, BatchReportsPerTransactionOutcomes) {
  BatchRequest batch;
  batch.set_batch_id("b");
  *batch.add_transactions() = Tx("x1");
  *batch.add_transactions() = Tx("x1");
  Transaction bad = Tx("x2");
  bad.set_content_hash("00");
  *batch.add_transactions() = bad;
  *batch.add_transactions() = Tx("x3");
  auto response = store.SubmitBatch(batch);
  ASSERT_TRUE(response.ok());
  EXPECT_EQ(response->accepted(), 2);
  EXPECT_EQ(response->rejected(), 2);
  EXPECT_EQ(response->results(1).code(), static_cast<int>(absl::StatusCode::kAlreadyExists));
  EXPECT_EQ(response->results(2).code(), static_cast<int>(absl::StatusCode::kInvalidArgument));
  BatchRequest too_big;
  for (int i = 0; i < 101; ++i) *too_big.add_transactions() = Tx("y" + std::to_string(i));
  EXPECT_EQ(store.SubmitBatch(too_big).status().message(),
            "batch has 101 transactions; the limit is 100");
}

TEST_F(TransactionStoreTest, MemoryIsBoundedByRetention) {
  for (int i = 0; i < 5000; ++i) ASSERT_TRUE(store.Submit(Tx("r" + std::to_string(i))).ok());
  EXPECT_LE(store.size(), 640);
  EXPECT_EQ(store.counters().evicted.load(), 5000 - store.size());
  // The oldest are forgotten (and may be submitted again), the newest kept whole.
  EXPECT_EQ(store.Get("r0").status().code(), absl::StatusCode::kNotFound);
  EXPECT_TRUE(store.Submit(Tx("r0")).ok());
  EXPECT_EQ(store.Get("r4999")->SerializeAsString(), Tx("r4999").SerializeAsString());
}

}  // namespace
}  // namespace aurigraph::refserver
