// Raft consensus as a pure state machine, after etcd's raft library: no
// threads, sockets, files or clock. Time advances by Tick(), input arrives by
// Step() and Propose(), and everything the node must do comes out as a Ready:
// state and entries to persist first, then messages to send and committed
// entries to apply. The caller acknowledges each Ready with Advance().
//
// Rules: randomized election timeouts, pre-vote (a rejoining node cannot
// depose a healthy leader), check-quorum (a leader without a majority steps
// down; followers that heard from a leader refuse votes for a while), log
// replication with the consistency check and back-off by term, pipelined
// appends (max_inflight per follower), commit only through an entry of the
// leader's term, leadership transfer (TimeoutNow), and log compaction with
// snapshots sent to followers behind the compacted log.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <vector>

namespace aurigraph::raft {

using NodeId = uint64_t;
inline constexpr NodeId kNoNode = 0;

struct Entry {
  uint64_t term = 0;
  uint64_t index = 0;
  std::string data;  // empty: the entry a new leader appends to commit its term
};

struct HardState {
  uint64_t term = 0;
  NodeId vote = kNoNode;
  uint64_t commit = 0;
  bool operator==(const HardState&) const = default;
};

// The state machine as of `index` (inclusive), which had `term`.
struct Snapshot {
  uint64_t index = 0;
  uint64_t term = 0;
  std::string data;
};

enum class MessageType : uint8_t {
  kPreVote,
  kPreVoteResponse,
  kVote,
  kVoteResponse,
  kAppend,
  kAppendResponse,
  kHeartbeat,
  kHeartbeatResponse,
  kSnapshot,  // InstallSnapshot; answered with kAppendResponse
  kTimeoutNow,
};
bool IsResponse(MessageType type);
// A leader's appends, heartbeats, snapshots and TimeoutNow: the messages of a
// Ready that may be sent before it is persisted (see Ready::messages).
bool SentBeforePersisting(MessageType type);

struct Message {
  MessageType type = MessageType::kAppend;
  NodeId from = kNoNode;
  NodeId to = kNoNode;
  uint64_t term = 0;
  // kAppend: the entry before `entries` (index, log_term). Votes: the
  // candidate's last entry. kAppendResponse: the last index the follower
  // matched, or (rejecting) the index it rejected, with reject_hint and
  // log_term saying where the leader should look next.
  uint64_t index = 0;
  uint64_t log_term = 0;
  std::vector<Entry> entries;
  uint64_t commit = 0;
  bool reject = false;
  uint64_t reject_hint = 0;
  bool transfer = false;  // a vote of a leadership transfer: granted despite a live leader
  Snapshot snapshot;      // kSnapshot
  // Opaque to Raft: a response carries the context of the request it answers,
  // so a transport can return it as the reply of that request's RPC.
  uint64_t context = 0;
};

enum class Role : uint8_t { kFollower, kPreCandidate, kCandidate, kLeader };

struct Config {
  NodeId id = kNoNode;
  std::vector<NodeId> voters;  // the whole cluster, this node included
  // A follower campaigns after a random (election_ticks, 2 * election_ticks]
  // ticks without hearing from a leader; a leader sends heartbeats every heartbeat_ticks.
  int election_ticks = 10;
  int heartbeat_ticks = 1;
  size_t max_inflight = 256;                 // appends in flight per follower
  uint64_t max_bytes_per_append = 4u << 20;  // entries' data per message (at least one entry)
  uint64_t max_bytes_per_ready = 16u << 20;  // committed entries' data handed out per Ready
  bool pre_vote = true;
  bool check_quorum = true;
  uint64_t seed = 1;  // the election timeouts' generator
};

// What a node restarts from: everything it persisted.
struct DurableState {
  HardState hard_state;
  Snapshot snapshot;
  std::vector<Entry> entries;  // contiguous, from snapshot.index + 1
};

struct Ready {
  // Persisting must reach the disk (fsync) before any response is sent: term,
  // vote or entries changed. A change of the commit index alone need not: it
  // is learned again from the leader after a restart.
  bool must_sync = false;
  std::optional<HardState> hard_state;  // persist (before sending messages)
  std::optional<Snapshot> snapshot;     // persist, and restore the state machine from it
  std::vector<Entry> entries;           // persist, replacing the log from entries.front().index
  // Send once the above is persisted. A leader's appends, heartbeats,
  // snapshots and TimeoutNow may go before (its own copy counts toward a
  // majority only after Advance), so its fsync overlaps its followers'.
  std::vector<Message> messages;
  std::vector<Entry> committed;  // apply in order, after the above is persisted
  bool empty() const {
    return !hard_state && !snapshot && entries.empty() && messages.empty() && committed.empty();
  }
};

struct Status {
  NodeId id = kNoNode;
  Role role = Role::kFollower;
  uint64_t term = 0;
  NodeId leader = kNoNode;
  uint64_t commit = 0;
  uint64_t applied = 0;
  uint64_t last_index = 0;
  uint64_t snapshot_index = 0;
  NodeId transferee = kNoNode;
};

struct PeerProgress {
  NodeId id = kNoNode;
  uint64_t match = 0;
  uint64_t next = 0;
  bool active = false;  // heard from within the last one or two election timeouts
};

struct Proposal {
  uint64_t index = 0;
  uint64_t term = 0;
};

class Node {
 public:
  explicit Node(Config config, DurableState state = {});

