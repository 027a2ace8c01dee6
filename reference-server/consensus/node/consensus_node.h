// A Raft node at work. One thread owns the core (raft/raft.h): it ticks on
// the injected clock, steps the messages peers send, persists every Ready
// through a LogStorage (one synced write per Ready), sends through a
// PeerTransport, applies committed commands to a StateMachine, and compacts
// the log into a snapshot every `snapshot_entries` entries.
//
// Commands are batched: everything proposed while the thread was busy goes
// into one log entry (group commit), and each proposer hears back once its
// command is committed and applied, with the state machine's result.
#pragma once

#include <array>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/clock/clock.h"
#include "reference-server/consensus/raft/raft.h"
#include "reference-server/consensus/storage/log_storage.h"

namespace aurigraph::consensus {

class PeerTransport {
 public:
  virtual ~PeerTransport() = default;
  // Sends `message` to message.to without waiting; it may be lost (Raft
  // resends). A reply comes back through ConsensusNode::Receive.
  virtual void Send(raft::Message message) = 0;
};

class StateMachine {
 public:
  virtual ~StateMachine() = default;
  // Applies one committed command; deterministic, as every node applies the
  // same commands in the same order. The result goes to its proposer.
  virtual std::string Apply(std::string_view command, uint64_t index) = 0;
  virtual std::string Snapshot() const = 0;
  virtual absl::Status Restore(std::string_view data) = 0;
};

// What a node saw change, reported from its thread as it happens.
struct NodeEvent {
  enum class Type : uint8_t {
    kLeaderElected,  // leader: the node it now knows leads `term`
    kTermChanged,
    kEntriesCommitted,  // first_index..index, in one event however many
    kSnapshotTaken,     // index
    kPeerUnreachable,   // peer (seen by the leader)
    kPeerRecovered,
  };
  Type type;
  uint64_t term = 0;
  uint64_t first_index = 0;
  uint64_t index = 0;
  raft::NodeId leader = raft::kNoNode;
  raft::NodeId peer = raft::kNoNode;
};

struct NodeOptions {
  raft::Config raft;
  int64_t tick_nanos = 10'000'000;
  uint64_t snapshot_entries = 10'000;  // compact once this many entries are applied past the last
  size_t max_batch_bytes = 1 << 20;    // commands per log entry
  int64_t proposal_timeout_nanos = 10'000'000'000;
  std::function<void(const NodeEvent&)> on_event;  // called on the node's thread; may be empty
};

// Durations counted in fixed buckets (exported as Prometheus histograms).
struct DurationHistogram {
  // Fine around the seeds' targets (10 ms voting, 20 ms calls, 100 ms finality),
  // since a quantile read from buckets is only known to within its bucket.
  static constexpr std::array<int64_t, 17> kBoundsNanos = {
      50'000,     100'000,     250'000,     500'000,     1'000'000,    2'000'000,
      3'000'000,  5'000'000,   7'500'000,   10'000'000,  15'000'000,   25'000'000,
      50'000'000, 100'000'000, 250'000'000, 500'000'000, 1'000'000'000};
  std::array<uint64_t, kBoundsNanos.size() + 1> counts{};  // the last: above every bound
  uint64_t count = 0;
  int64_t sum_nanos = 0;
  void Record(int64_t nanos);
};

struct NodeMetrics {
  raft::Status status;
  std::vector<raft::PeerProgress> peers;
  uint64_t elections = 0;       // campaigns this node started
  uint64_t leader_changes = 0;  // times the leader it knows changed
  uint64_t snapshots = 0;       // taken here or installed from the leader
  uint64_t entries_appended = 0;
  uint64_t commands_applied = 0;
  DurationHistogram fsync;     // each synced write of a Ready
  DurationHistogram commit;    // proposal to applied, on the leader, per log entry
  DurationHistogram snapshot;  // taking a snapshot of the state machine and compacting the log
};

class ConsensusNode {
 public:
  using Done = std::function<void(absl::StatusOr<std::string> result)>;
  using Reply = std::function<void(std::optional<raft::Message> reply)>;

  ConsensusNode(NodeOptions options, LogStorage& storage, PeerTransport& transport,
                StateMachine& machine, const Clock& clock);
  ~ConsensusNode();

  // Loads the durable state, restores the state machine from it and starts the thread.
  absl::Status Start();
  // Stops the thread; proposals still waiting fail with UNAVAILABLE.
  void Stop();

  // A message from a peer. `reply` (when set) gets the answer once it is
  // persisted, or nullopt when Raft had none (a stale or ignored message).
  void Receive(raft::Message message, Reply reply = nullptr);
  // FAILED_PRECONDITION when this node is not the leader; UNAVAILABLE when the
  // entry was lost to a leader change or not committed within the timeout.
  void Propose(std::string command, Done done);
  // `done` gets the node that leads once another does, or an error after
  // three election timeouts.
  using TransferDone = std::function<void(absl::StatusOr<raft::NodeId> leader)>;
  void TransferLeadership(raft::NodeId to, TransferDone done);
  // Stops ticking, stepping and proposing for `nanos` (fault injection: a
  // gray failure); what arrives meanwhile waits.
  void Pause(int64_t nanos);

  NodeMetrics metrics() const;
  raft::Status status() const;
  bool durable() const { return storage_.durable(); }

 private:
  struct Inbound {
    raft::Message message;
    Reply reply;
  };
  struct Proposed {
    std::string command;
    Done done;
    int64_t at_nanos;
  };
  struct Transfer {
    raft::NodeId to;
    TransferDone done;
    int64_t deadline_nanos;
  };
  struct Waiting {
    uint64_t term = 0;
    int64_t proposed_at_nanos = 0;
    std::vector<Done> done;  // one per command of the entry, in order
  };

  void Loop();
  void ProposeBatch(std::vector<Proposed>& proposals);
  void ProcessReadies();
  void ApplyEntry(const raft::Entry& entry);
  void FailWaiting(const absl::Status& status, bool expired_only);
  void Publish();
  void Emit(const NodeEvent& event);

  NodeOptions options_;
  LogStorage& storage_;
  PeerTransport& transport_;
  StateMachine& machine_;
  const Clock& clock_;
  std::unique_ptr<raft::Node> node_;  // the loop thread's only

  mutable std::mutex mutex_;
  std::condition_variable wake_;
  std::vector<Inbound> inbox_;
  std::vector<Proposed> proposals_;
  std::vector<Transfer> transfers_;
  bool stopping_ = false;
  int64_t paused_until_ = 0;
  NodeMetrics published_;

  // The loop thread's.
  std::map<uint64_t, Reply> replies_;  // by message context
  uint64_t next_context_ = 1;
  std::map<uint64_t, Waiting> waiting_;  // by log index
  std::vector<Transfer> transferring_;
  NodeMetrics metrics_;
  std::thread thread_;
};

// A log entry's commands: each a 4-byte little-endian length and its bytes.
std::string EncodeCommands(const std::vector<std::string_view>& commands);
// nullopt when `data` is not such a sequence.
std::optional<std::vector<std::string_view>> DecodeCommands(std::string_view data);

}  // namespace aurigraph::consensus
