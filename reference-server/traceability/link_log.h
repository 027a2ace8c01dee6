// The links behind TraceabilityService: contract-to-asset links appended to a
// log that never changes what it holds, with a Merkle tree over it
// (merkle_tree.h). Every answer carries, for each link, its inclusion proof
// against the root of the tree at the answer's size, so a client can check
// the link is in the log without trusting the server's lookup. Indexed by
// contract and by asset; lineage is a bounded walk over both. The log holds
// at most `max_links` (then RESOURCE_EXHAUSTED, counted). Thread-safe; time is
// injected.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <shared_mutex>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "absl/status/statusor.h"
#include "aurigraph/traceability/v1/traceability.pb.h"
#include "common/clock/clock.h"
#include "reference-server/traceability/merkle_tree.h"

namespace aurigraph::refserver {

class LinkLog {
 public:
  struct Options {
    size_t max_links = 1'000'000;
  };
  struct Counters {
    std::atomic<int64_t> linked{0}, duplicates{0}, refused_full{0}, proofs{0};
  };

  // `clock` reads Unix-epoch nanoseconds (WallClock in production).
  LinkLog(const Clock& clock, Options options) : clock_(clock), options_(options) {}

  absl::StatusOr<traceability::v1::LinksResponse> Link(const traceability::v1::LinkRequest& r);
  absl::StatusOr<traceability::v1::LinksResponse> ByContract(
      const traceability::v1::ContractRequest& r) const;
  absl::StatusOr<traceability::v1::LinksResponse> ByAsset(
      const traceability::v1::AssetRequest& r) const;
  absl::StatusOr<traceability::v1::LinksResponse> Lineage(
      const traceability::v1::LineageRequest& r) const;
  absl::StatusOr<traceability::v1::LinksResponse> Search(
      const traceability::v1::SearchRequest& r) const;

  // The bytes a link's leaf hash is taken over: "aurigraph-link-v1", the
  // index, contract id, asset id, relation and linked-at time, each followed
  // by a newline (ids hold no control characters).
  static std::string LeafText(const traceability::v1::Link& link);

  size_t size() const;
  const Counters& counters() const { return counters_; }

 private:
  struct Entry {
    std::string contract, asset, relation;
    int64_t linked_at;
  };
  // The links at `indexes` with their proofs against the tree as it is now
  // (the caller holds the lock).
  traceability::v1::LinksResponse Prove(const std::vector<uint64_t>& indexes) const;
  // A page of one index's list (ByContract, ByAsset).
  absl::StatusOr<traceability::v1::LinksResponse> Page(
      const std::unordered_map<std::string, std::vector<uint64_t>>& index, const std::string& id,
      uint32_t limit, const std::string& token) const;

  const Clock& clock_;
  const Options options_;
  mutable std::shared_mutex mutex_;
  std::vector<Entry> links_;
  MerkleTree tree_;
  std::unordered_map<std::string, std::vector<uint64_t>> by_contract_, by_asset_;
  std::unordered_set<std::string> pairs_;  // contract NUL asset NUL relation
  mutable Counters counters_;
};

}  // namespace aurigraph::refserver
