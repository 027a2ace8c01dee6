#include "reference-server/traceability/link_log.h"

#include <charconv>
#include <deque>
#include <initializer_list>
#include <mutex>
#include <string_view>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace aurigraph::refserver {
namespace {

namespace tv1 = traceability::v1;

constexpr size_t kMaxIdBytes = 256;
constexpr size_t kMaxRelationBytes = 64;
constexpr uint32_t kMaxPage = 1000;
constexpr uint32_t kDefaultPage = 100;
constexpr uint32_t kMaxDepth = 16;
constexpr uint32_t kDefaultDepth = 4;
constexpr uint64_t kSearchBudget = 10'000;  // links a search page looks at

absl::Status CheckText(const std::string& text, const char* field, size_t max, bool required) {
  if (required && text.empty()) return absl::InvalidArgumentError(absl::StrCat(field, ": empty"));
  if (text.size() > max) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, ": ", text.size(), " bytes, more than ", max));
  }
  for (const char c : text) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
      return absl::InvalidArgumentError(absl::StrCat(field, ": holds a control character"));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<uint32_t> PageLimit(uint32_t limit, const char* field) {
  if (limit > kMaxPage) {
    return absl::InvalidArgumentError(absl::StrCat(field, ": ", limit, ", more than ", kMaxPage));
  }
  return limit == 0 ? kDefaultPage : limit;
}

// FNV-1a: ties a page token to the query that made it.
uint64_t QueryHash(std::initializer_list<std::string_view> parts) {
  uint64_t hash = 14695981039346656037ull;
  for (const std::string_view part : parts) {
    for (const char c : part) hash = (hash ^ static_cast<unsigned char>(c)) * 1099511628211ull;
    hash = (hash ^ 0xff) * 1099511628211ull;  // between parts
  }
  return hash;
}

// A page token is "POSITION.QUERY": where the next page starts, and the query's hash.
std::string Token(uint64_t position, uint64_t query) {
  return absl::StrCat(position, ".", absl::Hex(query));
}

// The position a token names, if this query made it and it lies within `size`.
absl::StatusOr<uint64_t> Position(const std::string& token, uint64_t query, uint64_t size) {
  if (token.empty()) return 0;
  const size_t dot = token.find('.');
  uint64_t position = 0;
  const auto [end, error] = std::from_chars(token.data(), token.data() + dot, position);
  if (dot == std::string::npos || error != std::errc() || end != token.data() + dot ||
      token.substr(dot + 1) != absl::StrCat(absl::Hex(query)) || position > size) {
    return absl::InvalidArgumentError("page_token: not one this query was given");
  }
  return position;
}

}  // namespace

std::string LinkLog::LeafText(const tv1::Link& link) {
  return absl::StrCat("aurigraph-link-v1\n", link.index(), "\n", link.contract_id(), "\n",
                      link.asset_id(), "\n", link.relation(), "\n", link.linked_at_unix_nanos(),
                      "\n");
}

size_t LinkLog::size() const {
  std::shared_lock lock(mutex_);
  return links_.size();
}

tv1::LinksResponse LinkLog::Prove(const std::vector<uint64_t>& indexes) const {
  tv1::LinksResponse response;
  const uint64_t tree_size = tree_.size();
  response.set_tree_size(tree_size);
  const MerkleHash root = tree_.Root(tree_size);
  response.set_root_hash(root.data(), root.size());
  for (const uint64_t index : indexes) {
    const Entry& e = links_[index];
    tv1::ProvenLink* proven = response.add_links();
    tv1::Link* link = proven->mutable_link();
    link->set_index(index);
    link->set_contract_id(e.contract);
    link->set_asset_id(e.asset);
    link->set_relation(e.relation);
    link->set_linked_at_unix_nanos(e.linked_at);
    const MerkleHash& leaf = tree_.leaf(index);
    proven->set_leaf_hash(leaf.data(), leaf.size());
    for (const MerkleHash& sibling : tree_.InclusionPath(index, tree_size)) {
      proven->add_audit_path(sibling.data(), sibling.size());
    }
  }
  counters_.proofs.fetch_add(static_cast<int64_t>(indexes.size()), std::memory_order_relaxed);
  return response;
}

absl::StatusOr<tv1::LinksResponse> LinkLog::Link(const tv1::LinkRequest& r) {
  if (auto ok = CheckText(r.contract_id(), "contract_id", kMaxIdBytes, true); !ok.ok()) return ok;
  if (auto ok = CheckText(r.asset_id(), "asset_id", kMaxIdBytes, true); !ok.ok()) return ok;
  if (auto ok = CheckText(r.relation(), "relation", kMaxRelationBytes, false); !ok.ok()) return ok;
  std::string pair = absl::StrCat(r.contract_id(), std::string(1, '\0'), r.asset_id(),
                                  std::string(1, '\0'), r.relation());
  std::unique_lock lock(mutex_);
  if (pairs_.count(pair) > 0) {
    counters_.duplicates.fetch_add(1, std::memory_order_relaxed);
    return absl::AlreadyExistsError(absl::StrCat("contract '", r.contract_id(),
                                                 "' is already linked to asset '", r.asset_id(),
                                                 "' as '", r.relation(), "'"));
  }
  if (links_.size() >= options_.max_links) {
    counters_.refused_full.fetch_add(1, std::memory_order_relaxed);
    return absl::ResourceExhaustedError(absl::StrCat(
        "link log full: ", links_.size(), " links (the limit, --traceability-max-links)"));
  }
  const uint64_t index = links_.size();
  tv1::Link link;
  link.set_index(index);
  link.set_contract_id(r.contract_id());
  link.set_asset_id(r.asset_id());
  link.set_relation(r.relation());
  link.set_linked_at_unix_nanos(clock_.NowNanos());
  tree_.Append(MerkleTree::LeafHash(LeafText(link)));
  links_.push_back(Entry{r.contract_id(), r.asset_id(), r.relation(), link.linked_at_unix_nanos()});
  by_contract_[r.contract_id()].push_back(index);
  by_asset_[r.asset_id()].push_back(index);
  pairs_.insert(std::move(pair));
  counters_.linked.fetch_add(1, std::memory_order_relaxed);
  return Prove({index});
}

