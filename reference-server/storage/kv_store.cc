#include "reference-server/storage/kv_store.h"

#include <rocksdb/convenience.h>
#include <rocksdb/db.h>
#include <rocksdb/env.h>
#include <rocksdb/write_batch.h>

#include <algorithm>
#include <cstring>
#include <functional>
#include <limits>

#include "absl/strings/str_cat.h"

namespace aurigraph::refserver {

namespace sv1 = storage::v1;

// One version of a key as stored: a 25-byte header (its version, written and
// expiry times, little-endian; a deletion flag) and the value.
struct KvStore::Record {
  uint64_t version = 0;
  int64_t written = 0;
  int64_t expires = 0;  // 0: never
  bool deleted = false;
  std::string value;

  bool Live(int64_t now) const { return !deleted && (expires == 0 || expires > now); }
  // When it stopped being live (INT64_MAX while it is live for ever).
  int64_t DeadSince() const {
    return deleted ? written : (expires == 0 ? std::numeric_limits<int64_t>::max() : expires);
  }
};

namespace {

constexpr size_t kMaxKeyBytes = 1024;
constexpr size_t kHeaderBytes = 25;
constexpr uint32_t kMaxScanLimit = 1000;
constexpr uint32_t kDefaultScanLimit = 100;
constexpr char kMetaKey[] = "m";  // the history bound the store was made with

// A key's newest version is in its head, 'h' KEY; the version itself in one
// of `max_history` slots, 's' KEY NUL SLOT, that versions take in turn. So a
// write overwrites what it replaces instead of deleting it: no tombstones pile
// up for reads to step over, and a scan walks one head per key. Heads sort as
// their keys' bytes do.
std::string HeadKey(const std::string& key) { return absl::StrCat("h", key); }

std::string SlotKey(const std::string& key, uint64_t version, size_t slots) {
  std::string out = absl::StrCat("s", key, std::string(1, '\0'));
  const auto slot = static_cast<uint32_t>(version % slots);
  for (int shift = 24; shift >= 0; shift -= 8) out.push_back(static_cast<char>(slot >> shift));
  return out;
}

// The first head after `key`'s (no key holds a NUL byte).
std::string HeadAfter(const std::string& key) {
  return absl::StrCat("h", key, std::string(1, '\0'));
}

std::string EncodeVersion(uint64_t version) {
  std::string out(8, '\0');
  std::memcpy(out.data(), &version, 8);
  return out;
}

// A head: the key's newest version and when that version stopped being live
// (INT64_MAX while it is), so the sweep finds dead keys from heads alone.
std::string EncodeHead(uint64_t version, int64_t dead_since) {
  std::string out(16, '\0');
  std::memcpy(out.data(), &version, 8);
  std::memcpy(out.data() + 8, &dead_since, 8);
  return out;
}

bool DecodeHead(const rocksdb::Slice& stored, uint64_t* version, int64_t* dead_since) {
  if (stored.size() != 16) return false;
  std::memcpy(version, stored.data(), 8);
  std::memcpy(dead_since, stored.data() + 8, 8);
  return true;
}

bool DecodeVersion(const rocksdb::Slice& stored, uint64_t* version) {
  if (stored.size() != 8) return false;
  std::memcpy(version, stored.data(), 8);
  return true;
}

absl::Status CheckKey(const std::string& key, const char* field) {
  if (key.empty()) return absl::InvalidArgumentError(absl::StrCat(field, ": empty"));
  if (key.size() > kMaxKeyBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, ": ", key.size(), " bytes, more than ", kMaxKeyBytes));
  }
  if (key.find('\0') != std::string::npos) {
    return absl::InvalidArgumentError(absl::StrCat(field, ": holds a NUL byte"));
  }
  return absl::OkStatus();
}

// In memory a write-ahead log protects nothing: it is lost with the process.
rocksdb::WriteOptions WriteOptionsFor(const KvStore::Options& options) {
  rocksdb::WriteOptions write;
  write.disableWAL = options.directory.empty();
  return write;
}

absl::Status Failed(const rocksdb::Status& status, const char* what) {
  return absl::InternalError(absl::StrCat("storage ", what, ": ", status.ToString()));
}

}  // namespace

