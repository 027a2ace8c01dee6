#include "reference-server/transaction/transaction_store.h"

#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/zero_copy_stream_impl_lite.h>
#include <openssl/evp.h>

#include <functional>

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
}  // namespace

std::string TransactionContentHash(const Transaction& tx) {
  thread_local Sha256 sha;
  const std::string amount = std::to_string(tx.amount());
  const std::string nonce = std::to_string(tx.nonce());
  const std::string* parts[] = {&tx.id(), &tx.sender(), &tx.receiver(),
                                &amount,  &nonce,       &tx.memo()};
  EVP_DigestInit_ex(sha.ctx, sha.md, nullptr);
  for (size_t i = 0; i < std::size(parts); ++i) {
    if (i > 0) EVP_DigestUpdate(sha.ctx, "\n", 1);
    EVP_DigestUpdate(sha.ctx, parts[i]->data(), parts[i]->size());
  }
  unsigned char digest[32];
  unsigned int length = 0;
  EVP_DigestFinal_ex(sha.ctx, digest, &length);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string hex(64, '0');
  for (unsigned int i = 0; i < length; ++i) {
    hex[2 * i] = kHex[digest[i] >> 4];
    hex[2 * i + 1] = kHex[digest[i] & 15];
  }
  return hex;
}

TransactionStore::TransactionStore(const Clock& clock, Options options)
    : clock_(clock), options_(options) {
  for (size_t i = 0; i < kShards; ++i) shards_.push_back(std::make_unique<Shard>());
}

TransactionStore::Shard& TransactionStore::ShardFor(const std::string& id) const {
  return *shards_[std::hash<std::string>{}(id) % kShards];
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
  if (tx.content_hash() != TransactionContentHash(tx)) {
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
  Shard& shard = ShardFor(tx.id());
  const int64_t now = clock_.NowNanos();
  const int64_t per_shard_limit =
      std::max<int64_t>(1, options_.max_stored / static_cast<int64_t>(kShards));
  {
    std::lock_guard lock(shard.mutex);
    if (!shard.by_id.try_emplace(tx.id(), tx).second) {
      counters_.rejected.fetch_add(1, std::memory_order_relaxed);
      return absl::AlreadyExistsError(absl::StrCat("transaction ", tx.id(), " already exists"));
    }
    shard.arrival_order.push_back(tx.id());
    while (static_cast<int64_t>(shard.arrival_order.size()) > per_shard_limit) {
      shard.by_id.erase(shard.arrival_order.front());
      shard.arrival_order.pop_front();
      counters_.evicted.fetch_add(1, std::memory_order_relaxed);
    }
  }
  counters_.accepted.fetch_add(1, std::memory_order_relaxed);
  TransactionResponse response;
  response.set_id(tx.id());
  response.set_status(transaction::v1::TRANSACTION_STATUS_ACCEPTED);
  response.set_accepted_at_unix_nanos(now);
  return response;
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
  return it->second;
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
  // The bytes of a BatchRequest holding every transaction, written one by one
  // rather than copied into one first: a snapshot is taken on the consensus
  // thread, and the copies were most of its time (9 us a transaction).
  constexpr uint32_t kTransactionsTag =
      (BatchRequest::kTransactionsFieldNumber << 3) | 2;  // length-delimited
  std::string out;
  {
    google::protobuf::io::StringOutputStream stream(&out);
    google::protobuf::io::CodedOutputStream coded(&stream);
    for (const auto& shard : shards_) {
      std::lock_guard lock(shard->mutex);
      for (const std::string& id : shard->arrival_order) {
        const Transaction& tx = shard->by_id.at(id);
        coded.WriteTag(kTransactionsTag);
        coded.WriteVarint32(static_cast<uint32_t>(tx.ByteSizeLong()));
        tx.SerializeWithCachedSizes(&coded);
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
  for (Transaction& tx : *all.mutable_transactions()) {
    Shard& shard = ShardFor(tx.id());
    std::lock_guard lock(shard.mutex);
    shard.arrival_order.push_back(tx.id());
    shard.by_id.emplace(tx.id(), std::move(tx));
  }
  return absl::OkStatus();
}

}  // namespace aurigraph::refserver
