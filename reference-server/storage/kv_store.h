// The versioned key-value store behind StorageService, on RocksDB (LZ4
// compressed): on disk under a directory, or in memory (RocksDB's memory
// environment) without one. Every put or delete of a key is a new version;
// the newest `max_history` are kept, each overwriting the one `max_history`
// before it. A deleted or expired key stays readable
// in its history for `retention`, then Sweep forgets it. Keys and value bytes
// held are bounded; what would pass a bound is refused (RESOURCE_EXHAUSTED)
// and counted. Keys under `reserved_prefix` (ContractService's code and
// state) are read like any other but written only through PutAll.
// Thread-safe (writes to one key are serialized); time is injected.
#pragma once

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "aurigraph/storage/v1/storage.pb.h"
#include "common/clock/clock.h"

namespace rocksdb {
class DB;
class Env;
class Snapshot;
}  // namespace rocksdb

namespace aurigraph::refserver {

class KvStore {
 public:
  struct Options {
    std::string directory;  // empty: in memory
    size_t max_keys = 1'000'000;
    // Bytes held as stored (keys, version headers, values; every version kept),
    // before compression. Deletions and writes that add nothing pass it.
    int64_t max_bytes = int64_t{1} << 30;
    size_t max_value_bytes = 1 << 20;
    size_t max_history = 16;  // versions kept per key
    int64_t retention_nanos = 60'000'000'000;
    size_t sweep_batch = 10'000;                // keys a Sweep looks at
    std::string reserved_prefix = "contract/";  // Put and Delete refuse it (PERMISSION_DENIED)
  };
  struct Counters {
    std::atomic<int64_t> puts{0}, deletes{0}, gets{0}, get_misses{0}, scans{0}, refused_keys{0},
        refused_bytes{0}, purged{0};
  };

  // `clock` reads Unix-epoch nanoseconds (WallClock in production).
  static absl::StatusOr<std::unique_ptr<KvStore>> Open(const Clock& clock, Options options);
  ~KvStore();

  absl::StatusOr<storage::v1::PutResponse> Put(const storage::v1::PutRequest& request);
  absl::StatusOr<storage::v1::Entry> Get(const storage::v1::GetRequest& request);
  absl::StatusOr<storage::v1::DeleteResponse> Delete(const storage::v1::DeleteRequest& request);
  absl::StatusOr<storage::v1::ScanResponse> Scan(const storage::v1::ScanRequest& request);
  absl::StatusOr<storage::v1::VersionResponse> GetVersion(
      const storage::v1::VersionRequest& request);
  // Forgets keys deleted or expired more than `retention` ago, looking at up
  // to `sweep_batch` keys from where the last sweep stopped; returns how many.
  int64_t Sweep();

  // For the store's other users (ContractService), not counted as puts.
  // PutAll writes every key's next version in one atomic batch (all or none;
  // bounds as for Put, any key allowed) and returns their versions in order;
  // keys must be distinct.
  absl::StatusOr<std::vector<uint64_t>> PutAll(
      const std::vector<std::pair<std::string, std::string>>& writes);
  // Get and Scan without counting them (the store's own operations are the
  // service's; these are the other users').
  absl::StatusOr<storage::v1::Entry> Peek(const std::string& key) const;
  absl::StatusOr<storage::v1::ScanResponse> Range(const storage::v1::ScanRequest& request) const;

  // Everything the store holds as bytes, and back: Load replaces all of it in
  // one atomic batch, every key's versions and history as they were (a
  // replicated state machine's snapshot). Load is for a store whose other
  // writers wait meanwhile; a dump of a store made with another history bound
  // is FAILED_PRECONDITION, bytes that are no dump DATA_LOSS.
  absl::StatusOr<std::string> Dump() const;
  absl::Status Load(std::string_view dump);

  int64_t keys_held() const { return keys_held_.load(std::memory_order_relaxed); }
  int64_t bytes_held() const { return bytes_held_.load(std::memory_order_relaxed); }
  const Counters& counters() const { return counters_; }

  struct Record;   // one stored version (kv_store.cc)
  struct Pending;  // one write made ready (kv_store.cc)

 private:
  KvStore(const Clock& clock, Options options, std::unique_ptr<rocksdb::Env> env,
          std::unique_ptr<rocksdb::DB> db);
  size_t StripeOf(const std::string& key) const;
  std::mutex& LockFor(const std::string& key);
  absl::Status CheckWritable(const std::string& key) const;
  // Get without counting it (Delete reads what it deletes).
  absl::StatusOr<storage::v1::Entry> Read(const storage::v1::GetRequest& request) const;
  // The key's newest version; 0 when it has none.
  absl::StatusOr<uint64_t> Newest(const std::string& key,
                                  const rocksdb::Snapshot* snapshot = nullptr) const;
  // Reads version `version` of the key into `record`; false when its slot
  // holds another version (dropped) or nothing.
  bool ReadSlot(const std::string& key, uint64_t version, bool with_value, Record* record,
                int64_t* value_bytes, const rocksdb::Snapshot* snapshot = nullptr) const;
  // Writes `record` as the key's next version (the caller holds its lock).
  absl::StatusOr<uint64_t> Append(const std::string& key, Record record, uint64_t if_version);
  // Append in two steps, so several keys' writes commit in one batch (the
  // caller holds every key's lock): what to write, then the write, the bounds
  // reserved first for all of them.
  absl::StatusOr<Pending> Prepare(const std::string& key, Record record, uint64_t if_version) const;
  absl::Status Commit(const std::vector<Pending>& writes);
  // Counts what an opened directory holds.
  absl::Status Tally();

  const Clock& clock_;
  const Options options_;
  std::unique_ptr<rocksdb::Env> env_;  // before the DB, which uses it
  std::unique_ptr<rocksdb::DB> db_;
  std::array<std::mutex, 64> key_locks_;
  std::mutex sweep_mutex_;
  std::string sweep_cursor_;
  std::atomic<int64_t> keys_held_{0};
  std::atomic<int64_t> bytes_held_{0};
  Counters counters_;
};

}  // namespace aurigraph::refserver