absl::StatusOr<std::unique_ptr<KvStore>> KvStore::Open(const Clock& clock, Options options) {
  std::unique_ptr<rocksdb::Env> env;
  rocksdb::Options db_options;
  db_options.create_if_missing = true;
  const auto supported = rocksdb::GetSupportedCompressions();
  for (const auto type : {rocksdb::kLZ4Compression, rocksdb::kSnappyCompression}) {
    if (std::find(supported.begin(), supported.end(), type) != supported.end()) {
      db_options.compression = type;
      break;
    }
  }
  std::string path = options.directory;
  if (path.empty()) {
    env.reset(rocksdb::NewMemEnv(rocksdb::Env::Default()));
    db_options.env = env.get();
    path = "/aurigraph-storage";
  }
  rocksdb::DB* raw = nullptr;
  const rocksdb::Status opened = rocksdb::DB::Open(db_options, path, &raw);
  if (!opened.ok()) {
    return absl::UnavailableError(
        absl::StrCat("storage: cannot open ", path, ": ", opened.ToString()));
  }
  std::unique_ptr<rocksdb::DB> db(raw);
  // Versions map to slots by the history bound: a store keeps the one it was made with.
  std::string made_with;
  const rocksdb::Status meta = db->Get(rocksdb::ReadOptions(), kMetaKey, &made_with);
  uint64_t history = 0;
  if (meta.ok() && DecodeVersion(made_with, &history) && history != options.max_history) {
    return absl::FailedPreconditionError(absl::StrCat(
        "storage: ", path, " was made with --storage-max-history ", history, ", not ",
        options.max_history, "; start with ", history, ", or with another --data-dir"));
  }
  if (!meta.ok()) {
    const rocksdb::Status wrote =
        db->Put(WriteOptionsFor(options), kMetaKey, EncodeVersion(options.max_history));
    if (!wrote.ok()) return Failed(wrote, "write");
  }
  std::unique_ptr<KvStore> store(
      new KvStore(clock, std::move(options), std::move(env), std::move(db)));
  if (auto tallied = store->Tally(); !tallied.ok()) return tallied;
  return store;
}

KvStore::KvStore(const Clock& clock, Options options, std::unique_ptr<rocksdb::Env> env,
                 std::unique_ptr<rocksdb::DB> db)
    : clock_(clock), options_(std::move(options)), env_(std::move(env)), db_(std::move(db)) {}

KvStore::~KvStore() {
  db_.reset();  // before the environment it lives in
  env_.reset();
}

size_t KvStore::StripeOf(const std::string& key) const {
  return std::hash<std::string>()(key) % key_locks_.size();
}

std::mutex& KvStore::LockFor(const std::string& key) { return key_locks_[StripeOf(key)]; }

namespace {

std::string EncodeRecord(const KvStore::Record& r) {
  std::string out(kHeaderBytes, '\0');
  std::memcpy(out.data(), &r.version, 8);
  std::memcpy(out.data() + 8, &r.written, 8);
  std::memcpy(out.data() + 16, &r.expires, 8);
  out[24] = r.deleted ? 1 : 0;
  out += r.value;
  return out;
}

bool DecodeRecord(const rocksdb::Slice& stored, bool with_value, KvStore::Record* r) {
  if (stored.size() < kHeaderBytes) return false;
  std::memcpy(&r->version, stored.data(), 8);
  std::memcpy(&r->written, stored.data() + 8, 8);
  std::memcpy(&r->expires, stored.data() + 16, 8);
  r->deleted = stored[24] != 0;
  if (with_value) {
    r->value.assign(stored.data() + kHeaderBytes, stored.size() - kHeaderBytes);
  }
  return true;
}

// A consistent view of the store for the reads of one request.
class Snapshot {
 public:
  explicit Snapshot(rocksdb::DB& db) : db_(db), snapshot_(db.GetSnapshot()) {}
  ~Snapshot() { db_.ReleaseSnapshot(snapshot_); }
  Snapshot(const Snapshot&) = delete;
  Snapshot& operator=(const Snapshot&) = delete;
  const rocksdb::Snapshot* get() const { return snapshot_; }

 private:
  rocksdb::DB& db_;
  const rocksdb::Snapshot* snapshot_;
};

int64_t ValueBytes(const std::string& stored) {
  return static_cast<int64_t>(stored.size() - std::min(stored.size(), kHeaderBytes));
}

}  // namespace

