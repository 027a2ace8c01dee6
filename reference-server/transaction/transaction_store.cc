#include "reference-server/transaction/transaction_store.h"

#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/zero_copy_stream_impl_lite.h>
#include <openssl/evp.h>

#include <charconv>
#include <cstring>
#include <functional>
#include <limits>

#include "absl/strings/str_cat.h"

namespace aurigraph::refserver {

using transaction::v1::BatchRequest;
using transaction::v1::BatchResponse;
using transaction::v1::Transaction;
using transaction::v1::TransactionResponse;

namespace {
constexpr size_t kShards = 64;
constexpr size_t kMaxIdLength = 128;

// One digest context per thread, reused: hashing is on every submit.
struct Sha256 {
  EVP_MD* md = EVP_MD_fetch(nullptr, "SHA256", nullptr);
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  ~Sha256() {
    EVP_MD_CTX_free(ctx);
    EVP_MD_free(md);
  }
};

// The SHA-256 of id, sender, receiver, amount, nonce and memo joined with "\n",
// hashed in one piece from a reused buffer: no allocation per transaction.
void ContentDigest(const Transaction& tx, unsigned char digest[32]) {
  thread_local Sha256 sha;
  thread_local std::string joined;
  joined.clear();
  char number[24];
  for (const std::string* part : {&tx.id(), &tx.sender(), &tx.receiver()}) {
    joined.append(*part).push_back('\n');
  }
  joined.append(number, std::to_chars(number, number + sizeof number, tx.amount()).ptr);
  joined.push_back('\n');
  joined.append(number, std::to_chars(number, number + sizeof number, tx.nonce()).ptr);
  joined.push_back('\n');
  joined.append(tx.memo());
  unsigned int length = 0;
  EVP_DigestInit_ex(sha.ctx, sha.md, nullptr);
  EVP_DigestUpdate(sha.ctx, joined.data(), joined.size());
  EVP_DigestFinal_ex(sha.ctx, digest, &length);
}

constexpr char kHex[] = "0123456789abcdef";

// Whether `hex` is the lower-case hex of `digest`, compared in place.
bool IsHexOf(const std::string& hex, const unsigned char digest[32]) {
  if (hex.size() != 64) return false;
  for (int i = 0; i < 32; ++i) {
    if (hex[2 * i] != kHex[digest[i] >> 4] || hex[2 * i + 1] != kHex[digest[i] & 15]) return false;
  }
  return true;
}
}  // namespace

std::string TransactionContentHash(const Transaction& tx) {
  unsigned char digest[32];
  ContentDigest(tx, digest);
  std::string hex(64, '0');
  for (int i = 0; i < 32; ++i) {
    hex[2 * i] = kHex[digest[i] >> 4];
    hex[2 * i + 1] = kHex[digest[i] & 15];
  }
  return hex;
}

TransactionStore::TransactionStore(const Clock& clock, Options options)
    : clock_(clock), options_(options) {
  for (size_t i = 0; i < kShards; ++i) shards_.push_back(std::make_unique<Shard>());
}

TransactionStore::Shard& TransactionStore::ShardFor(std::string_view id) const {
  return *shards_[std::hash<std::string_view>{}(id) % kShards];
}

absl::Status TransactionStore::Validate(const Transaction& tx) const {
  if (tx.id().empty()) return absl::InvalidArgumentError("id is required");
  if (tx.id().size() > kMaxIdLength) return absl::InvalidArgumentError("id longer than 128 bytes");
  if (tx.sender().empty())
    return absl::InvalidArgumentError(absl::StrCat(tx.id(), ": sender is required"));
  if (tx.receiver().empty())
    return absl::InvalidArgumentError(absl::StrCat(tx.id(), ": receiver is required"));
  if (tx.amount() == 0)
    return absl::InvalidArgumentError(absl::StrCat(tx.id(), ": amount must be > 0"));
  unsigned char digest[32];
  ContentDigest(tx, digest);
  if (!IsHexOf(tx.content_hash(), digest)) {
    return absl::InvalidArgumentError(
        absl::StrCat(tx.id(), ": content_hash does not match the content"));
  }
  return absl::OkStatus();
}

absl::StatusOr<TransactionResponse> TransactionStore::Submit(const Transaction& tx) {
  if (auto valid = Validate(tx); !valid.ok()) {
    counters_.rejected.fetch_add(1, std::memory_order_relaxed);
    return valid;
  }
  const int64_t now = clock_.NowNanos();
  const int64_t per_shard_limit =
      std::max<int64_t>(1, options_.max_stored / static_cast<int64_t>(kShards));
  if (!Insert(MakeRecord(tx), per_shard_limit)) {
    counters_.rejected.fetch_add(1, std::memory_order_relaxed);
    return absl::AlreadyExistsError(absl::StrCat("transaction ", tx.id(), " already exists"));
  }
  counters_.accepted.fetch_add(1, std::memory_order_relaxed);
  TransactionResponse response;
  response.set_id(tx.id());
  response.set_status(transaction::v1::TRANSACTION_STATUS_ACCEPTED);
  response.set_accepted_at_unix_nanos(now);
  return response;
}

TransactionStore::Record TransactionStore::MakeRecord(const Transaction& tx) {
  const RecordSizes sizes{static_cast<uint32_t>(tx.id().size()),
                          static_cast<uint32_t>(tx.ByteSizeLong())};
  Record record(new char[sizeof sizes + sizes.id + sizes.bytes]);
  char* id = record.get() + sizeof sizes;
  std::memcpy(record.get(), &sizes, sizeof sizes);
  std::memcpy(id, tx.id().data(), sizes.id);
  tx.SerializeWithCachedSizesToArray(reinterpret_cast<uint8_t*>(id + sizes.id));
  return record;
}

TransactionStore::RecordSizes TransactionStore::SizesOf(const char* record) {
  RecordSizes sizes;
  std::memcpy(&sizes, record, sizeof sizes);
  return sizes;
}

std::string_view TransactionStore::IdOf(const char* record) {
  return {record + sizeof(RecordSizes), SizesOf(record).id};
}

std::string_view TransactionStore::BytesOf(const char* record) {
  const RecordSizes sizes = SizesOf(record);
  return {record + sizeof sizes + sizes.id, sizes.bytes};
}

bool TransactionStore::Insert(Record record, int64_t limit) {
  const std::string_view id = IdOf(record.get());
  Shard& shard = ShardFor(id);
  std::lock_guard lock(shard.mutex);
  // Owned first: the index never holds a view into a record that is gone.
  shard.arrival_order.push_back(std::move(record));
  if (!shard.by_id.try_emplace(id, shard.arrival_order.back().get()).second) {
    shard.arrival_order.pop_back();
    return false;
  }
  while (static_cast<int64_t>(shard.arrival_order.size()) > limit) {
    shard.by_id.erase(IdOf(shard.arrival_order.front().get()));
    shard.arrival_order.pop_front();
    counters_.evicted.fetch_add(1, std::memory_order_relaxed);
  }
  return true;
}

absl::StatusOr<BatchResponse> TransactionStore::SubmitBatch(const BatchRequest& batch) {
  if (batch.transactions_size() == 0) return absl::InvalidArgumentError("batch is empty");
  if (batch.transactions_size() > options_.max_batch) {
    return absl::InvalidArgumentError(absl::StrCat("batch has ", batch.transactions_size(),
                                                   " transactions; the limit is ",
                                                   options_.max_batch));
  }
  counters_.batches.fetch_add(1, std::memory_order_relaxed);
  BatchResponse response;
  response.set_batch_id(batch.batch_id());
  for (const Transaction& tx : batch.transactions()) {
    auto outcome = Submit(tx);
    TransactionResponse* result = response.add_results();
    if (outcome.ok()) {
      *result = *std::move(outcome);
      response.set_accepted(response.accepted() + 1);
    } else {
      result->set_id(tx.id());
      result->set_status(transaction::v1::TRANSACTION_STATUS_REJECTED);
      result->set_code(static_cast<int32_t>(outcome.status().code()));
      result->set_error(std::string(outcome.status().message()));
      response.set_rejected(response.rejected() + 1);
    }
  }
  return response;
}

absl::StatusOr<Transaction> TransactionStore::Get(const std::string& id) const {
  Shard& shard = ShardFor(id);
  std::lock_guard lock(shard.mutex);
  const auto it = shard.by_id.find(id);
  if (it == shard.by_id.end())
    return absl::NotFoundError(absl::StrCat("transaction ", id, " not found"));
  const std::string_view bytes = BytesOf(it->second);
  Transaction tx;
  if (!tx.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) {
    return absl::DataLossError(absl::StrCat("transaction ", id, " cannot be read back"));
  }
  return tx;
}

int64_t TransactionStore::size() const {
  int64_t total = 0;
  for (const auto& shard : shards_) {
    std::lock_guard lock(shard->mutex);
    total += static_cast<int64_t>(shard->by_id.size());
  }
  return total;
}

std::string TransactionStore::Serialize() const {
  // The bytes of a BatchRequest holding every transaction: each stored one as
  // it is, behind its field tag and length.
  constexpr uint32_t kTransactionsTag =
      (BatchRequest::kTransactionsFieldNumber << 3) | 2;  // length-delimited
  std::string out;
  {
    google::protobuf::io::StringOutputStream stream(&out);
    google::protobuf::io::CodedOutputStream coded(&stream);
    for (const auto& shard : shards_) {
      std::lock_guard lock(shard->mutex);
      for (const Record& record : shard->arrival_order) {
        const std::string_view bytes = BytesOf(record.get());
        coded.WriteTag(kTransactionsTag);
        coded.WriteVarint32(static_cast<uint32_t>(bytes.size()));
        coded.WriteRaw(bytes.data(), static_cast<int>(bytes.size()));
      }
    }
  }
  return out;
}

absl::Status TransactionStore::Restore(std::string_view data) {
  BatchRequest all;
  if (!all.ParseFromArray(data.data(), static_cast<int>(data.size()))) {
    return absl::DataLossError("a transaction store snapshot that cannot be read");
  }
  for (const auto& shard : shards_) {
    std::lock_guard lock(shard->mutex);
    shard->by_id.clear();
    shard->arrival_order.clear();
  }
  // No eviction: the snapshot holds what the store held, within its bound.
  for (const Transaction& tx : all.transactions()) {
    Insert(MakeRecord(tx), std::numeric_limits<int64_t>::max());
  }
  return absl::OkStatus();
}

}  // namespace aurigraph::refserver
