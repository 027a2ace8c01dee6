// An append-only Merkle tree as RFC 9162 (Certificate Transparency 2.0)
// defines it: leaf hash SHA-256(0x00 || data), node hash SHA-256(0x01 ||
// left || right), a tree of n leaves split at the largest power of two below
// n. It answers the root and inclusion proofs for any size it has reached,
// not only the current one. Complete subtrees are kept, so a root or a proof
// costs O(log n) hashes. Pure and single-threaded: the caller locks.
#pragma once

#include <array>
#include <cstdint>
#include <string_view>
#include <vector>

namespace aurigraph::refserver {

using MerkleHash = std::array<unsigned char, 32>;

class MerkleTree {
 public:
  static MerkleHash LeafHash(std::string_view data);
  static MerkleHash NodeHash(const MerkleHash& left, const MerkleHash& right);

  void Append(const MerkleHash& leaf_hash);
  uint64_t size() const { return levels_.empty() ? 0 : levels_[0].size(); }
  const MerkleHash& leaf(uint64_t index) const { return levels_[0][index]; }
  // The root of the first `tree_size` leaves (tree_size <= size(); 0: the empty tree's).
  MerkleHash Root(uint64_t tree_size) const;
  // The audit path of leaf `index` in the tree of the first `tree_size`
  // leaves, from the leaf up (index < tree_size <= size()).
  std::vector<MerkleHash> InclusionPath(uint64_t index, uint64_t tree_size) const;

 private:
  // The hash of leaves [start, start + count).
  MerkleHash SubtreeHash(uint64_t start, uint64_t count) const;
  void Path(uint64_t index, uint64_t start, uint64_t count, std::vector<MerkleHash>* out) const;

  // levels_[k][i]: the hash of the complete subtree of leaves [i * 2^k, (i + 1) * 2^k).
  std::vector<std::vector<MerkleHash>> levels_;
};

}  // namespace aurigraph::refserver
