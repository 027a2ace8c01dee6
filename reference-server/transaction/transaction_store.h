// Transactions behind TransactionService: each is validated (required fields,
// content hash) and stored under its unique id; a repeated id is rejected.
// Memory is bounded: the oldest transactions are forgotten beyond `max_stored`
// (duplicate detection covers that window). Thread-safe (sharded locks).
#pragma once

#include <atomic>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "aurigraph/transaction/v1/transaction.pb.h"
#include "common/clock/clock.h"

namespace aurigraph::refserver {

// Lower-case hex SHA-256 of id, sender, receiver, amount, nonce and memo joined with "\n".
std::string TransactionContentHash(const transaction::v1::Transaction& tx);

class TransactionStore {
 public:
  struct Options {
    int64_t max_stored = 1'000'000;
    int max_batch = 10'000;
  };
  struct Counters {
    std::atomic<int64_t> accepted{0}, rejected{0}, batches{0}, evicted{0};
  };

  // `clock` reads Unix-epoch nanoseconds.
  TransactionStore(const Clock& clock, Options options);

  absl::StatusOr<transaction::v1::TransactionResponse> Submit(
      const transaction::v1::Transaction& tx);
  // Whole-batch errors (too many transactions) fail the call; per-transaction
  // outcomes are reported in the response.
  absl::StatusOr<transaction::v1::BatchResponse> SubmitBatch(
      const transaction::v1::BatchRequest& batch);
  absl::StatusOr<transaction::v1::Transaction> Get(const std::string& id) const;
  int64_t size() const;
  const Counters& counters() const { return counters_; }
  // The store's contents (a consensus snapshot): every transaction, shard by
  // shard in arrival order, so Restore rebuilds the same eviction order.
  std::string Serialize() const;
  // Replaces the contents with what Serialize wrote; DATA_LOSS when it cannot be read.
  absl::Status Restore(std::string_view data);

 private:
  // A stored transaction is one allocation: its id's and its bytes' sizes,
  // its id, then its serialized bytes (what a snapshot copies and Get parses).
  // The index maps each id (a view into its record) to the record.
  using Record = std::unique_ptr<char[]>;
  struct Shard {
    mutable std::mutex mutex;
    absl::flat_hash_map<std::string_view, const char*> by_id;
    std::deque<Record> arrival_order;  // owns the records; the oldest first
  };
  struct RecordSizes {
    uint32_t id, bytes;
  };
  static Record MakeRecord(const transaction::v1::Transaction& tx);
  static RecordSizes SizesOf(const char* record);
  static std::string_view IdOf(const char* record);
  static std::string_view BytesOf(const char* record);
  // Stores `record` unless its id is there; evicts beyond `limit`.
  bool Insert(Record record, int64_t limit);
  Shard& ShardFor(std::string_view id) const;
  absl::Status Validate(const transaction::v1::Transaction& tx) const;

  const Clock& clock_;
  Options options_;
  std::vector<std::unique_ptr<Shard>> shards_;
  Counters counters_;
};

}  // namespace aurigraph::refserver
