// The members of a cluster, from the command line: every node's name and the
// address it serves on. Raft numbers nodes; the numbers are the members'
// positions in name order, so every node that is given the same members
// numbers them alike whatever order they were listed in.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "reference-server/consensus/raft/raft.h"

namespace aurigraph::consensus {

class Membership {
 public:
  // `peers`: "ID=HOST:PORT,..." naming every member, this node (`self`) included.
  static absl::StatusOr<Membership> Parse(const std::string& self, const std::string& peers);

  raft::NodeId self() const { return self_; }
  const std::string& name(raft::NodeId id) const { return names_.at(id - 1); }
  const std::string& address(raft::NodeId id) const { return addresses_.at(id - 1); }
  std::optional<raft::NodeId> IdOf(const std::string& name) const;
  std::vector<raft::NodeId> ids() const;
  size_t size() const { return names_.size(); }
  // "n1=127.0.0.1:5001,..." as given (in name order).
  std::string ToString() const;

 private:
  raft::NodeId self_ = raft::kNoNode;
  std::vector<std::string> names_;  // sorted
  std::vector<std::string> addresses_;
};

}  // namespace aurigraph::consensus
