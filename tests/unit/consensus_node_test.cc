// The node driver (consensus/node) over an in-memory transport and a manual
// clock: elections, proposals batched into entries and answered once applied,
// refusals on followers, and the RocksDB log storage's round trip.
#include "reference-server/consensus/node/consensus_node.h"

#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <map>
#include <mutex>
#include <thread>

#include "absl/strings/str_cat.h"
#include "common/clock/clock.h"
#include "reference-server/consensus/storage/log_storage.h"

namespace aurigraph::consensus {
namespace {

constexpr int64_t kTick = 10'000'000;

// Commands applied in order; the snapshot is their concatenation, one per line.
class ListMachine final : public StateMachine {
 public:
  std::string Apply(std::string_view command, uint64_t index) override {
    std::lock_guard lock(mutex_);
    applied_.emplace_back(command);
    return absl::StrCat("applied ", std::string(command), " at ", index);
  }
  std::string Snapshot() const override {
    std::lock_guard lock(mutex_);
    std::string out;
    for (const std::string& c : applied_) out += c + "\n";
    return out;
  }
  absl::Status Restore(std::string_view data) override {
    std::lock_guard lock(mutex_);
    applied_.clear();
    size_t start = 0;
    for (size_t end; (end = data.find('\n', start)) != std::string_view::npos; start = end + 1) {
      applied_.emplace_back(data.substr(start, end - start));
    }
    return absl::OkStatus();
  }
  std::vector<std::string> applied() const {
    std::lock_guard lock(mutex_);
    return applied_;
  }

 private:
  mutable std::mutex mutex_;
  std::vector<std::string> applied_;
};

class Cluster;

// Delivers a node's messages to the others' Receive, and their replies back.
class MemoryTransport final : public PeerTransport {
 public:
  explicit MemoryTransport(Cluster& cluster) : cluster_(cluster) {}
  void Send(raft::Message message) override;

 private:
  Cluster& cluster_;
};

class Cluster {
 public:
  Cluster() {
    for (raft::NodeId id = 1; id <= 3; ++id) {
      NodeOptions options;
      options.raft.id = id;
      options.raft.voters = {1, 2, 3};
      options.raft.election_ticks = 10;
      options.raft.seed = 7;
      options.tick_nanos = kTick;
      options.snapshot_entries = 3;
      storage_[id] = NewMemoryLogStorage();
      machines_[id] = std::make_unique<ListMachine>();
      transports_[id] = std::make_unique<MemoryTransport>(*this);
      nodes_[id] = std::make_unique<ConsensusNode>(options, *storage_[id], *transports_[id],
                                                   *machines_[id], clock_);
    }
    for (auto& [id, node] : nodes_) EXPECT_TRUE(node->Start().ok());
  }
  ~Cluster() {
    for (auto& [id, node] : nodes_) node->Stop();
  }
  ConsensusNode& node(raft::NodeId id) { return *nodes_.at(id); }
  const ListMachine& machine(raft::NodeId id) { return *machines_.at(id); }

