#include "reference-server/consensus/node/consensus_node.h"

#include <chrono>
#include <cstring>
#include <iostream>

#include "absl/strings/str_cat.h"

namespace aurigraph::consensus {

std::string EncodeCommands(const std::vector<std::string_view>& commands) {
  size_t size = 0;
  for (std::string_view c : commands) size += 4 + c.size();
  std::string out;
  out.reserve(size);
  for (std::string_view c : commands) {
    const uint32_t length = static_cast<uint32_t>(c.size());
    for (int shift = 0; shift < 32; shift += 8) out.push_back(static_cast<char>(length >> shift));
    out.append(c);
  }
  return out;
}

std::optional<std::vector<std::string_view>> DecodeCommands(std::string_view data) {
  std::vector<std::string_view> commands;
  while (!data.empty()) {
    if (data.size() < 4) return std::nullopt;
    uint32_t length = 0;
    for (int i = 0; i < 4; ++i)
      length |= static_cast<uint32_t>(static_cast<uint8_t>(data[i])) << (8 * i);
    data.remove_prefix(4);
    if (length > data.size()) return std::nullopt;
    commands.push_back(data.substr(0, length));
    data.remove_prefix(length);
  }
  return commands;
}

void DurationHistogram::Record(int64_t nanos) {
  size_t bucket = 0;
  while (bucket < kBoundsNanos.size() && nanos > kBoundsNanos[bucket]) ++bucket;
  ++counts[bucket];
  ++count;
  sum_nanos += nanos;
}

ConsensusNode::ConsensusNode(NodeOptions options, LogStorage& storage, PeerTransport& transport,
                             StateMachine& machine, const Clock& clock)
    : options_(std::move(options)),
      storage_(storage),
      transport_(transport),
      machine_(machine),
      clock_(clock) {}

ConsensusNode::~ConsensusNode() { Stop(); }

absl::Status ConsensusNode::Start() {
  auto state = storage_.Load();
  if (!state.ok()) return state.status();
  if (state->snapshot.index > 0) {
    if (auto restored = machine_.Restore(state->snapshot.data); !restored.ok()) return restored;
  }
  node_ = std::make_unique<raft::Node>(options_.raft, *std::move(state));
  metrics_.status = node_->status();
  published_ = metrics_;
  thread_ = std::thread([this] { Loop(); });
  return absl::OkStatus();
}

void ConsensusNode::Stop() {
  {
    std::lock_guard lock(mutex_);
    if (stopping_) return;
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
  const absl::Status stopped = absl::UnavailableError("the node is stopping");
  FailWaiting(stopped, /*expired_only=*/false);
  for (auto& [context, reply] : replies_) reply(std::nullopt);
  replies_.clear();
  std::vector<Inbound> inbox;
  std::vector<Proposed> proposals;
  std::vector<Transfer> transfers;
  {
    std::lock_guard lock(mutex_);
    inbox.swap(inbox_);
    proposals.swap(proposals_);
    transfers.swap(transfers_);
  }
  // Outside the lock: a callback may call back into the node.
  for (Inbound& in : inbox) {
    if (in.reply) in.reply(std::nullopt);
  }
  for (Proposed& p : proposals) p.done(stopped);
  for (Transfer& t : transfers) t.done(stopped);
  for (Transfer& t : transferring_) t.done(stopped);
  transferring_.clear();
}

void ConsensusNode::Receive(raft::Message message, Reply reply) {
  {
    std::lock_guard lock(mutex_);
    if (stopping_) {
      if (reply) reply(std::nullopt);
      return;
    }
    inbox_.push_back(Inbound{std::move(message), std::move(reply)});
  }
  wake_.notify_one();
}

void ConsensusNode::Propose(std::string command, Done done) {
  {
    std::lock_guard lock(mutex_);
    if (!stopping_) {
      proposals_.push_back(Proposed{std::move(command), std::move(done), clock_.NowNanos()});
      wake_.notify_one();
      return;
    }
  }
  done(absl::UnavailableError("the node is stopping"));
}

void ConsensusNode::Pause(int64_t nanos) {
  {
    std::lock_guard lock(mutex_);
    paused_until_ = clock_.NowNanos() + nanos;
  }
  wake_.notify_one();
}

void ConsensusNode::TransferLeadership(raft::NodeId to, TransferDone done) {
  {
    std::lock_guard lock(mutex_);
    if (!stopping_) {
      transfers_.push_back(Transfer{to, std::move(done), 0});
      wake_.notify_one();
      return;
    }
  }
  done(absl::UnavailableError("the node is stopping"));
}

NodeMetrics ConsensusNode::metrics() const {
  std::lock_guard lock(mutex_);
  return published_;
}

raft::Status ConsensusNode::status() const {
  std::lock_guard lock(mutex_);
  return published_.status;
}

void ConsensusNode::Loop() {
  int64_t next_tick = clock_.NowNanos() + options_.tick_nanos;
  int64_t next_expiry_check = next_tick;
  std::vector<Inbound> inbox;
  std::vector<Proposed> proposals;
  std::vector<Transfer> transfers;
  while (true) {
    {
      std::unique_lock lock(mutex_);
      while (!stopping_) {
        const int64_t now = clock_.NowNanos();
        if (now < paused_until_) {
          wake_.wait_for(lock, std::chrono::nanoseconds(paused_until_ - now));
          continue;
        }
        if (!inbox_.empty() || !proposals_.empty() || !transfers_.empty() || now >= next_tick) {
          break;
        }
        wake_.wait_for(lock, std::chrono::nanoseconds(next_tick - now));
      }
      if (stopping_) return;
      inbox.swap(inbox_);
      proposals.swap(proposals_);
      transfers.swap(transfers_);
    }
    for (Inbound& in : inbox) {
      if (in.reply) {
        in.message.context = next_context_++;
        replies_.emplace(in.message.context, std::move(in.reply));
      } else {
        in.message.context = 0;
      }
      node_->Step(in.message);
    }
    inbox.clear();
    for (Transfer& t : transfers) {
      node_->TransferLeadership(t.to);
      t.deadline_nanos = clock_.NowNanos() + 3 * options_.raft.election_ticks * options_.tick_nanos;
      transferring_.push_back(std::move(t));
    }
    transfers.clear();
    if (!proposals.empty()) ProposeBatch(proposals);
    const int64_t now = clock_.NowNanos();
    // A stalled thread catches up a few ticks, not every one it missed.
    for (int i = 0; i < 3 && now >= next_tick; ++i) {
      node_->Tick();
      next_tick += options_.tick_nanos;
    }
    if (now >= next_tick) next_tick = now + options_.tick_nanos;
    ProcessReadies();
    if (now >= next_expiry_check) {
      // It may still commit: the outcome is unknown, not a failure.
      FailWaiting(absl::DeadlineExceededError(
                      "not committed within the proposal timeout; the outcome is unknown"),
                  /*expired_only=*/true);
      next_expiry_check = now + 100 * options_.tick_nanos;
    }
    Publish();
  }
}

void ConsensusNode::ProposeBatch(std::vector<Proposed>& proposals) {
  const raft::Status status = node_->status();
  if (status.role != raft::Role::kLeader || status.transferee != raft::kNoNode) {
    const absl::Status refused = absl::FailedPreconditionError(
        status.role == raft::Role::kLeader ? "leadership is being transferred" : "not the leader");
    for (Proposed& p : proposals) p.done(refused);
    proposals.clear();
    return;
  }
  size_t begin = 0;
  while (begin < proposals.size()) {
    std::vector<std::string_view> commands;
    size_t bytes = 0;
    size_t end = begin;
    while (end < proposals.size() && (commands.empty() || bytes + proposals[end].command.size() <=
                                                              options_.max_batch_bytes)) {
      bytes += proposals[end].command.size();
      commands.push_back(proposals[end].command);
      ++end;
    }
    const auto proposal = node_->Propose(EncodeCommands(commands));
    if (!proposal) {
      for (size_t i = begin; i < end; ++i)
        proposals[i].done(absl::FailedPreconditionError("not the leader"));
    } else {
      Waiting& waiting = waiting_[proposal->index];
      // An entry of an earlier term that waited at this index was overwritten.
      for (Done& done : waiting.done)
        done(absl::UnavailableError("lost in a leader change; retry"));
      waiting.done.clear();
      waiting.term = proposal->term;
      waiting.proposed_at_nanos = proposals[begin].at_nanos;
      for (size_t i = begin; i < end; ++i) waiting.done.push_back(std::move(proposals[i].done));
    }
    begin = end;
  }
  proposals.clear();
}

void ConsensusNode::ProcessReadies() {
  std::vector<uint64_t> asked;  // contexts of requests stepped before this Ready
  for (const auto& [context, reply] : replies_) asked.push_back(context);
  while (node_->HasReady()) {
    raft::Ready ready = node_->GetReady();
    // A leader's replication goes out first: its fsync overlaps the followers'.
    for (raft::Message& m : ready.messages) {
      if (raft::SentBeforePersisting(m.type)) transport_.Send(std::move(m));
    }
    if (ready.hard_state || ready.snapshot || !ready.entries.empty()) {
      const int64_t start = clock_.NowNanos();
      if (auto saved = storage_.Save(ready); !saved.ok()) {
        // A node that cannot persist must not acknowledge anything: stop as a crash would.
        std::cerr << "aurigraph-refserver: " << saved.message() << "\n";
        std::_Exit(70);
      }
      if (ready.must_sync) metrics_.fsync.Record(clock_.NowNanos() - start);
      metrics_.entries_appended += ready.entries.size();
    }
    if (ready.snapshot) {
      if (auto restored = machine_.Restore(ready.snapshot->data); !restored.ok()) {
        std::cerr << "aurigraph-refserver: cannot install the leader's snapshot: "
                  << restored.message() << "\n";
        std::_Exit(70);
      }
      ++metrics_.snapshots;
      // Proposals the snapshot covers were committed by another leader's entries, or lost.
      for (auto it = waiting_.begin();
           it != waiting_.end() && it->first <= ready.snapshot->index;) {
        for (Done& done : it->second.done)
          done(absl::UnavailableError("outcome unknown: covered by a snapshot"));
        it = waiting_.erase(it);
      }
    }
    for (raft::Message& m : ready.messages) {
      if (raft::SentBeforePersisting(m.type)) continue;  // sent above
      auto it = m.context == 0 ? replies_.end() : replies_.find(m.context);
      if (it != replies_.end()) {
        it->second(std::move(m));
        replies_.erase(it);
      } else if (!raft::IsResponse(m.type)) {
        transport_.Send(std::move(m));
      }
    }
    for (const raft::Entry& e : ready.committed) ApplyEntry(e);
    node_->Advance(ready);
  }
  // Raft answers a request as it steps it: requests still unanswered get none.
  for (uint64_t context : asked) {
    auto it = replies_.find(context);
    if (it == replies_.end()) continue;
    it->second(std::nullopt);
    replies_.erase(it);
  }
  const raft::Status status = node_->status();
  if (status.applied >= status.snapshot_index + options_.snapshot_entries) {
    const int64_t start = clock_.NowNanos();
    node_->Compact(status.applied, machine_.Snapshot());
    if (auto compacted = storage_.Compact(node_->snapshot()); !compacted.ok()) {
      std::cerr << "aurigraph-refserver: " << compacted.message() << "\n";
      std::_Exit(70);
    }
    ++metrics_.snapshots;
    metrics_.snapshot.Record(clock_.NowNanos() - start);
    Emit({NodeEvent::Type::kSnapshotTaken, status.term, 0, status.applied});
  }
}

void ConsensusNode::Emit(const NodeEvent& event) {
  if (options_.on_event) options_.on_event(event);
}

void ConsensusNode::ApplyEntry(const raft::Entry& entry) {
  const auto commands = DecodeCommands(entry.data);
  auto it = waiting_.find(entry.index);
  Waiting* waiting = it != waiting_.end() && it->second.term == entry.term ? &it->second : nullptr;
  if (it != waiting_.end() && waiting == nullptr) {
    for (Done& done : it->second.done)
      done(absl::UnavailableError("lost in a leader change; retry"));
  }
  if (waiting != nullptr) metrics_.commit.Record(clock_.NowNanos() - waiting->proposed_at_nanos);
  if (commands) {
    for (size_t i = 0; i < commands->size(); ++i) {
      std::string result = machine_.Apply((*commands)[i], entry.index);
      ++metrics_.commands_applied;
      if (waiting != nullptr && i < waiting->done.size()) waiting->done[i](std::move(result));
    }
  }
  // Earlier waiting entries can no longer commit with their term.
  while (!waiting_.empty() && waiting_.begin()->first <= entry.index) {
    auto first = waiting_.begin();
    if (first->first < entry.index) {
      for (Done& done : first->second.done)
        done(absl::UnavailableError("lost in a leader change; retry"));
    }
    waiting_.erase(first);
  }
}

void ConsensusNode::FailWaiting(const absl::Status& status, bool expired_only) {
  const int64_t cutoff = clock_.NowNanos() - options_.proposal_timeout_nanos;
  for (auto it = waiting_.begin(); it != waiting_.end();) {
    if (expired_only && it->second.proposed_at_nanos > cutoff) {
      ++it;
      continue;
    }
    for (Done& done : it->second.done) done(status);
    it = waiting_.erase(it);
  }
}

void ConsensusNode::Publish() {
  const raft::Status status = node_->status();
  const raft::Status& before = metrics_.status;
  if (status.role == raft::Role::kCandidate && before.role != raft::Role::kCandidate) {
    ++metrics_.elections;
  }
  if (status.term != before.term) Emit({NodeEvent::Type::kTermChanged, status.term});
  if (status.leader != before.leader && status.leader != raft::kNoNode) {
    ++metrics_.leader_changes;
    Emit({NodeEvent::Type::kLeaderElected, status.term, 0, 0, status.leader});
  }
  if (status.commit > before.commit) {
    Emit({NodeEvent::Type::kEntriesCommitted, status.term, before.commit + 1, status.commit});
  }
  std::vector<raft::PeerProgress> peers = node_->peers();
  for (const raft::PeerProgress& p : peers) {
    for (const raft::PeerProgress& q : metrics_.peers) {
      if (q.id == p.id && q.active != p.active) {
        Emit({p.active ? NodeEvent::Type::kPeerRecovered : NodeEvent::Type::kPeerUnreachable,
              status.term, 0, 0, status.leader, p.id});
      }
    }
  }
  metrics_.status = status;
  metrics_.peers = std::move(peers);
  // Transfers end when another node leads, or after three election timeouts.
  const int64_t now = clock_.NowNanos();
  for (auto it = transferring_.begin(); it != transferring_.end();) {
    if (status.leader != raft::kNoNode && status.leader != options_.raft.id) {
      it->done(status.leader);
    } else if (now >= it->deadline_nanos) {
      it->done(absl::DeadlineExceededError("leadership did not pass within 3 election timeouts"));
    } else {
      ++it;
      continue;
    }
    it = transferring_.erase(it);
  }
  std::lock_guard lock(mutex_);
  published_ = metrics_;
}

}  // namespace aurigraph::consensus
