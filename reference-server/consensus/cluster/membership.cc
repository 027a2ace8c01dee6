#include "reference-server/consensus/cluster/membership.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"

namespace aurigraph::consensus {

absl::StatusOr<Membership> Membership::Parse(const std::string& self, const std::string& peers) {
  std::map<std::string, std::string> by_name;
  for (const std::string& item :
       std::vector<std::string>(absl::StrSplit(peers, ',', absl::SkipWhitespace()))) {
    const std::vector<std::string> parts = absl::StrSplit(item, absl::MaxSplits('=', 1));
    if (parts.size() != 2 || parts[0].empty() || parts[1].rfind(':') == std::string::npos) {
      return absl::InvalidArgumentError(absl::StrCat("--peers: '", item, "' is not ID=HOST:PORT"));
    }
    if (!by_name.emplace(parts[0], parts[1]).second) {
      return absl::InvalidArgumentError(absl::StrCat("--peers: node id '", parts[0], "' twice"));
    }
  }
  if (by_name.size() < 3) {
    return absl::InvalidArgumentError(
        "--peers: a cluster needs at least 3 members (this node included), so that one may fail");
  }
  if (by_name.size() > 9) return absl::InvalidArgumentError("--peers: at most 9 members");
  Membership m;
  for (const auto& [name, address] : by_name) {
    m.names_.push_back(name);
    m.addresses_.push_back(address);
  }
  const auto self_id = m.IdOf(self);
  if (!self_id) {
    return absl::InvalidArgumentError(
        absl::StrCat("--node-id '", self, "' is not among --peers (", m.ToString(), ")"));
  }
  m.self_ = *self_id;
  return m;
}

std::optional<raft::NodeId> Membership::IdOf(const std::string& name) const {
  auto it = std::lower_bound(names_.begin(), names_.end(), name);
  if (it == names_.end() || *it != name) return std::nullopt;
  return static_cast<raft::NodeId>(it - names_.begin() + 1);
}

std::vector<raft::NodeId> Membership::ids() const {
  std::vector<raft::NodeId> out;
  for (size_t i = 1; i <= names_.size(); ++i) out.push_back(i);
  return out;
}

std::string Membership::ToString() const {
  std::vector<std::string> items;
  for (size_t i = 0; i < names_.size(); ++i) items.push_back(names_[i] + "=" + addresses_[i]);
  return absl::StrJoin(items, ",");
}

}  // namespace aurigraph::consensus