  // Advances the manual clock a tick at a time until `done` (at most 30 s of real time).
  template <typename Predicate>
  bool RunUntil(Predicate done) {
    const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (!done()) {
      if (std::chrono::steady_clock::now() > until) return false;
      clock_.Advance(kTick);
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    return true;
  }
  raft::NodeId Leader() {
    raft::NodeId leader = raft::kNoNode;
    RunUntil([&] {
      for (auto& [id, node] : nodes_) {
        if (node->status().role == raft::Role::kLeader) leader = id;
      }
      return leader != raft::kNoNode;
    });
    return leader;
  }

 private:
  friend class MemoryTransport;
  ManualClock clock_;
  std::map<raft::NodeId, std::unique_ptr<LogStorage>> storage_;
  std::map<raft::NodeId, std::unique_ptr<ListMachine>> machines_;
  std::map<raft::NodeId, std::unique_ptr<MemoryTransport>> transports_;
  std::map<raft::NodeId, std::unique_ptr<ConsensusNode>> nodes_;
};

void MemoryTransport::Send(raft::Message message) {
  ConsensusNode& to = *cluster_.nodes_.at(message.to);
  ConsensusNode& from = *cluster_.nodes_.at(message.from);
  to.Receive(std::move(message), [&from](std::optional<raft::Message> reply) {
    if (reply) from.Receive(*std::move(reply));
  });
}

struct Outcomes {
  std::mutex mutex;
  std::vector<absl::StatusOr<std::string>> results;
  size_t size() {
    std::lock_guard lock(mutex);
    return results.size();
  }
};

TEST(ConsensusNode, ProposalsAreBatchedAndAnsweredOnceAppliedOnEveryNode) {
  Cluster cluster;
  const raft::NodeId leader = cluster.Leader();
  ASSERT_NE(leader, raft::kNoNode);
  Outcomes outcomes;
  constexpr int kProposals = 200;
  // Ten waves of twenty, each proposed at once.
  for (int wave = 0; wave < 10; ++wave) {
    for (int i = wave * 20; i < (wave + 1) * 20; ++i) {
      cluster.node(leader).Propose(absl::StrCat("c", i), [&](absl::StatusOr<std::string> r) {
        std::lock_guard lock(outcomes.mutex);
        outcomes.results.push_back(std::move(r));
      });
    }
    ASSERT_TRUE(cluster.RunUntil([&] { return outcomes.size() == (wave + 1) * 20u; }));
  }
  for (const auto& r : outcomes.results) ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_NE(outcomes.results.front()->find("applied c0 at "), std::string::npos);
  ASSERT_TRUE(cluster.RunUntil([&] {
    for (raft::NodeId id : {1, 2, 3}) {
      if (cluster.machine(id).applied().size() < kProposals) return false;
    }
    return true;
  }));
  for (raft::NodeId id : {1, 2, 3}) {
    EXPECT_EQ(cluster.machine(id).applied(), cluster.machine(leader).applied()) << id;
  }
  const NodeMetrics metrics = cluster.node(leader).metrics();
  EXPECT_LT(metrics.entries_appended, static_cast<uint64_t>(kProposals))
      << "commands proposed together share log entries";
  EXPECT_GE(metrics.commit.count, 1u) << "commit latency is recorded per proposed entry";
  EXPECT_LE(metrics.commit.count, metrics.entries_appended);
  EXPECT_GE(metrics.entries_appended, 10u) << "at least one entry per wave";
  EXPECT_GE(metrics.snapshots, 1u) << "the log was compacted (snapshot_entries 3)";
}

TEST(ConsensusNode, AFollowerRefusesProposalsAndAStoppedNodeFailsThem) {
  Cluster cluster;
  const raft::NodeId leader = cluster.Leader();
  const raft::NodeId follower = leader == 1 ? 2 : 1;
  absl::Status refused;
  bool answered = false;
  cluster.node(follower).Propose("x", [&](absl::StatusOr<std::string> r) {
    refused = r.status();
    answered = true;
  });
  ASSERT_TRUE(cluster.RunUntil([&] { return answered; }));
  EXPECT_EQ(refused.code(), absl::StatusCode::kFailedPrecondition);
  cluster.node(leader).Stop();
  absl::Status stopped;
  cluster.node(leader).Propose("y", [&](absl::StatusOr<std::string> r) { stopped = r.status(); });
  EXPECT_EQ(stopped.code(), absl::StatusCode::kUnavailable);
}

TEST(RocksLogStorage, KeepsStateEntriesAndSnapshotAcrossAReopen) {
  const std::string dir =
      (std::filesystem::temp_directory_path() / absl::StrCat("raft-log-", getpid())).string();
  std::filesystem::remove_all(dir);
  {
    auto storage = OpenRocksLogStorage(dir);
    ASSERT_TRUE(storage.ok()) << storage.status();
    raft::Ready ready;
    ready.must_sync = true;
    ready.hard_state = raft::HardState{3, 2, 2};
    ready.entries = {{1, 1, "a"}, {2, 2, "b"}, {2, 3, "c"}};
    ASSERT_TRUE((*storage)->Save(ready).ok());
    raft::Ready overwrite;  // a new leader's entries replace the uncommitted tail
    overwrite.must_sync = true;
    overwrite.entries = {{3, 3, "C"}, {3, 4, "D"}};
    ASSERT_TRUE((*storage)->Save(overwrite).ok());
    ASSERT_TRUE((*storage)->Compact(raft::Snapshot{1, 1, "state@1"}).ok());
  }
  auto storage = OpenRocksLogStorage(dir);
  ASSERT_TRUE(storage.ok());
  auto state = (*storage)->Load();
  ASSERT_TRUE(state.ok()) << state.status();
  EXPECT_EQ(state->hard_state, (raft::HardState{3, 2, 2}));
  EXPECT_EQ(state->snapshot.index, 1u);
  EXPECT_EQ(state->snapshot.data, "state@1");
  ASSERT_EQ(state->entries.size(), 3u);
  EXPECT_EQ(state->entries[0].data, "b");
  EXPECT_EQ(state->entries[1].data, "C");
  EXPECT_EQ(state->entries[2].index, 4u);
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace aurigraph::consensus