absl::StatusOr<uint64_t> KvStore::Newest(const std::string& key,
                                         const rocksdb::Snapshot* snapshot) const {
  rocksdb::ReadOptions options;
  options.snapshot = snapshot;
  std::string stored;
  const rocksdb::Status read = db_->Get(options, HeadKey(key), &stored);
  if (read.IsNotFound()) return 0;
  if (!read.ok()) return Failed(read, "read");
  uint64_t version = 0;
  int64_t dead_since = 0;
  if (!DecodeHead(stored, &version, &dead_since)) {
    return absl::DataLossError(absl::StrCat("key '", key, "': its head is damaged"));
  }
  return version;
}

bool KvStore::ReadSlot(const std::string& key, uint64_t version, bool with_value, Record* record,
                       int64_t* value_bytes, const rocksdb::Snapshot* snapshot) const {
  rocksdb::ReadOptions options;
  options.snapshot = snapshot;
  std::string stored;
  if (!db_->Get(options, SlotKey(key, version, options_.max_history), &stored).ok()) {
    return false;
  }
  if (value_bytes != nullptr) *value_bytes = ValueBytes(stored);
  return DecodeRecord(stored, with_value, record) && record->version == version;
}

absl::Status KvStore::Tally() {
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions()));
  int64_t keys = 0, bytes = 0;
  for (it->Seek("h"); it->Valid() && it->key().starts_with("h"); it->Next()) {
    ++keys;
    bytes += static_cast<int64_t>(it->key().size() + it->value().size());
  }
  for (it->Seek("s"); it->Valid() && it->key().starts_with("s"); it->Next()) {
    bytes += static_cast<int64_t>(it->key().size() + it->value().size());
  }
  if (!it->status().ok()) return Failed(it->status(), "read");
  keys_held_ = keys;
  bytes_held_ = bytes;
  return absl::OkStatus();
}

// A write made ready: where it goes, and what it adds to the bounds.
struct KvStore::Pending {
  std::string slot, head, encoded;
  uint64_t version = 0;
  int64_t dead_since = 0;
  int64_t delta = 0;  // bytes held after, less before
  bool new_key = false;
  bool deletion = false;
};

absl::StatusOr<KvStore::Pending> KvStore::Prepare(const std::string& key, Record record,
                                                  uint64_t if_version) const {
  auto newest = Newest(key);
  if (!newest.ok()) return newest.status();
  const bool exists = *newest > 0;
  if (if_version != 0 && *newest != if_version) {
    return absl::FailedPreconditionError(
        exists ? absl::StrCat("key '", key, "' is at version ", *newest, ", not ", if_version)
               : absl::StrCat("key '", key, "' does not exist (if_version ", if_version, ")"));
  }
  record.version = *newest + 1;
  Pending p;
  p.slot = SlotKey(key, record.version, options_.max_history);
  p.head = HeadKey(key);
  p.encoded = EncodeRecord(record);
  p.version = record.version;
  p.dead_since = record.DeadSince();
  p.new_key = !exists;
  p.deletion = record.deleted;
  // Bytes are counted as stored: keys, headers and values. The slot's previous
  // version (max_history older) stops counting.
  std::string replaced;
  const rocksdb::Status read = db_->Get(rocksdb::ReadOptions(), p.slot, &replaced);
  if (!read.ok() && !read.IsNotFound()) return Failed(read, "read");
  p.delta = static_cast<int64_t>(p.slot.size() + p.encoded.size()) -
            (read.ok() ? static_cast<int64_t>(p.slot.size() + replaced.size()) : 0) +
            (exists ? 0 : static_cast<int64_t>(p.head.size() + 16));
  return p;
}

