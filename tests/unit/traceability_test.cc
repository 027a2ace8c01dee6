// TraceabilityService's link log and Merkle tree, checked by a verifier
// written here from RFC 9162's definitions (its own hashing through OpenSSL,
// its own tree hash, the RFC's inclusion-proof algorithm), not by calling the
// server's tree: every proof of every leaf for every tree size up to 70,
// proofs from older sizes, tampering, and the log's queries, lineage walk,
// duplicates and bound.
#include <gtest/gtest.h>
#include <openssl/sha.h>

#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "reference-server/traceability/link_log.h"
#include "reference-server/traceability/merkle_tree.h"

namespace aurigraph::refserver {
namespace {

namespace tv1 = traceability::v1;

// --- The independent verifier (RFC 9162 sections 2.1.1 and 2.1.3.2). ---
std::string Sha256(const std::string& bytes) {
  unsigned char out[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size(), out);
  return std::string(reinterpret_cast<const char*>(out), sizeof out);
}
std::string Leaf(const std::string& data) { return Sha256(std::string(1, '\0') + data); }
std::string Node(const std::string& l, const std::string& r) {
  return Sha256(std::string(1, '\1') + l + r);
}
// MTH(D[n]) straight from the definition.
std::string TreeHash(const std::vector<std::string>& leaves, size_t begin, size_t end) {
  if (end - begin == 1) return Leaf(leaves[begin]);
  size_t k = 1;
  while (k * 2 < end - begin) k *= 2;
  return Node(TreeHash(leaves, begin, begin + k), TreeHash(leaves, begin + k, end));
}
bool Verify(uint64_t index, uint64_t tree_size, const std::string& leaf_hash,
            const std::vector<std::string>& path, const std::string& root) {
  if (index >= tree_size) return false;
  uint64_t fn = index, sn = tree_size - 1;
  std::string r = leaf_hash;
  for (const std::string& p : path) {
    if (sn == 0) return false;
    if ((fn & 1) != 0 || fn == sn) {
      r = Node(p, r);
      if ((fn & 1) == 0) {
        while ((fn & 1) == 0 && fn != 0) {
          fn >>= 1;
          sn >>= 1;
        }
      }
    } else {
      r = Node(r, p);
    }
    fn >>= 1;
    sn >>= 1;
  }
  return sn == 0 && r == root;
}
// --- end of the verifier ---

std::string Str(const MerkleHash& h) { return std::string(h.begin(), h.end()); }
std::vector<std::string> Strs(const std::vector<MerkleHash>& hashes) {
  std::vector<std::string> out;
  for (const auto& h : hashes) out.push_back(Str(h));
  return out;
}

TEST(MerkleTree, EveryLeafOfEveryTreeSizeIsProvenAgainstTheDefinitionsRoot) {
  MerkleTree tree;
  std::vector<std::string> data;
  for (uint64_t n = 1; n <= 70; ++n) {
    data.push_back(absl::StrCat("leaf-", n - 1));
    tree.Append(MerkleTree::LeafHash(data.back()));
    const std::string root = TreeHash(data, 0, n);
    ASSERT_EQ(Str(tree.Root(n)), root) << n;
    for (uint64_t m = 0; m < n; ++m) {
      EXPECT_TRUE(Verify(m, n, Leaf(data[m]), Strs(tree.InclusionPath(m, n)), root))
          << "leaf " << m << " of " << n;
    }
  }
  // A grown tree still proves against any earlier size's root.
  for (uint64_t n : {1, 2, 7, 32, 33, 69}) {
    const std::string root = TreeHash(data, 0, n);
    EXPECT_EQ(Str(tree.Root(n)), root);
    for (uint64_t m = 0; m < n; ++m) {
      EXPECT_TRUE(Verify(m, n, Leaf(data[m]), Strs(tree.InclusionPath(m, n)), root));
    }
  }
  // Tampering fails: another leaf, the wrong index, another size's root, a changed sibling.
  const std::string root = TreeHash(data, 0, 70);
  std::vector<std::string> path = Strs(tree.InclusionPath(17, 70));
  EXPECT_FALSE(Verify(17, 70, Leaf("leaf-18"), path, root));
  EXPECT_FALSE(Verify(16, 70, Leaf(data[17]), path, root));
  EXPECT_FALSE(Verify(17, 69, Leaf(data[17]), path, TreeHash(data, 0, 69)));
  path[2][5] ^= 1;
  EXPECT_FALSE(Verify(17, 70, Leaf(data[17]), path, root));
}

struct Fixture {
  explicit Fixture(LinkLog::Options options = {}) : log(clock, options) {}
  absl::StatusOr<tv1::LinksResponse> Link(const std::string& contract, const std::string& asset,
                                          const std::string& relation = "tokenizes") {
    tv1::LinkRequest r;
    r.set_contract_id(contract);
    r.set_asset_id(asset);
    r.set_relation(relation);
    clock.Advance(1000);
    return log.Link(r);
  }
  ManualClock clock{1'700'000'000'000'000'000};
  LinkLog log;
};

// Each link's leaf text rebuilt here from its fields (README "TraceabilityService").
std::string LeafTextOf(const tv1::Link& l) {
  return absl::StrCat("aurigraph-link-v1\n", l.index(), "\n", l.contract_id(), "\n", l.asset_id(),
                      "\n", l.relation(), "\n", l.linked_at_unix_nanos(), "\n");
}

// Every link of an answer is proven against the answer's root.
void ExpectProven(const tv1::LinksResponse& response) {
  for (const tv1::ProvenLink& proven : response.links()) {
    const std::string leaf = Leaf(LeafTextOf(proven.link()));
    EXPECT_EQ(proven.leaf_hash(), leaf);
    const std::vector<std::string> path(proven.audit_path().begin(), proven.audit_path().end());
    EXPECT_TRUE(
        Verify(proven.link().index(), response.tree_size(), leaf, path, response.root_hash()))
        << proven.link().ShortDebugString();
  }
}

std::set<std::string> Ids(const tv1::LinksResponse& r, bool assets) {
  std::set<std::string> out;
  for (const auto& p : r.links()) out.insert(assets ? p.link().asset_id() : p.link().contract_id());
  return out;
}

TEST(LinkLog, LinksAndQueriesCarryProofsAClientCanCheck) {
  Fixture f;
  auto first = f.Link("token", "gold-bar-1");
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_EQ(first->tree_size(), 1u);
  ExpectProven(*first);
  for (int i = 2; i <= 150; ++i) f.Link("token", absl::StrCat("gold-bar-", i));
  f.Link("escrow", "gold-bar-1");
  f.Link("escrow", "deed-9", "secures");
  // Pages of a contract's assets, each proven against the log at its size.
  std::set<std::string> assets;
  tv1::ContractRequest by_contract;
  by_contract.set_contract_id("token");
  by_contract.set_limit(60);
  int pages = 0;
  do {
    auto page = f.log.ByContract(by_contract);
    ASSERT_TRUE(page.ok()) << page.status();
    EXPECT_EQ(page->tree_size(), 152u);
    ExpectProven(*page);
    for (const auto& id : Ids(*page, true)) assets.insert(id);
    by_contract.set_page_token(page->next_page_token());
    ++pages;
  } while (!by_contract.page_token().empty());
  EXPECT_EQ(assets.size(), 150u);
  EXPECT_EQ(pages, 3);
  tv1::AssetRequest by_asset;
  by_asset.set_asset_id("gold-bar-1");
  auto contracts = f.log.ByAsset(by_asset);
  EXPECT_EQ(Ids(*contracts, false), (std::set<std::string>{"token", "escrow"}));
  ExpectProven(*contracts);
  tv1::SearchRequest search;
  search.set_asset_prefix("deed-");
  search.set_relation("secures");
  auto found = f.log.Search(search);
  ASSERT_EQ(found->links_size(), 1);
  EXPECT_EQ(found->links(0).link().contract_id(), "escrow");
  ExpectProven(*found);
  EXPECT_EQ(f.log.counters().linked.load(), 152);
}

// contract A - asset 1 - contract B - asset 2 - contract C - asset 3, and A - asset 4.
TEST(LinkLog, LineageWalksBothWaysToItsDepthAndSaysWhenItStopped) {
  Fixture f;
  f.Link("A", "1");
  f.Link("B", "1");
  f.Link("B", "2");
  f.Link("C", "2");
  f.Link("C", "3");
  f.Link("A", "4");
  f.Link("unrelated", "9");
  tv1::LineageRequest all;
  all.set_contract_id("A");
  all.set_max_depth(16);
  auto whole = f.log.Lineage(all);
  ASSERT_TRUE(whole.ok()) << whole.status();
  EXPECT_EQ(whole->links_size(), 6);
  EXPECT_FALSE(whole->truncated());
  ExpectProven(*whole);
  tv1::LineageRequest near = all;
  near.set_max_depth(2);  // A's links, then those of assets 1 and 4
  auto two = f.log.Lineage(near);
  EXPECT_EQ(two->links_size(), 3);
  EXPECT_TRUE(two->truncated());
  tv1::LineageRequest few;
  few.set_asset_id("3");
  few.set_max_depth(16);
  few.set_max_links(2);
  auto capped = f.log.Lineage(few);
  EXPECT_EQ(capped->links_size(), 2);
  EXPECT_TRUE(capped->truncated());
  tv1::LineageRequest both;
  both.set_contract_id("A");
  both.set_asset_id("1");
  EXPECT_TRUE(absl::IsInvalidArgument(f.log.Lineage(both).status()));
}

TEST(LinkLog, DuplicatesBadInputAndAFullLogAreRefusedWithTheRightCode) {
  Fixture f({.max_links = 3});
  EXPECT_TRUE(f.Link("c", "a").ok());
  auto again = f.Link("c", "a");
  EXPECT_TRUE(absl::IsAlreadyExists(again.status()));
  EXPECT_EQ(again.status().message(), "contract 'c' is already linked to asset 'a' as 'tokenizes'");
  EXPECT_TRUE(f.Link("c", "a", "other relation").ok());
  EXPECT_EQ(f.Link("", "a").status().message(), "contract_id: empty");
  EXPECT_EQ(f.Link("c", "a\nb").status().message(), "asset_id: holds a control character");
  EXPECT_TRUE(absl::IsInvalidArgument(f.Link(std::string(257, 'c'), "a").status()));
  EXPECT_TRUE(f.Link("c", "b").ok());
  auto full = f.Link("c", "d");
  EXPECT_TRUE(absl::IsResourceExhausted(full.status()));
  EXPECT_EQ(full.status().message(),
            "link log full: 3 links (the limit, --traceability-max-links)");
  EXPECT_EQ(f.log.counters().refused_full.load(), 1);
  EXPECT_EQ(f.log.counters().duplicates.load(), 1);
  // A page token works only for the query that was given it, and within its list.
  tv1::ContractRequest first_page;
  first_page.set_contract_id("c");
  first_page.set_limit(1);
  auto page = f.log.ByContract(first_page);
  ASSERT_FALSE(page->next_page_token().empty());
  for (const std::string& token : {std::string("x7"), std::string("1"), std::string("99.0")}) {
    tv1::ContractRequest forged = first_page;
    forged.set_page_token(token);
    EXPECT_EQ(f.log.ByContract(forged).status().message(),
              "page_token: not one this query was given")
        << token;
  }
  tv1::AssetRequest other;
  other.set_asset_id("a");
  other.set_page_token(page->next_page_token());
  EXPECT_TRUE(absl::IsInvalidArgument(f.log.ByAsset(other).status()));
  tv1::LineageRequest wide;
  wide.set_contract_id("c");
  wide.set_max_links(1001);
  EXPECT_EQ(f.log.Lineage(wide).status().message(), "max_links: 1001, more than 1000");
  tv1::ContractRequest none;
  none.set_contract_id("nobody");
  auto empty = f.log.ByContract(none);
  ASSERT_TRUE(empty.ok());
  EXPECT_EQ(empty->links_size(), 0);
  EXPECT_EQ(empty->tree_size(), 3u);
}

TEST(LinkLog, AnEmptyLogAnswersWithTheEmptyTreesRoot) {
  Fixture f;
  tv1::ContractRequest none;
  none.set_contract_id("nobody");
  auto empty = f.log.ByContract(none);
  ASSERT_TRUE(empty.ok());
  EXPECT_EQ(empty->tree_size(), 0u);
  EXPECT_EQ(empty->root_hash(), Sha256(""));
}

}  // namespace
}  // namespace aurigraph::refserver
