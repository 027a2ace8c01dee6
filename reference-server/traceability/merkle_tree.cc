#include "reference-server/traceability/merkle_tree.h"

#include <openssl/sha.h>

#include <algorithm>
#include <bit>
#include <string>

namespace aurigraph::refserver {
namespace {

// The largest power of two below `n` (n >= 2).
uint64_t SplitPoint(uint64_t n) { return std::bit_floor(n - 1); }

}  // namespace

MerkleHash MerkleTree::LeafHash(std::string_view data) {
  std::string prefixed(1, '\0');
  prefixed.append(data);
  MerkleHash out;
  SHA256(reinterpret_cast<const unsigned char*>(prefixed.data()), prefixed.size(), out.data());
  return out;
}

MerkleHash MerkleTree::NodeHash(const MerkleHash& left, const MerkleHash& right) {
  std::array<unsigned char, 65> joined;
  joined[0] = 0x01;
  std::copy(left.begin(), left.end(), joined.begin() + 1);
  std::copy(right.begin(), right.end(), joined.begin() + 33);
  MerkleHash out;
  SHA256(joined.data(), joined.size(), out.data());
  return out;
}

void MerkleTree::Append(const MerkleHash& leaf_hash) {
  if (levels_.empty()) levels_.emplace_back();
  levels_[0].push_back(leaf_hash);
  // Each level that now ends in a pair completes a subtree one level up.
  for (size_t k = 0; levels_[k].size() % 2 == 0; ++k) {
    if (k + 1 == levels_.size()) levels_.emplace_back();
    const auto& level = levels_[k];
    levels_[k + 1].push_back(NodeHash(level[level.size() - 2], level.back()));
  }
}

MerkleHash MerkleTree::SubtreeHash(uint64_t start, uint64_t count) const {
  if (std::has_single_bit(count) && start % count == 0) {
    return levels_[std::countr_zero(count)][start / count];
  }
  const uint64_t k = SplitPoint(count);
  return NodeHash(SubtreeHash(start, k), SubtreeHash(start + k, count - k));
}

MerkleHash MerkleTree::Root(uint64_t tree_size) const {
  if (tree_size == 0) {  // RFC 9162: the empty tree's hash is that of nothing
    MerkleHash empty;
    SHA256(nullptr, 0, empty.data());
    return empty;
  }
  return SubtreeHash(0, tree_size);
}

void MerkleTree::Path(uint64_t index, uint64_t start, uint64_t count,
                      std::vector<MerkleHash>* out) const {
  if (count == 1) return;
  const uint64_t k = SplitPoint(count);
  if (index < k) {
    Path(index, start, k, out);
    out->push_back(SubtreeHash(start + k, count - k));
  } else {
    Path(index - k, start + k, count - k, out);
    out->push_back(SubtreeHash(start, k));
  }
}

std::vector<MerkleHash> MerkleTree::InclusionPath(uint64_t index, uint64_t tree_size) const {
  std::vector<MerkleHash> out;
  Path(index, 0, tree_size, &out);
  return out;
}

}  // namespace aurigraph::refserver
