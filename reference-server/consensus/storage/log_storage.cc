#include "reference-server/consensus/storage/log_storage.h"

#include <rocksdb/db.h>
#include <rocksdb/write_batch.h>

#include <cstring>
#include <deque>
#include <mutex>

#include "absl/strings/str_cat.h"

namespace aurigraph::consensus {
namespace {

using raft::DurableState;
using raft::Entry;
using raft::HardState;
using raft::Ready;
using raft::Snapshot;

// Replaces `log` from `entries`' first index on; drops the log up to a snapshot.
void AppendTo(std::deque<Entry>& log, const std::vector<Entry>& entries) {
  if (entries.empty()) return;
  while (!log.empty() && log.back().index >= entries.front().index) log.pop_back();
  log.insert(log.end(), entries.begin(), entries.end());
}
void DropThrough(std::deque<Entry>& log, uint64_t index) {
  while (!log.empty() && log.front().index <= index) log.pop_front();
}

class MemoryLogStorage final : public LogStorage {
 public:
  absl::StatusOr<DurableState> Load() override {
    std::lock_guard lock(mutex_);
    return DurableState{hard_state_, snapshot_, {log_.begin(), log_.end()}};
  }
  absl::Status Save(const Ready& ready) override {
    std::lock_guard lock(mutex_);
    if (ready.hard_state) hard_state_ = *ready.hard_state;
    if (ready.snapshot) {
      snapshot_ = *ready.snapshot;
      log_.clear();
    }
    AppendTo(log_, ready.entries);
    return absl::OkStatus();
  }
  absl::Status Compact(const Snapshot& snapshot) override {
    std::lock_guard lock(mutex_);
    snapshot_ = snapshot;
    DropThrough(log_, snapshot.index);
    return absl::OkStatus();
  }
  bool durable() const override { return false; }

 private:
  std::mutex mutex_;
  HardState hard_state_;
  Snapshot snapshot_;
  std::deque<Entry> log_;
};

// Keys: "h" hard state, "s" snapshot, "e" + 8-byte big-endian index for each
// entry (so the log sorts by index).
std::string EntryKey(uint64_t index) {
  std::string key = "e";
  for (int shift = 56; shift >= 0; shift -= 8) key.push_back(static_cast<char>(index >> shift));
  return key;
}
void PutU64(std::string& out, uint64_t v) { out.append(reinterpret_cast<const char*>(&v), 8); }
bool GetU64(std::string_view& in, uint64_t* v) {
  if (in.size() < 8) return false;
  std::memcpy(v, in.data(), 8);
  in.remove_prefix(8);
  return true;
}

class RocksLogStorage final : public LogStorage {
 public:
  RocksLogStorage(std::string directory, std::unique_ptr<rocksdb::DB> db)
      : directory_(std::move(directory)), db_(std::move(db)) {}

  absl::StatusOr<DurableState> Load() override {
    DurableState state;
    std::string value;
    rocksdb::Status read = db_->Get(rocksdb::ReadOptions(), "h", &value);
    if (!read.ok() && !read.IsNotFound()) return Unreadable(read);
    if (read.ok()) {
      std::string_view in = value;
      if (!GetU64(in, &state.hard_state.term) || !GetU64(in, &state.hard_state.vote) ||
          !GetU64(in, &state.hard_state.commit)) {
        return Corrupt("hard state");
      }
    }
    read = db_->Get(rocksdb::ReadOptions(), "s", &value);
    if (!read.ok() && !read.IsNotFound()) return Unreadable(read);
    if (read.ok()) {
      std::string_view in = value;
      if (!GetU64(in, &state.snapshot.index) || !GetU64(in, &state.snapshot.term)) {
        return Corrupt("snapshot");
      }
      state.snapshot.data = std::string(in);
    }
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions()));
    uint64_t expected = state.snapshot.index + 1;
    for (it->Seek(EntryKey(expected)); it->Valid() && it->key().starts_with("e"); it->Next()) {
      std::string_view in(it->value().data(), it->value().size());
      Entry entry;
      if (!GetU64(in, &entry.term)) return Corrupt("entry");
      entry.index = expected++;
      if (it->key().ToString() != EntryKey(entry.index)) return Corrupt("log (a gap)");
      entry.data = std::string(in);
      state.entries.push_back(std::move(entry));
    }
    if (!it->status().ok()) return Unreadable(it->status());
    if (state.hard_state.commit > expected - 1) {
      return Corrupt("log: it ends before the commit index it recorded");
    }
    return state;
  }

  absl::Status Save(const Ready& ready) override {
    rocksdb::WriteBatch batch;
    if (ready.hard_state) {
      std::string value;
      PutU64(value, ready.hard_state->term);
      PutU64(value, ready.hard_state->vote);
      PutU64(value, ready.hard_state->commit);
      batch.Put("h", value);
    }
    if (ready.snapshot) {
      PutSnapshot(batch, *ready.snapshot);
      batch.DeleteRange(EntryKey(0), EntryKey(UINT64_MAX));
    }
    if (!ready.entries.empty()) {
      batch.DeleteRange(EntryKey(ready.entries.front().index), EntryKey(UINT64_MAX));
      for (const Entry& e : ready.entries) {
        std::string value;
        value.reserve(8 + e.data.size());
        PutU64(value, e.term);
        value += e.data;
        batch.Put(EntryKey(e.index), value);
      }
    }
    return Write(batch, ready.must_sync);
  }

  absl::Status Compact(const Snapshot& snapshot) override {
    rocksdb::WriteBatch batch;
    PutSnapshot(batch, snapshot);
    batch.DeleteRange(EntryKey(0), EntryKey(snapshot.index + 1));
    return Write(batch, /*sync=*/true);
  }

  bool durable() const override { return true; }

 private:
  static void PutSnapshot(rocksdb::WriteBatch& batch, const Snapshot& s) {
    std::string value;
    value.reserve(16 + s.data.size());
    PutU64(value, s.index);
    PutU64(value, s.term);
    value += s.data;
    batch.Put("s", value);
  }
  absl::Status Write(rocksdb::WriteBatch& batch, bool sync) {
    rocksdb::WriteOptions options;
    options.sync = sync;
    const rocksdb::Status status = db_->Write(options, &batch);
    if (!status.ok()) {
      return absl::DataLossError(
          absl::StrCat(directory_, ": cannot persist the Raft log (", status.ToString(), ")"));
    }
    return absl::OkStatus();
  }
  absl::Status Unreadable(const rocksdb::Status& status) const {
    return absl::DataLossError(
        absl::StrCat(directory_, ": cannot read the Raft log (", status.ToString(), ")"));
  }
  absl::Status Corrupt(const std::string& what) const {
    return absl::DataLossError(absl::StrCat(directory_, ": corrupt Raft ", what));
  }

  std::string directory_;
  std::unique_ptr<rocksdb::DB> db_;
};

}  // namespace

std::unique_ptr<LogStorage> NewMemoryLogStorage() { return std::make_unique<MemoryLogStorage>(); }

absl::StatusOr<std::unique_ptr<LogStorage>> OpenRocksLogStorage(const std::string& directory) {
  rocksdb::Options options;
  options.create_if_missing = true;
  rocksdb::DB* db = nullptr;
  const rocksdb::Status status = rocksdb::DB::Open(options, directory, &db);
  if (!status.ok()) {
    return absl::FailedPreconditionError(
        absl::StrCat(directory, ": cannot open the Raft log (", status.ToString(), ")"));
  }
  return std::make_unique<RocksLogStorage>(directory, std::unique_ptr<rocksdb::DB>(db));
}

}  // namespace aurigraph::consensus