absl::Status KvStore::Commit(const std::vector<Pending>& writes) {
  int64_t new_keys = 0, delta = 0;
  bool adds = false;
  for (const Pending& p : writes) {
    new_keys += p.new_key ? 1 : 0;
    delta += p.delta;
    adds |= !p.deletion;
  }
  // Reserved before the write, so concurrent writers cannot pass a bound together.
  const int64_t keys_before = keys_held_.fetch_add(new_keys, std::memory_order_relaxed);
  if (new_keys > 0 && keys_before + new_keys > static_cast<int64_t>(options_.max_keys)) {
    keys_held_.fetch_sub(new_keys, std::memory_order_relaxed);
    counters_.refused_keys.fetch_add(1, std::memory_order_relaxed);
    return absl::ResourceExhaustedError(
        absl::StrCat("storage full: ", options_.max_keys, " keys held (--storage-max-keys)"));
  }
  const int64_t before = bytes_held_.fetch_add(delta, std::memory_order_relaxed);
  // A deletion, or a write that adds nothing, is always let through: they are
  // how a full store makes room.
  if (delta > 0 && adds && before + delta > options_.max_bytes) {
    bytes_held_.fetch_sub(delta, std::memory_order_relaxed);
    keys_held_.fetch_sub(new_keys, std::memory_order_relaxed);
    counters_.refused_bytes.fetch_add(1, std::memory_order_relaxed);
    return absl::ResourceExhaustedError(absl::StrCat("storage full: ", before,
                                                     " bytes held, the limit is ",
                                                     options_.max_bytes, " (--storage-max-bytes)"));
  }
  rocksdb::WriteBatch batch;
  for (const Pending& p : writes) {
    batch.Put(p.slot, p.encoded);
    batch.Put(p.head, EncodeHead(p.version, p.dead_since));
  }
  const rocksdb::Status written = db_->Write(WriteOptionsFor(options_), &batch);
  if (!written.ok()) {
    bytes_held_.fetch_sub(delta, std::memory_order_relaxed);
    keys_held_.fetch_sub(new_keys, std::memory_order_relaxed);
    return Failed(written, "write");
  }
  return absl::OkStatus();
}

absl::StatusOr<uint64_t> KvStore::Append(const std::string& key, Record record,
                                         uint64_t if_version) {
  auto pending = Prepare(key, std::move(record), if_version);
  if (!pending.ok()) return pending.status();
  const uint64_t version = pending->version;
  std::vector<Pending> one;
  one.push_back(*std::move(pending));  // moved, not copied: a Put's value is in it
  if (auto committed = Commit(one); !committed.ok()) return committed;
  return version;
}

