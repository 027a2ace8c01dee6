#include "reference-server/consensus/raft/raft.h"

#include <algorithm>
#include <cassert>

namespace aurigraph::raft {

bool IsResponse(MessageType type) {
  return type == MessageType::kPreVoteResponse || type == MessageType::kVoteResponse ||
         type == MessageType::kAppendResponse || type == MessageType::kHeartbeatResponse;
}

bool SentBeforePersisting(MessageType type) {
  return type == MessageType::kAppend || type == MessageType::kHeartbeat ||
         type == MessageType::kSnapshot || type == MessageType::kTimeoutNow;
}

Node::Node(Config config, DurableState state)
    : config_(std::move(config)),
      random_(config_.seed * 0x9E3779B97F4A7C15ull + config_.id),
      term_(state.hard_state.term),
      vote_(state.hard_state.vote),
      snapshot_(std::move(state.snapshot)),
      entries_(std::make_move_iterator(state.entries.begin()),
               std::make_move_iterator(state.entries.end())) {
  committed_ = std::max(state.hard_state.commit, snapshot_.index);
  applied_ = snapshot_.index;  // the state machine is restored from the snapshot
  stabled_ = LastIndex();
  committed_ = std::min(committed_, LastIndex());
  persisted_hard_state_ = state.hard_state;
  BecomeFollower(term_, kNoNode);
}

// ---- The log ----

uint64_t Node::LastIndex() const { return snapshot_.index + entries_.size(); }

uint64_t Node::LastTerm() const { return entries_.empty() ? snapshot_.term : entries_.back().term; }

std::optional<uint64_t> Node::TermAt(uint64_t index) const {
  if (index == snapshot_.index) return snapshot_.term;
  if (index < snapshot_.index || index > LastIndex()) return std::nullopt;
  return At(index).term;
}

const Entry& Node::At(uint64_t index) const { return entries_[index - snapshot_.index - 1]; }

bool Node::MatchTerm(uint64_t index, uint64_t term) const {
  const auto t = TermAt(index);
  return t && *t == term;
}

bool Node::UpToDate(uint64_t index, uint64_t term) const {
  return term > LastTerm() || (term == LastTerm() && index >= LastIndex());
}

void Node::TruncateAndAppend(const std::vector<Entry>& entries, size_t from) {
  const uint64_t first = entries[from].index;
  assert(first > committed_);
  while (LastIndex() >= first) entries_.pop_back();
  stabled_ = std::min(stabled_, first - 1);
  for (size_t i = from; i < entries.size(); ++i) entries_.push_back(entries[i]);
}

void Node::CommitTo(uint64_t index) {
  if (index > committed_) committed_ = std::min(index, LastIndex());
}

std::pair<uint64_t, uint64_t> Node::FindConflictByTerm(uint64_t index, uint64_t term) const {
  for (; index > snapshot_.index; --index) {
    const uint64_t t = At(index).term;
    if (t <= term) return {index, t};
  }
  return {snapshot_.index, snapshot_.term};
}

// ---- Roles ----

void Node::ResetRandomizedTimeout() {
  // One tick past the lease at least: voters that heard the same last heartbeat
  // (ticking in another phase) are out of it by then, and do not refuse the pre-vote.
  std::uniform_int_distribution<int> spread(1, config_.election_ticks);
  randomized_election_ticks_ = config_.election_ticks + spread(random_);
}

void Node::Reset(uint64_t term) {
  if (term != term_) {
    term_ = term;
    vote_ = kNoNode;
  }
  leader_ = kNoNode;
  election_elapsed_ = 0;
  heartbeat_elapsed_ = 0;
  ResetRandomizedTimeout();
  transferee_ = kNoNode;
  votes_.clear();
  progress_.clear();
  for (NodeId peer : config_.voters) {
    Progress& p = progress_[peer];
    p.next = LastIndex() + 1;
    // A leader counts its own entries once they are persisted (Advance).
    if (peer == config_.id) p.match = stabled_;
  }
}

void Node::BecomeFollower(uint64_t term, NodeId leader) {
  Reset(term);
  role_ = Role::kFollower;
  leader_ = leader;
}

void Node::BecomePreCandidate() {
  // A pre-vote changes neither term nor vote: losing it leaves no trace.
  votes_.clear();
  leader_ = kNoNode;
  role_ = Role::kPreCandidate;
}

void Node::BecomeCandidate() {
  Reset(term_ + 1);
  vote_ = config_.id;
  role_ = Role::kCandidate;
}

void Node::BecomeLeader() {
  Reset(term_);
  role_ = Role::kLeader;
  leader_ = config_.id;
  for (auto& [peer, p] : progress_) p.recent_active = true;
  // An entry of the new term: entries of earlier terms commit only through one.
  AppendEntry({});
}

void Node::StartElection(bool pre_vote, bool transfer) {
  if (pre_vote) {
    BecomePreCandidate();
  } else {
    BecomeCandidate();
  }
  const uint64_t term = pre_vote ? term_ + 1 : term_;
  const MessageType type = pre_vote ? MessageType::kPreVote : MessageType::kVote;
  CountVote(config_.id, true);
  if (role_ == Role::kLeader) return;  // a cluster of one
  for (NodeId peer : config_.voters) {
    if (peer == config_.id) continue;
    Message m;
    m.type = type;
    m.to = peer;
    m.term = term;
    m.index = LastIndex();
    m.log_term = LastTerm();
    m.transfer = transfer;
    Send(std::move(m));
  }
}

void Node::CountVote(NodeId from, bool granted) {
  votes_.emplace(from, granted);
  int yes = 0, no = 0;
  for (const auto& [id, vote] : votes_) (vote ? yes : no)++;
  if (yes >= Quorum()) {
    if (role_ == Role::kPreCandidate) {
      StartElection(/*pre_vote=*/false, /*transfer=*/false);
    } else {
      BecomeLeader();
      BroadcastAppend();
    }
  } else if (no >= Quorum()) {
    BecomeFollower(term_, kNoNode);
  }
}

void Node::Campaign() {
  if (role_ == Role::kLeader) return;
  StartElection(config_.pre_vote, /*transfer=*/false);
}

// ---- Input ----

void Node::Tick() {
  if (role_ == Role::kLeader) {
    ++heartbeat_elapsed_;
    ++election_elapsed_;
    for (auto& [peer, p] : progress_) {
      if (p.state == Progress::State::kReplicate && !p.inflight.empty()) ++p.stalled_ticks;
      // A snapshot that was lost (or whose receiver died) is offered again.
      if (p.state == Progress::State::kSnapshot &&
          ++p.snapshot_ticks > 2 * config_.election_ticks) {
        p.state = Progress::State::kProbe;
        p.probe_sent = false;
        p.next = p.match + 1;
      }
    }
    if (election_elapsed_ >= config_.election_ticks) {
      election_elapsed_ = 0;
      if (config_.check_quorum && !QuorumActive()) {
        BecomeFollower(term_, kNoNode);
        return;
      }
      for (auto& [peer, p] : progress_) {
        p.active_last_window = p.recent_active;
        p.recent_active = peer == config_.id;
      }
      transferee_ = kNoNode;  // a transfer not done within an election timeout is abandoned
    }
    if (heartbeat_elapsed_ >= config_.heartbeat_ticks) {
      heartbeat_elapsed_ = 0;
      BroadcastHeartbeat();
    }
    return;
  }
  if (++election_elapsed_ >= randomized_election_ticks_) {
    election_elapsed_ = 0;
    Campaign();
  }
}

std::optional<Proposal> Node::Propose(std::string data) {
  if (role_ != Role::kLeader || transferee_ != kNoNode) return std::nullopt;
  AppendEntry(std::move(data));
  BroadcastAppend();
  return Proposal{LastIndex(), term_};
}

void Node::TransferLeadership(NodeId to) {
  if (role_ != Role::kLeader || to == config_.id || !progress_.contains(to)) return;
  if (transferee_ == to) return;
  transferee_ = to;
  election_elapsed_ = 0;
  if (progress_[to].match == LastIndex()) {
    SendTimeoutNow(to);
  } else {
    SendAppend(to);
  }
}

void Node::Step(const Message& m) {
  if (m.from == config_.id ||
      std::find(config_.voters.begin(), config_.voters.end(), m.from) == config_.voters.end()) {
    return;  // not from a member
  }
  const bool vote_request = m.type == MessageType::kVote || m.type == MessageType::kPreVote;
  if (m.term > term_) {
    if (vote_request && !m.transfer && config_.check_quorum && leader_ != kNoNode &&
        election_elapsed_ < config_.election_ticks) {
      return;  // within the lease of a live leader
    }
    if (m.type == MessageType::kPreVote || (m.type == MessageType::kPreVoteResponse && !m.reject)) {
      // Pre-votes carry the term a campaign would have, and change nothing.
    } else if (m.type == MessageType::kAppend || m.type == MessageType::kHeartbeat ||
               m.type == MessageType::kSnapshot) {
      BecomeFollower(m.term, m.from);
    } else {
      BecomeFollower(m.term, kNoNode);
    }
  } else if (m.term < term_) {
    if ((config_.check_quorum || config_.pre_vote) &&
        (m.type == MessageType::kAppend || m.type == MessageType::kHeartbeat)) {
      // A stale leader (partitioned while the others moved on) learns the term and steps down.
      Message reply;
      reply.type = MessageType::kAppendResponse;
      reply.term = term_;
      Reply(m, std::move(reply));
    } else if (m.type == MessageType::kPreVote) {
      Message reply;
      reply.type = MessageType::kPreVoteResponse;
      reply.term = term_;
      reply.reject = true;
      Reply(m, std::move(reply));
    }
    return;
  }
  if (vote_request) {
    HandleVote(m);
    return;
  }
  switch (role_) {
    case Role::kLeader:
      StepLeader(m);
      break;
    case Role::kPreCandidate:
    case Role::kCandidate:
      StepCandidate(m);
      break;
    case Role::kFollower:
      StepFollower(m);
      break;
  }
}

void Node::HandleVote(const Message& m) {
  const bool pre = m.type == MessageType::kPreVote;
  const bool can_vote =
      vote_ == m.from || (vote_ == kNoNode && leader_ == kNoNode) || (pre && m.term > term_);
  Message reply;
  reply.type = pre ? MessageType::kPreVoteResponse : MessageType::kVoteResponse;
  if (can_vote && UpToDate(m.index, m.log_term)) {
    reply.term = m.term;
    if (!pre) {
      election_elapsed_ = 0;
      vote_ = m.from;
    }
  } else {
    reply.term = term_;
    reply.reject = true;
  }
  Reply(m, std::move(reply));
}

void Node::StepLeader(const Message& m) {
  switch (m.type) {
    case MessageType::kAppendResponse:
      HandleAppendResponse(m);
      break;
    case MessageType::kHeartbeatResponse:
      HandleHeartbeatResponse(m);
      break;
    default:
      break;  // votes and responses of other roles, from an earlier part of this term
  }
}

void Node::StepCandidate(const Message& m) {
  const MessageType mine =
      role_ == Role::kPreCandidate ? MessageType::kPreVoteResponse : MessageType::kVoteResponse;
  switch (m.type) {
    case MessageType::kAppend:
    case MessageType::kHeartbeat:
    case MessageType::kSnapshot:
      // A leader of this term exists.
      BecomeFollower(m.term, m.from);
      StepFollower(m);
      break;
    default:
      if (m.type == mine) CountVote(m.from, !m.reject);
      break;
  }
}

void Node::StepFollower(const Message& m) {
  switch (m.type) {
    case MessageType::kAppend:
      election_elapsed_ = 0;
      leader_ = m.from;
      HandleAppend(m);
      break;
    case MessageType::kHeartbeat:
      election_elapsed_ = 0;
      leader_ = m.from;
      HandleHeartbeat(m);
      break;
    case MessageType::kSnapshot:
      election_elapsed_ = 0;
      leader_ = m.from;
      HandleSnapshot(m);
      break;
    case MessageType::kTimeoutNow:
      // The leader hands over: campaign at once, past the other voters' lease.
      StartElection(/*pre_vote=*/false, /*transfer=*/true);
      break;
    default:
      break;
  }
}

void Node::HandleAppend(const Message& m) {
  Message reply;
  reply.type = MessageType::kAppendResponse;
  reply.term = term_;
  if (m.index < committed_) {
    reply.index = committed_;
    Reply(m, std::move(reply));
    return;
  }
  if (MatchTerm(m.index, m.log_term)) {
    const uint64_t last_new = m.index + m.entries.size();
    for (size_t i = 0; i < m.entries.size(); ++i) {
      if (!MatchTerm(m.entries[i].index, m.entries[i].term)) {
        TruncateAndAppend(m.entries, i);
        break;
      }
    }
    CommitTo(std::min(m.commit, last_new));
    reply.index = last_new;
    Reply(m, std::move(reply));
    return;
  }
  // Mismatch: say where the leader should look, skipping whole terms at a time.
  const auto [hint, hint_term] = FindConflictByTerm(std::min(m.index, LastIndex()), m.log_term);
  reply.index = m.index;
  reply.reject = true;
  reply.reject_hint = hint;
  reply.log_term = hint_term;
  Reply(m, std::move(reply));
}

void Node::HandleHeartbeat(const Message& m) {
  CommitTo(m.commit);
  Message reply;
  reply.type = MessageType::kHeartbeatResponse;
  reply.term = term_;
  Reply(m, std::move(reply));
}

void Node::HandleSnapshot(const Message& m) {
  const Snapshot& s = m.snapshot;
  Message reply;
  reply.type = MessageType::kAppendResponse;
  reply.term = term_;
  if (s.index <= committed_) {
    reply.index = committed_;
  } else if (MatchTerm(s.index, s.term)) {
    CommitTo(s.index);      // the log already holds it: nothing to restore
    reply.index = s.index;  // what is known to match; entries after it may still differ
  } else {
    entries_.clear();
    snapshot_ = s;
    committed_ = applied_ = stabled_ = s.index;
    snapshot_unstable_ = true;
    reply.index = s.index;
  }
  Reply(m, std::move(reply));
}

void Node::HandleAppendResponse(const Message& m) {
  auto it = progress_.find(m.from);
  if (it == progress_.end()) return;
  Progress& p = it->second;
  p.recent_active = true;
  if (m.reject) {
    if (p.state == Progress::State::kSnapshot) return;  // from before the snapshot
    uint64_t next_probe = m.reject_hint;
    if (m.log_term > 0) next_probe = FindConflictByTerm(m.reject_hint, m.log_term).first;
    bool decreased = false;
    if (p.state == Progress::State::kReplicate) {
      if (m.index > p.match) {
        p.next = p.match + 1;
        decreased = true;
      }
    } else if (p.next - 1 == m.index) {  // else a stale rejection
      p.next = std::max<uint64_t>(std::min(m.index, next_probe + 1), p.match + 1);
      p.probe_sent = false;
      decreased = true;
    }
    if (decreased) {
      if (p.state == Progress::State::kReplicate) {
        p.state = Progress::State::kProbe;
        p.inflight.clear();
        p.probe_sent = false;
      }
      SendAppend(m.from);
    }
    return;
  }
  const bool was_paused =
      (p.state == Progress::State::kProbe && p.probe_sent) ||
      (p.state == Progress::State::kReplicate && p.inflight.size() >= config_.max_inflight);
  if (m.index > p.match) {
    p.match = m.index;
    p.next = std::max(p.next, m.index + 1);
    p.stalled_ticks = 0;
    switch (p.state) {
      case Progress::State::kProbe:
        p.state = Progress::State::kReplicate;
        p.inflight.clear();
        p.next = p.match + 1;
        break;
      case Progress::State::kSnapshot:
        if (p.match >= p.pending_snapshot) {
          p.state = Progress::State::kReplicate;
          p.inflight.clear();
          p.next = p.match + 1;
        }
        break;
      case Progress::State::kReplicate:
        while (!p.inflight.empty() && p.inflight.front() <= m.index) p.inflight.pop_front();
        break;
    }
    p.probe_sent = false;
    if (MaybeCommit()) {
      BroadcastAppend();
    } else if (was_paused) {
      SendAppend(m.from);
    }
    // Fill the pipeline.
    while (SendAppend(m.from, /*send_if_empty=*/false)) {
    }
    if (m.from == transferee_ && p.match == LastIndex()) SendTimeoutNow(m.from);
  }
}

void Node::HandleHeartbeatResponse(const Message& m) {
  auto it = progress_.find(m.from);
  if (it == progress_.end()) return;
  Progress& p = it->second;
  p.recent_active = true;
  p.probe_sent = false;
  // An append lost from a full pipeline would stall it: let one more through.
  if (p.state == Progress::State::kReplicate && p.inflight.size() >= config_.max_inflight) {
    p.inflight.pop_front();
  }
  if (p.match >= LastIndex()) return;
  // Appends in flight are left to arrive: an empty append sent now could
  // overtake them (the transport need not keep order) and be refused, which
  // would throw the pipeline back to probing. Only when they have stalled is
  // the follower asked where it stands, in case the last of them was lost.
  const bool stalled = p.stalled_ticks >= std::max(2, config_.election_ticks / 3);
  if (stalled) p.stalled_ticks = 0;
  SendAppend(m.from, /*send_if_empty=*/p.inflight.empty() || stalled);
}

// ---- Replication ----

bool Node::SendAppend(NodeId to, bool send_if_empty) {
  Progress& p = progress_[to];
  switch (p.state) {
    case Progress::State::kProbe:
      if (p.probe_sent) return false;
      break;
    case Progress::State::kReplicate:
      if (p.inflight.size() >= config_.max_inflight) return false;
      break;
    case Progress::State::kSnapshot:
      return false;
  }
  Message m;
  m.to = to;
  if (p.next <= snapshot_.index) {
    // The entries it needs are compacted away: send the snapshot instead.
    m.type = MessageType::kSnapshot;
    m.snapshot = snapshot_;
    p.state = Progress::State::kSnapshot;
    p.pending_snapshot = snapshot_.index;
    p.snapshot_ticks = 0;
    p.inflight.clear();
    Send(std::move(m));
    return true;
  }
  uint64_t bytes = 0;
  for (uint64_t i = p.next; i <= LastIndex(); ++i) {
    const Entry& e = At(i);
    if (!m.entries.empty() && bytes + e.data.size() > config_.max_bytes_per_append) break;
    bytes += e.data.size();
    m.entries.push_back(e);
  }
  if (m.entries.empty() && !send_if_empty) return false;
  m.type = MessageType::kAppend;
  m.index = p.next - 1;
  m.log_term = *TermAt(m.index);
  m.commit = committed_;
  if (p.state == Progress::State::kReplicate) {
    if (!m.entries.empty()) {
      p.next = m.entries.back().index + 1;
      p.inflight.push_back(m.entries.back().index);
    }
  } else {
    p.probe_sent = true;
  }
  Send(std::move(m));
  return true;
}

void Node::BroadcastAppend() {
  for (NodeId peer : config_.voters) {
    if (peer == config_.id) continue;
    // An empty append behind appends still in flight could overtake them and
    // be refused; the commit index they lack comes with the next append or heartbeat.
    SendAppend(peer, /*send_if_empty=*/progress_[peer].inflight.empty());
  }
}

void Node::BroadcastHeartbeat() {
  for (NodeId peer : config_.voters) {
    if (peer == config_.id) continue;
    Message m;
    m.type = MessageType::kHeartbeat;
    m.to = peer;
    // Never past what the follower is known to have: its log may still differ beyond.
    m.commit = std::min(progress_[peer].match, committed_);
    Send(std::move(m));
  }
}

void Node::SendTimeoutNow(NodeId to) {
  Message m;
  m.type = MessageType::kTimeoutNow;
  m.to = to;
  Send(std::move(m));
}

bool Node::MaybeCommit() {
  std::vector<uint64_t> matches;
  for (NodeId peer : config_.voters) matches.push_back(progress_[peer].match);
  std::sort(matches.begin(), matches.end(), std::greater<>());
  const uint64_t quorum_index = matches[Quorum() - 1];
  // Only an entry of this term commits by counting (the Raft paper's figure 8).
  if (quorum_index > committed_ && MatchTerm(quorum_index, term_)) {
    committed_ = quorum_index;
    return true;
  }
  return false;
}

bool Node::QuorumActive() const {
  int active = 0;
  for (const auto& [peer, p] : progress_) {
    if (peer == config_.id || p.recent_active) ++active;
  }
  return active >= Quorum();
}

bool Node::AppendEntry(std::string data) {
  entries_.push_back(Entry{term_, LastIndex() + 1, std::move(data)});
  progress_[config_.id].next = LastIndex() + 1;
  return MaybeCommit();
}

void Node::Send(Message m) {
  m.from = config_.id;
  if (m.term == 0 && !IsResponse(m.type) && m.type != MessageType::kPreVote &&
      m.type != MessageType::kVote) {
    m.term = term_;
  }
  outbox_.push_back(std::move(m));
}

void Node::Reply(const Message& request, Message reply) {
  reply.to = request.from;
  reply.context = request.context;
  Send(std::move(reply));
}

// ---- Ready ----

bool Node::HasReady() const {
  return !outbox_.empty() || LastIndex() > stabled_ || committed_ > applied_ ||
         snapshot_unstable_ || HardState{term_, vote_, committed_} != persisted_hard_state_;
}

Ready Node::GetReady() {
  Ready ready;
  const HardState hard{term_, vote_, committed_};
  if (hard != persisted_hard_state_) ready.hard_state = hard;
  ready.must_sync = hard.term != persisted_hard_state_.term ||
                    hard.vote != persisted_hard_state_.vote || snapshot_unstable_ ||
                    LastIndex() > stabled_;
  if (snapshot_unstable_) ready.snapshot = snapshot_;
  for (uint64_t i = stabled_ + 1; i <= LastIndex(); ++i) ready.entries.push_back(At(i));
  ready.messages = std::move(outbox_);
  outbox_.clear();
  uint64_t bytes = 0;
  for (uint64_t i = applied_ + 1; i <= committed_; ++i) {
    const Entry& e = At(i);
    if (!ready.committed.empty() && bytes + e.data.size() > config_.max_bytes_per_ready) break;
    bytes += e.data.size();
    ready.committed.push_back(e);
  }
  return ready;
}

void Node::Advance(const Ready& ready) {
  if (ready.hard_state) persisted_hard_state_ = *ready.hard_state;
  if (ready.snapshot && ready.snapshot->index == snapshot_.index) snapshot_unstable_ = false;
  if (!ready.entries.empty()) {
    const Entry& last = ready.entries.back();
    // Unless a later step replaced it meanwhile.
    if (last.index > stabled_ && MatchTerm(last.index, last.term)) stabled_ = last.index;
    if (role_ == Role::kLeader && stabled_ > progress_[config_.id].match) {
      // The leader's own acknowledgement: only now may its copy count toward a majority.
      progress_[config_.id].match = stabled_;
      if (MaybeCommit()) BroadcastAppend();
    }
  }
  if (!ready.committed.empty()) applied_ = std::max(applied_, ready.committed.back().index);
}

void Node::Compact(uint64_t index, std::string data) {
  if (index <= snapshot_.index || index > applied_) return;
  const uint64_t term = *TermAt(index);
  while (!entries_.empty() && entries_.front().index <= index) entries_.pop_front();
  snapshot_ = Snapshot{index, term, std::move(data)};
}

// ---- Inspection ----

Status Node::status() const {
  return Status{config_.id, role_,       term_,           leader_,    committed_,
                applied_,   LastIndex(), snapshot_.index, transferee_};
}

std::vector<PeerProgress> Node::peers() const {
  std::vector<PeerProgress> out;
  if (role_ != Role::kLeader) return out;
  for (const auto& [peer, p] : progress_) {
    out.push_back(PeerProgress{peer, p.match, p.next,
                               peer == config_.id || p.recent_active || p.active_last_window});
  }
  return out;
}

}  // namespace aurigraph::raft
