// A Raft cluster in one process and in virtual time, for the interaction tests
// and the randomized simulation: every node's persisted state ("disk"), a
// network that can drop, duplicate, delay and partition, crashes that lose
// what was not persisted, and checks of Raft's safety properties after every
// step. No threads, no clock: the same seed replays the same run.
#pragma once

#include <algorithm>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "reference-server/consensus/raft/raft.h"

namespace aurigraph::raft::testing {

struct NetworkFaults {
  double drop = 0;       // probability a message is lost
  double duplicate = 0;  // probability a message is delivered twice
  int max_delay = 0;     // extra delivery delay in ticks, uniform 0..max_delay (reorders)
};

class Network {
 public:
  struct Member {
    std::unique_ptr<Node> node;
    DurableState disk;
    bool up = true;
    // The state machine: every applied command, by index (1-based; [0] unused).
    std::vector<std::string> applied{""};
    uint64_t applied_index = 0;
  };

  Network(int size, uint64_t seed, Config base = {}) : random_(seed), base_(base) {
    for (int i = 1; i <= size; ++i) base_.voters.push_back(i);
    base_.seed = seed;
    for (int i = 1; i <= size; ++i) {
      members_[i].node = std::make_unique<Node>(ConfigFor(i));
    }
  }

  Node& node(NodeId id) { return *members_.at(id).node; }
  Member& member(NodeId id) { return members_.at(id); }
  const std::vector<NodeId>& ids() const { return base_.voters; }
  uint64_t now() const { return now_; }
  void set_faults(NetworkFaults faults) { faults_ = faults; }
  // Ready processing for a node can be deferred (a slow disk): what it has not
  // persisted is lost if it crashes meanwhile.
  void set_defer_probability(double p) { defer_ = p; }
  // A leader sends its appends before persisting (raft.h): with this
  // probability it crashes in between, losing the Ready's entries.
  void set_crash_mid_ready(double p) { crash_mid_ready_ = p; }
  // With this probability a node crashes right after persisting a Ready (a
  // vote, an append) and before anything else happens.
  void set_crash_after_ready(double p) { crash_after_ready_ = p; }
  // Applied entries are compacted into a snapshot every `entries` (0: never).
  void set_compaction(uint64_t entries) { compact_every_ = entries; }
  // Messages between `a` and `b` are dropped, both ways.
  void Cut(NodeId a, NodeId b) { cut_.insert({std::min(a, b), std::max(a, b)}); }
  void Isolate(NodeId a) {
    for (NodeId b : ids()) {
      if (b != a) Cut(a, b);
    }
  }
  void Heal() { cut_.clear(); }
  bool IsCut(NodeId a, NodeId b) const { return cut_.contains({std::min(a, b), std::max(a, b)}); }
  // Messages for which `drop` answers true are lost (nullptr: none).
  void DropIf(std::function<bool(const Message&)> drop) { drop_if_ = std::move(drop); }
  // Messages sent (before any loss), by type.
  int sent(MessageType type) const {
    auto it = sent_.find(type);
    return it == sent_.end() ? 0 : it->second;
  }

  void Crash(NodeId id) {
    Member& m = members_.at(id);
    m.up = false;
    m.node.reset();
    commit_recorded_[id] = 0;  // it restarts with the commit index it persisted
  }
  void Restart(NodeId id) {
    Member& m = members_.at(id);
    m.node = std::make_unique<Node>(ConfigFor(id), m.disk);
    m.up = true;
    RestoreStateMachine(m);
  }

  // One tick of every node that is up, then every message due delivered.
  void Tick() {
    ++now_;
    for (auto& [id, m] : members_) {
      if (m.up) m.node->Tick();
    }
    Settle();
  }
  void Ticks(int n) {
    for (int i = 0; i < n; ++i) Tick();
  }
  // Processes readies and delivers messages due now until nothing changes.
  void Settle() {
    for (int round = 0; round < 10'000; ++round) {
      bool progressed = false;
      for (auto& [id, m] : members_) {
        if (m.up && m.node->HasReady() && !Defer()) {
          ProcessReady(id);
          progressed = true;
          if (m.up && crash_after_ready_ > 0 &&
              std::bernoulli_distribution(crash_after_ready_)(random_)) {
            Crash(id);
          }
        }
      }
      std::vector<Message> due;
      for (auto it = in_flight_.begin(); it != in_flight_.end();) {
        if (it->first <= now_) {
          due.push_back(std::move(it->second));
          it = in_flight_.erase(it);
        } else {
          ++it;
        }
      }
      std::shuffle(due.begin(), due.end(), random_);
      for (Message& msg : due) {
        Member& to = members_.at(msg.to);
        if (!to.up) continue;
        to.node->Step(msg);
        progressed = true;
        CheckSafety();
      }
      if (!progressed) return;
    }
    Fail("the network did not settle");
  }

  std::optional<Proposal> Propose(NodeId id, std::string data) {
    Member& m = members_.at(id);
    if (!m.up) return std::nullopt;
    auto proposal = m.node->Propose(std::move(data));
    Settle();
    return proposal;
  }