absl::Status KvStore::CheckWritable(const std::string& key) const {
  if (!options_.reserved_prefix.empty() && key.rfind(options_.reserved_prefix, 0) == 0) {
    return absl::PermissionDeniedError(absl::StrCat(
        "key '", key, "': keys under '", options_.reserved_prefix,
        "' are contract code and state, written only by ContractService (readable here)"));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<uint64_t>> KvStore::PutAll(
    const std::vector<std::pair<std::string, std::string>>& writes) {
  // Every key's lock, in one order (stripe index), so writers cannot deadlock.
  std::vector<size_t> stripes;
  for (const auto& [key, value] : writes) {
    if (auto ok = CheckKey(key, "key"); !ok.ok()) return ok;
    if (value.size() > options_.max_value_bytes) {
      return absl::InvalidArgumentError(absl::StrCat("value of '", key, "': ", value.size(),
                                                     " bytes, more than ", options_.max_value_bytes,
                                                     " (--storage-max-value)"));
    }
    stripes.push_back(StripeOf(key));
  }
  std::sort(stripes.begin(), stripes.end());
  stripes.erase(std::unique(stripes.begin(), stripes.end()), stripes.end());
  std::vector<std::unique_lock<std::mutex>> locks;
  locks.reserve(stripes.size());
  for (const size_t stripe : stripes) locks.emplace_back(key_locks_[stripe]);
  const int64_t now = clock_.NowNanos();
  std::vector<Pending> pending;
  pending.reserve(writes.size());
  for (const auto& [key, value] : writes) {
    Record record;
    record.written = now;
    record.value = value;
    auto p = Prepare(key, std::move(record), 0);
    if (!p.ok()) return p.status();
    pending.push_back(*std::move(p));
  }
  if (auto committed = Commit(pending); !committed.ok()) return committed;
  std::vector<uint64_t> versions;
  versions.reserve(pending.size());
  for (const Pending& p : pending) versions.push_back(p.version);
  return versions;
}

absl::StatusOr<sv1::Entry> KvStore::Peek(const std::string& key) const {
  if (auto ok = CheckKey(key, "key"); !ok.ok()) return ok;
  sv1::GetRequest request;
  request.set_key(key);
  return Read(request);
}

absl::StatusOr<sv1::PutResponse> KvStore::Put(const sv1::PutRequest& request) {
  if (auto ok = CheckKey(request.key(), "key"); !ok.ok()) return ok;
  if (auto ok = CheckWritable(request.key()); !ok.ok()) return ok;
  if (request.value().size() > options_.max_value_bytes) {
    return absl::InvalidArgumentError(absl::StrCat("value: ", request.value().size(),
                                                   " bytes, more than ", options_.max_value_bytes,
                                                   " (--storage-max-value)"));
  }
  if (request.ttl_ms() < 0) return absl::InvalidArgumentError("ttl_ms: negative");
  Record record;
  record.written = clock_.NowNanos();
  if (request.ttl_ms() > 0) {
    // Capped so that the sum cannot overflow (146 years).
    const int64_t ttl =
        std::min<int64_t>(request.ttl_ms(), std::numeric_limits<int64_t>::max() / 1'000'000 / 2);
    record.expires = record.written + ttl * 1'000'000;
  }
  record.value = request.value();
  std::lock_guard lock(LockFor(request.key()));
  auto version = Append(request.key(), record, request.if_version());
  if (!version.ok()) return version.status();
  counters_.puts.fetch_add(1, std::memory_order_relaxed);
  sv1::PutResponse response;
  response.set_key(request.key());
  response.set_version(*version);
  response.set_written_at_unix_nanos(record.written);
  response.set_expires_at_unix_nanos(record.expires);
  return response;
}

absl::StatusOr<sv1::Entry> KvStore::Get(const sv1::GetRequest& request) {
  if (auto ok = CheckKey(request.key(), "key"); !ok.ok()) return ok;
  counters_.gets.fetch_add(1, std::memory_order_relaxed);
  auto entry = Read(request);
  if (absl::IsNotFound(entry.status())) {
    counters_.get_misses.fetch_add(1, std::memory_order_relaxed);
  }
  return entry;
}

absl::StatusOr<sv1::Entry> KvStore::Read(const sv1::GetRequest& request) const {
  const std::string& key = request.key();
  // One snapshot for the head and the slot: a write between them cannot
  // make a live version look dropped.
  const Snapshot snapshot(*db_);
  auto newest = Newest(key, snapshot.get());
  if (!newest.ok()) return newest.status();
  if (*newest == 0) return absl::NotFoundError(absl::StrCat("key '", key, "' not found"));
  const uint64_t version = request.version() == 0 ? *newest : request.version();
  if (version > *newest) {
    return absl::NotFoundError(
        absl::StrCat("key '", key, "' has no version ", version, " (its newest is ", *newest, ")"));
  }
  Record record;
  if (!ReadSlot(key, version, /*with_value=*/true, &record, nullptr, snapshot.get())) {
    return absl::NotFoundError(absl::StrCat("version ", version, " of key '", key,
                                            "' is no longer kept (the last ", options_.max_history,
                                            " are)"));
  }
  if (record.deleted) {
    return absl::NotFoundError(
        request.version() == 0
            ? absl::StrCat("key '", key, "' was deleted (version ", version, ")")
            : absl::StrCat("version ", version, " of key '", key, "' is a deletion"));
  }
  if (!record.Live(clock_.NowNanos())) {
    return absl::NotFoundError(absl::StrCat("key '", key, "' expired (version ", version, ")"));
  }
  sv1::Entry entry;
  entry.set_key(key);
  entry.set_value(std::move(record.value));
  entry.set_version(version);
  entry.set_written_at_unix_nanos(record.written);
  entry.set_expires_at_unix_nanos(record.expires);
  return entry;
}

absl::StatusOr<sv1::DeleteResponse> KvStore::Delete(const sv1::DeleteRequest& request) {
  if (auto ok = CheckKey(request.key(), "key"); !ok.ok()) return ok;
  if (auto ok = CheckWritable(request.key()); !ok.ok()) return ok;
  std::lock_guard lock(LockFor(request.key()));
  sv1::GetRequest current;
  current.set_key(request.key());
  if (auto live = Read(current); !live.ok()) return live.status();
  Record tombstone;
  tombstone.written = clock_.NowNanos();
  tombstone.deleted = true;
  auto version = Append(request.key(), tombstone, request.if_version());
  if (!version.ok()) return version.status();
  counters_.deletes.fetch_add(1, std::memory_order_relaxed);
  sv1::DeleteResponse response;
  response.set_key(request.key());
  response.set_version(*version);
  return response;
}

absl::StatusOr<sv1::ScanResponse> KvStore::Scan(const sv1::ScanRequest& request) {
  counters_.scans.fetch_add(1, std::memory_order_relaxed);
  return Range(request);
}

absl::StatusOr<sv1::ScanResponse> KvStore::Range(const sv1::ScanRequest& request) const {
  if (request.limit() > kMaxScanLimit) {
    return absl::InvalidArgumentError(
        absl::StrCat("limit: ", request.limit(), ", more than ", kMaxScanLimit));
  }
  if (!request.end_key().empty() && !request.start_key().empty() &&
      request.end_key() <= request.start_key()) {
    return absl::InvalidArgumentError("end_key: not after start_key");
  }
  const uint32_t limit = request.limit() == 0 ? kDefaultScanLimit : request.limit();
  // Dead keys are skipped, but a page looks at no more than this many keys.
  const uint32_t budget = limit * 10;
  std::string from = HeadKey(request.start_key());
  if (!request.page_token().empty()) {
    if (request.page_token() < request.start_key() ||
        (!request.end_key().empty() && request.page_token() >= request.end_key())) {
      return absl::InvalidArgumentError("page_token: not from a scan of this range");
    }
    from = HeadAfter(request.page_token());
  }
  const int64_t now = clock_.NowNanos();
  sv1::ScanResponse response;
  const Snapshot snapshot(*db_);
  rocksdb::ReadOptions read;
  read.snapshot = snapshot.get();
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(read));
  uint32_t looked = 0;
  std::string last_looked;
  for (it->Seek(from); it->Valid() && it->key().starts_with("h"); it->Next()) {
    std::string key(it->key().data() + 1, it->key().size() - 1);
    if (!request.end_key().empty() && key >= request.end_key()) break;
    if (response.entries_size() == static_cast<int>(limit) || looked == budget) {
      response.set_next_page_token(last_looked);  // more remain: resume after it
      break;
    }
    ++looked;
    last_looked = key;
    uint64_t version = 0;
    Record record;
    int64_t dead_since = 0;
    if (!DecodeHead(it->value(), &version, &dead_since) || dead_since <= now ||
        !ReadSlot(key, version, !request.keys_only(), &record, nullptr, snapshot.get()) ||
        !record.Live(now)) {
      continue;
    }
    sv1::Entry* entry = response.add_entries();
    entry->set_key(std::move(key));
    entry->set_value(std::move(record.value));
    entry->set_version(version);
    entry->set_written_at_unix_nanos(record.written);
    entry->set_expires_at_unix_nanos(record.expires);
  }
  if (!it->status().ok()) return Failed(it->status(), "read");
  return response;
}

absl::StatusOr<sv1::VersionResponse> KvStore::GetVersion(const sv1::VersionRequest& request) {
  if (auto ok = CheckKey(request.key(), "key"); !ok.ok()) return ok;
  const Snapshot snapshot(*db_);
  auto newest = Newest(request.key(), snapshot.get());
  if (!newest.ok()) return newest.status();
  if (*newest == 0) {
    return absl::NotFoundError(absl::StrCat("key '", request.key(), "' not found"));
  }
  sv1::VersionResponse response;
  response.set_key(request.key());
  const uint64_t kept = std::min<uint64_t>(*newest, options_.max_history);
  for (uint64_t version = *newest; version > *newest - kept; --version) {
    if (request.limit() != 0 && response.versions_size() == static_cast<int>(request.limit())) {
      break;
    }
    Record record;
    int64_t bytes = 0;
    if (!ReadSlot(request.key(), version, /*with_value=*/false, &record, &bytes, snapshot.get())) {
      continue;
    }
    sv1::VersionInfo* info = response.add_versions();
    info->set_version(version);
    info->set_written_at_unix_nanos(record.written);
    info->set_expires_at_unix_nanos(record.expires);
    info->set_value_bytes(static_cast<uint64_t>(bytes));
    info->set_deleted(record.deleted);
  }
  return response;
}

int64_t KvStore::Sweep() {
  std::lock_guard sweeping(sweep_mutex_);
  const int64_t now = clock_.NowNanos();
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions()));
  int64_t purged = 0;
  size_t looked = 0;
  it->Seek(sweep_cursor_.empty() ? std::string("h") : HeadAfter(sweep_cursor_));
  for (; looked < options_.sweep_batch; it->Next()) {
    if (!it->Valid() || !it->key().starts_with("h")) {
      sweep_cursor_.clear();  // the end: the next sweep starts over
      return purged;
    }
    ++looked;
    const std::string key(it->key().data() + 1, it->key().size() - 1);
    sweep_cursor_ = key;
    uint64_t version = 0;
    int64_t dead_since = 0;
    if (!DecodeHead(it->value(), &version, &dead_since) ||
        dead_since > now - options_.retention_nanos) {
      continue;
    }
    // Checked again under the key's lock: a put may have revived it.
    std::lock_guard lock(LockFor(key));
    auto newest = Newest(key);
    if (!newest.ok() || *newest != version) continue;
    rocksdb::WriteBatch batch;
    const std::string head = HeadKey(key);
    int64_t bytes = static_cast<int64_t>(head.size() + 16);
    const uint64_t kept = std::min<uint64_t>(version, options_.max_history);
    for (uint64_t v = version; v > version - kept; --v) {
      const std::string slot = SlotKey(key, v, options_.max_history);
      std::string stored;
      if (db_->Get(rocksdb::ReadOptions(), slot, &stored).ok()) {
        bytes += static_cast<int64_t>(slot.size() + stored.size());
      }
      batch.Delete(slot);
    }
    batch.Delete(head);
    if (!db_->Write(WriteOptionsFor(options_), &batch).ok()) continue;  // tried again next round
    keys_held_.fetch_sub(1, std::memory_order_relaxed);
    bytes_held_.fetch_sub(bytes, std::memory_order_relaxed);
    counters_.purged.fetch_add(1, std::memory_order_relaxed);
    ++purged;
  }
  return purged;
}