  void Tick();
  void Step(const Message& message);
  // Appends `data` as one entry (the caller batches many commands into one).
  // The entry is committed if an entry with this index and term is ever
  // applied; nullopt when this node is not the leader or is transferring leadership.
  std::optional<Proposal> Propose(std::string data);
  // Hands leadership to `to` once its log is up to date (the leader stops
  // taking proposals meanwhile; abandoned after an election timeout).
  void TransferLeadership(NodeId to);
  // Campaigns now (tests, and a node started to take over at once).
  void Campaign();

  bool HasReady() const;
  // One Ready at a time: call Advance with it before the next GetReady.
  Ready GetReady();
  void Advance(const Ready& ready);
  // Drops the log up to `index` (≤ applied), which `data` (the state machine
  // as of `index`) replaces; the caller persists the snapshot first.
  void Compact(uint64_t index, std::string data);

  Status status() const;
  std::vector<PeerProgress> peers() const;  // leader only; empty otherwise
  // Entries still in the log (after the snapshot), for inspection and tests.
  const std::deque<Entry>& log() const { return entries_; }
  const Snapshot& snapshot() const { return snapshot_; }

 private:
  struct Progress {
    enum class State : uint8_t { kProbe, kReplicate, kSnapshot };
    uint64_t match = 0;
    uint64_t next = 1;
    State state = State::kProbe;
    bool probe_sent = false;
    std::deque<uint64_t> inflight;    // last index of each append in flight
    bool recent_active = false;       // heard from in this election timeout (check-quorum)
    bool active_last_window = false;  // ... and in the one before (PeerProgress::active)
    uint64_t pending_snapshot = 0;
    int snapshot_ticks = 0;
    int stalled_ticks = 0;  // ticks with appends in flight and none acknowledged
  };

  // The log.
  uint64_t LastIndex() const;
  uint64_t LastTerm() const;
  std::optional<uint64_t> TermAt(uint64_t index) const;  // nullopt: compacted or past the end
  bool MatchTerm(uint64_t index, uint64_t term) const;
  bool UpToDate(uint64_t index, uint64_t term) const;
  const Entry& At(uint64_t index) const;
  void TruncateAndAppend(const std::vector<Entry>& entries, size_t from);
  void CommitTo(uint64_t index);
  // Largest index <= `index` whose term is <= `term`, with its term.
  std::pair<uint64_t, uint64_t> FindConflictByTerm(uint64_t index, uint64_t term) const;

  // Roles.
  void Reset(uint64_t term);
  void BecomeFollower(uint64_t term, NodeId leader);
  void BecomePreCandidate();
  void BecomeCandidate();
  void BecomeLeader();
  void StartElection(bool pre_vote, bool transfer);
  void CountVote(NodeId from, bool granted);
  int Quorum() const { return static_cast<int>(config_.voters.size()) / 2 + 1; }
  void ResetRandomizedTimeout();

  // Steps by role.
  void StepLeader(const Message& m);
  void StepCandidate(const Message& m);
  void StepFollower(const Message& m);
  void HandleVote(const Message& m);
  void HandleAppend(const Message& m);
  void HandleHeartbeat(const Message& m);
  void HandleSnapshot(const Message& m);
  void HandleAppendResponse(const Message& m);
  void HandleHeartbeatResponse(const Message& m);

  // The leader's replication.
  bool SendAppend(NodeId to, bool send_if_empty = true);
  void BroadcastAppend();
  void BroadcastHeartbeat();
  void SendTimeoutNow(NodeId to);
  bool MaybeCommit();
  bool QuorumActive() const;
  bool AppendEntry(std::string data);
  void Send(Message m);
  void Reply(const Message& request, Message reply);

  Config config_;
  std::mt19937_64 random_;
  // Persistent state and the log.
  uint64_t term_ = 0;
  NodeId vote_ = kNoNode;
  Snapshot snapshot_;
  std::deque<Entry> entries_;  // indices snapshot_.index + 1 ...
  uint64_t committed_ = 0;
  uint64_t applied_ = 0;
  uint64_t stabled_ = 0;  // the last index persisted
  bool snapshot_unstable_ = false;
  HardState persisted_hard_state_;
  // Volatile state.
  Role role_ = Role::kFollower;
  NodeId leader_ = kNoNode;
  int election_elapsed_ = 0;
  int heartbeat_elapsed_ = 0;
  int randomized_election_ticks_ = 0;
  std::map<NodeId, bool> votes_;
  std::map<NodeId, Progress> progress_;
  NodeId transferee_ = kNoNode;
  std::vector<Message> outbox_;
};

}  // namespace aurigraph::raft