  // The leader of the highest term among the nodes that are up, if any.
  std::optional<NodeId> Leader() const {
    std::optional<NodeId> leader;
    uint64_t term = 0;
    for (const auto& [id, m] : members_) {
      if (!m.up) continue;
      const Status s = m.node->status();
      if (s.role == Role::kLeader && s.term >= term) {
        term = s.term;
        leader = id;
      }
    }
    return leader;
  }

  // Every safety failure seen so far, one per line (empty: none).
  const std::string& failures() const { return failures_; }
  // The command applied at `index` by any node (nullopt: none yet).
  std::optional<std::string> Committed(uint64_t index) const {
    auto it = committed_.find(index);
    if (it == committed_.end()) return std::nullopt;
    return it->second.data;
  }
  uint64_t committed_count() const { return committed_.size(); }

 private:
  Config ConfigFor(NodeId id) const {
    Config c = base_;
    c.id = id;
    return c;
  }

  bool Defer() { return defer_ > 0 && std::bernoulli_distribution(defer_)(random_); }

  void ProcessReady(NodeId id) {
    Member& m = members_.at(id);
    Ready ready = m.node->GetReady();
    for (Message& msg : ready.messages) {
      if (SentBeforePersisting(msg.type)) Send(msg);
    }
    if (crash_mid_ready_ > 0 && std::bernoulli_distribution(crash_mid_ready_)(random_)) {
      Crash(id);
      return;
    }
    if (ready.hard_state) m.disk.hard_state = *ready.hard_state;
    if (ready.snapshot) {
      m.disk.snapshot = *ready.snapshot;
      m.disk.entries.clear();
      RestoreStateMachine(m);
    }
    if (!ready.entries.empty()) {
      const uint64_t first = ready.entries.front().index;
      while (!m.disk.entries.empty() && m.disk.entries.back().index >= first) {
        m.disk.entries.pop_back();
      }
      for (const Entry& e : ready.entries) m.disk.entries.push_back(e);
    }
    for (Message& msg : ready.messages) {
      if (!SentBeforePersisting(msg.type)) Send(std::move(msg));
    }
    for (const Entry& e : ready.committed) Apply(m, id, e);
    m.node->Advance(ready);
    if (compact_every_ > 0 && m.applied_index >= m.disk.snapshot.index + compact_every_) {
      Snapshot s{m.applied_index, 0, EncodeState(m)};
      m.node->Compact(m.applied_index, s.data);
      s.term = m.node->snapshot().term;
      m.disk.snapshot = s;
      while (!m.disk.entries.empty() && m.disk.entries.front().index <= s.index) {
        m.disk.entries.erase(m.disk.entries.begin());
      }
    }
    CheckSafety();
  }

  void Send(Message msg) {
    ++sent_[msg.type];
    if (IsCut(msg.from, msg.to) || (drop_if_ && drop_if_(msg))) return;
    if (faults_.drop > 0 && std::bernoulli_distribution(faults_.drop)(random_)) return;
    const int copies =
        faults_.duplicate > 0 && std::bernoulli_distribution(faults_.duplicate)(random_) ? 2 : 1;
    for (int i = 0; i < copies; ++i) {
      const uint64_t delay = faults_.max_delay > 0
                                 ? std::uniform_int_distribution<int>(0, faults_.max_delay)(random_)
                                 : 0;
      in_flight_.emplace(now_ + delay, msg);
    }
  }

  void Apply(Member& m, NodeId id, const Entry& e) {
    if (e.index != m.applied_index + 1) {
      Fail("node " + std::to_string(id) + " applied index " + std::to_string(e.index) + " after " +
           std::to_string(m.applied_index));
    }
    m.applied.resize(e.index + 1);
    m.applied[e.index] = e.data;
    m.applied_index = e.index;
    auto [it, inserted] = committed_.emplace(e.index, e);
    if (!inserted && (it->second.term != e.term || it->second.data != e.data)) {
      Fail("node " + std::to_string(id) + " applied '" + e.data + "' (term " +
           std::to_string(e.term) + ") at index " + std::to_string(e.index) + " where '" +
           it->second.data + "' (term " + std::to_string(it->second.term) + ") was applied");
    }
  }

  // The state machine as a snapshot: the applied commands, one per line.
  static std::string EncodeState(const Member& m) {
    std::string out;
    for (uint64_t i = 1; i <= m.applied_index; ++i) out += m.applied[i] + "\n";
    return out;
  }
  void RestoreStateMachine(Member& m) {
    m.applied.assign(1, "");
    std::istringstream in(m.disk.snapshot.data);
    for (std::string line; std::getline(in, line);) m.applied.push_back(line);
    m.applied_index = m.disk.snapshot.index;
    m.applied.resize(m.applied_index + 1);
    for (uint64_t i = 1; i <= m.applied_index; ++i) {
      auto it = committed_.find(i);
      if (it != committed_.end() && it->second.data != m.applied[i]) {
        Fail("a snapshot holds '" + m.applied[i] + "' at index " + std::to_string(i) + " where '" +
             it->second.data + "' was applied");
      }
    }
  }