namespace {

// A dump: each stored key and value, as a 4-byte little-endian length and its bytes.
void AppendField(std::string& out, const rocksdb::Slice& field) {
  const auto size = static_cast<uint32_t>(field.size());
  char length[4];
  std::memcpy(length, &size, 4);
  out.append(length, 4);
  out.append(field.data(), field.size());
}

bool TakeField(std::string_view& in, std::string_view* field) {
  uint32_t size = 0;
  if (in.size() < 4) return false;
  std::memcpy(&size, in.data(), 4);
  in.remove_prefix(4);
  if (in.size() < size) return false;
  *field = in.substr(0, size);
  in.remove_prefix(size);
  return true;
}

}  // namespace

absl::StatusOr<std::string> KvStore::Dump() const {
  std::string out;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions()));
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    AppendField(out, it->key());
    AppendField(out, it->value());
  }
  if (!it->status().ok()) return Failed(it->status(), "read");
  return out;
}

absl::Status KvStore::Load(std::string_view dump) {
  rocksdb::WriteBatch batch;
  // Every key the store writes starts with 'h', 's' or 'm' (kMetaKey).
  if (auto cleared = batch.DeleteRange(rocksdb::Slice(""), rocksdb::Slice("\xff", 1));
      !cleared.ok()) {
    return Failed(cleared, "write");
  }
  bool has_meta = false;
  while (!dump.empty()) {
    std::string_view key, value;
    if (!TakeField(dump, &key) || !TakeField(dump, &value) || key.empty() ||
        (key[0] != 'h' && key[0] != 's' && key != kMetaKey)) {
      return absl::DataLossError("storage: a dump that cannot be read");
    }
    if (key == kMetaKey) {
      uint64_t history = 0;
      if (!DecodeVersion(rocksdb::Slice(value.data(), value.size()), &history)) {
        return absl::DataLossError("storage: a dump that cannot be read");
      }
      if (history != options_.max_history) {
        return absl::FailedPreconditionError(
            absl::StrCat("storage: a dump made with --storage-max-history ", history, ", not ",
                         options_.max_history));
      }
      has_meta = true;
    }
    batch.Put(rocksdb::Slice(key.data(), key.size()), rocksdb::Slice(value.data(), value.size()));
  }
  if (!has_meta) return absl::DataLossError("storage: a dump without its history bound");
  if (auto wrote = db_->Write(WriteOptionsFor(options_), &batch); !wrote.ok()) {
    return Failed(wrote, "write");
  }
  std::lock_guard lock(sweep_mutex_);
  sweep_cursor_.clear();
  return Tally();
}

}  // namespace aurigraph::refserver