absl::StatusOr<tv1::LinksResponse> LinkLog::Page(
    const std::unordered_map<std::string, std::vector<uint64_t>>& index, const std::string& id,
    uint32_t requested_limit, const std::string& token) const {
  auto limit = PageLimit(requested_limit, "limit");
  if (!limit.ok()) return limit.status();
  const uint64_t query = QueryHash({&index == &by_contract_ ? "contract" : "asset", id});
  std::shared_lock lock(mutex_);
  const auto it = index.find(id);
  static const std::vector<uint64_t> kNone;
  const std::vector<uint64_t>& all = it == index.end() ? kNone : it->second;
  auto from = Position(token, query, all.size());
  if (!from.ok()) return from.status();
  std::vector<uint64_t> page;
  uint64_t next = *from;
  for (; next < all.size() && page.size() < *limit; ++next) page.push_back(all[next]);
  tv1::LinksResponse response = Prove(page);
  if (next < all.size()) response.set_next_page_token(Token(next, query));
  return response;
}

absl::StatusOr<tv1::LinksResponse> LinkLog::ByContract(const tv1::ContractRequest& r) const {
  if (auto ok = CheckText(r.contract_id(), "contract_id", kMaxIdBytes, true); !ok.ok()) return ok;
  return Page(by_contract_, r.contract_id(), r.limit(), r.page_token());
}

absl::StatusOr<tv1::LinksResponse> LinkLog::ByAsset(const tv1::AssetRequest& r) const {
  if (auto ok = CheckText(r.asset_id(), "asset_id", kMaxIdBytes, true); !ok.ok()) return ok;
  return Page(by_asset_, r.asset_id(), r.limit(), r.page_token());
}

absl::StatusOr<tv1::LinksResponse> LinkLog::Lineage(const tv1::LineageRequest& r) const {
  if (r.contract_id().empty() == r.asset_id().empty()) {
    return absl::InvalidArgumentError("exactly one of contract_id and asset_id must be set");
  }
  const bool from_contract = !r.contract_id().empty();
  const std::string& start = from_contract ? r.contract_id() : r.asset_id();
  if (auto ok = CheckText(start, from_contract ? "contract_id" : "asset_id", kMaxIdBytes, true);
      !ok.ok()) {
    return ok;
  }
  if (r.max_depth() > kMaxDepth) {
    return absl::InvalidArgumentError(
        absl::StrCat("max_depth: ", r.max_depth(), ", more than ", kMaxDepth));
  }
  const uint32_t max_depth = r.max_depth() == 0 ? kDefaultDepth : r.max_depth();
  auto max_links = PageLimit(r.max_links(), "max_links");
  if (!max_links.ok()) return max_links.status();
  std::shared_lock lock(mutex_);
  // Breadth first over contracts and assets, each visited once.
  struct Node {
    bool contract;
    std::string id;
    uint32_t depth;
  };
  std::unordered_set<std::string> seen_contracts, seen_assets;
  std::unordered_set<uint64_t> included;
  std::vector<uint64_t> found;
  std::deque<Node> queue{{from_contract, start, 0}};
  (from_contract ? seen_contracts : seen_assets).insert(start);
  bool truncated = false;
  while (!queue.empty() && !truncated) {
    Node node = std::move(queue.front());
    queue.pop_front();
    const auto& index = node.contract ? by_contract_ : by_asset_;
    const auto it = index.find(node.id);
    if (it == index.end()) continue;
    for (const uint64_t link : it->second) {
      if (included.count(link) > 0) continue;
      if (node.depth == max_depth || found.size() == *max_links) {
        truncated = true;  // a link further than the walk may go
        break;
      }
      included.insert(link);
      found.push_back(link);
      const Entry& e = links_[link];
      const std::string& other = node.contract ? e.asset : e.contract;
      if ((node.contract ? seen_assets : seen_contracts).insert(other).second) {
        queue.push_back(Node{!node.contract, other, node.depth + 1});
      }
    }
  }
  tv1::LinksResponse response = Prove(found);
  response.set_truncated(truncated);
  return response;
}

absl::StatusOr<tv1::LinksResponse> LinkLog::Search(const tv1::SearchRequest& r) const {
  auto limit = PageLimit(r.limit(), "limit");
  if (!limit.ok()) return limit.status();
  const uint64_t query = QueryHash({"search", r.contract_prefix(), r.asset_prefix(), r.relation()});
  std::shared_lock lock(mutex_);
  auto from = Position(r.page_token(), query, links_.size());
  if (!from.ok()) return from.status();
  std::vector<uint64_t> page;
  uint64_t next = *from;
  const uint64_t stop = std::min<uint64_t>(links_.size(), *from + kSearchBudget);
  for (; next < stop && page.size() < *limit; ++next) {
    const Entry& e = links_[next];
    if (absl::StartsWith(e.contract, r.contract_prefix()) &&
        absl::StartsWith(e.asset, r.asset_prefix()) &&
        (r.relation().empty() || e.relation == r.relation())) {
      page.push_back(next);
    }
  }
  tv1::LinksResponse response = Prove(page);
  if (next < links_.size()) response.set_next_page_token(Token(next, query));
  return response;
}

}  // namespace aurigraph::refserver