  // Every entry a node holds at or below its commit index is committed: it
  // must be the same entry wherever and whenever it is seen.
  void RecordCommitted(NodeId id, const Node& node) {
    const uint64_t commit = node.status().commit;
    const auto& log = node.log();
    uint64_t& recorded = commit_recorded_[id];
    if (log.empty()) {
      recorded = std::max(recorded, node.snapshot().index);
      return;
    }
    for (uint64_t i = std::max(recorded + 1, log.front().index); i <= commit; ++i) {
      const Entry& e = log[i - log.front().index];
      auto [it, inserted] = committed_.emplace(i, e);
      if (!inserted && (it->second.term != e.term || it->second.data != e.data)) {
        Fail("node " + std::to_string(id) + " holds '" + e.data + "' (term " +
             std::to_string(e.term) + ") at committed index " + std::to_string(i) + " where '" +
             it->second.data + "' (term " + std::to_string(it->second.term) + ") was committed");
        return;
      }
    }
    recorded = std::max(recorded, commit);
  }

  void CheckSafety() {
    for (const auto& [id, m] : members_) {
      if (!m.up) continue;
      RecordCommitted(id, *m.node);
    }
    for (const auto& [id, m] : members_) {
      if (!m.up) continue;
      const Status s = m.node->status();
      if (s.role != Role::kLeader) continue;
      auto [it, inserted] = leaders_.emplace(s.term, id);
      if (!inserted && it->second != id) {
        Fail("two leaders in term " + std::to_string(s.term) + ": " + std::to_string(it->second) +
             " and " + std::to_string(id));
      }
      if (inserted) CheckLeaderCompleteness(id, *m.node);
    }
    CheckLogMatching();
  }

  // A new leader's log holds every entry already applied anywhere.
  void CheckLeaderCompleteness(NodeId id, const Node& leader) {
    const uint64_t first = leader.snapshot().index + 1;
    for (const auto& [index, entry] : committed_) {
      if (index < first) continue;
      const auto& log = leader.log();
      if (index >= first + log.size() || log[index - first].term != entry.term ||
          log[index - first].data != entry.data) {
        Fail("leader " + std::to_string(id) + " of term " + std::to_string(leader.status().term) +
             " lacks committed index " + std::to_string(index));
        return;
      }
    }
  }

  // Logs that hold an entry of the same index and term are identical up to it.
  void CheckLogMatching() {
    std::vector<const Node*> up;
    for (const auto& [id, m] : members_) {
      if (m.up) up.push_back(m.node.get());
    }
    for (size_t a = 0; a < up.size(); ++a) {
      for (size_t b = a + 1; b < up.size(); ++b) {
        const auto& la = up[a]->log();
        const auto& lb = up[b]->log();
        if (la.empty() || lb.empty()) continue;
        const uint64_t lo = std::max(la.front().index, lb.front().index);
        const uint64_t hi = std::min(la.back().index, lb.back().index);
        bool matched = false;  // walking down from the highest common index
        for (uint64_t i = hi; i >= lo && i > 0; --i) {
          const Entry& ea = la[i - la.front().index];
          const Entry& eb = lb[i - lb.front().index];
          if (ea.term == eb.term && ea.data != eb.data) {
            Fail("nodes " + std::to_string(up[a]->status().id) + " and " +
                 std::to_string(up[b]->status().id) + " hold different entries of term " +
                 std::to_string(ea.term) + " at index " + std::to_string(i));
            return;
          }
          if (ea.term == eb.term) matched = true;
          if (matched && ea.term != eb.term) {
            Fail("nodes " + std::to_string(up[a]->status().id) + " and " +
                 std::to_string(up[b]->status().id) + " match at a later index but differ at " +
                 std::to_string(i));
            return;
          }
        }
      }
    }
  }

  void Fail(const std::string& what) {
    if (failures_.size() < 4000) failures_ += "tick " + std::to_string(now_) + ": " + what + "\n";
  }

  std::mt19937_64 random_;
  Config base_;
  std::map<NodeId, Member> members_;
  std::multimap<uint64_t, Message> in_flight_;
  std::set<std::pair<NodeId, NodeId>> cut_;
  std::function<bool(const Message&)> drop_if_;
  std::map<MessageType, int> sent_;
  NetworkFaults faults_;
  double defer_ = 0;
  double crash_mid_ready_ = 0;
  double crash_after_ready_ = 0;
  std::map<NodeId, uint64_t> commit_recorded_;  // per node: committed entries recorded through
  uint64_t compact_every_ = 0;
  uint64_t now_ = 0;
  std::map<uint64_t, Entry> committed_;
  std::map<uint64_t, NodeId> leaders_;
  std::string failures_;
};

}  // namespace aurigraph::raft::testing
