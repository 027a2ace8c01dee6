#include "reference-server/consensus/wire/raft_wire.h"

namespace aurigraph::consensus {

using raft::Message;
using raft::MessageType;

namespace {
Message Addressed(MessageType type, raft::NodeId from, raft::NodeId to, uint64_t term) {
  Message m;
  m.type = type;
  m.from = from;
  m.to = to;
  m.term = term;
  return m;
}
}  // namespace

cv1::AppendEntriesRequest ToAppendRequest(const Message& m, const std::string& from_name) {
  cv1::AppendEntriesRequest r;
  r.set_term(m.term);
  r.set_leader_id(from_name);
  r.set_prev_log_index(m.index);
  r.set_prev_log_term(m.log_term);
  r.set_leader_commit(m.commit);
  r.set_heartbeat(m.type == MessageType::kHeartbeat);
  r.mutable_entries()->Reserve(static_cast<int>(m.entries.size()));
  for (const raft::Entry& e : m.entries) {
    cv1::LogEntry* out = r.add_entries();
    out->set_term(e.term);
    out->set_index(e.index);
    out->set_command(e.data);
  }
  return r;
}

Message FromAppendRequest(const cv1::AppendEntriesRequest& r, raft::NodeId from, raft::NodeId to) {
  Message m =
      Addressed(r.heartbeat() ? MessageType::kHeartbeat : MessageType::kAppend, from, to, r.term());
  m.index = r.prev_log_index();
  m.log_term = r.prev_log_term();
  m.commit = r.leader_commit();
  m.entries.reserve(r.entries_size());
  for (const cv1::LogEntry& e : r.entries())
    m.entries.push_back({e.term(), e.index(), e.command()});
  return m;
}

cv1::VoteRequest ToVoteRequest(const Message& m, const std::string& from_name) {
  cv1::VoteRequest r;
  r.set_term(m.term);
  r.set_candidate_id(from_name);
  r.set_last_log_index(m.index);
  r.set_last_log_term(m.log_term);
  r.set_pre_vote(m.type == MessageType::kPreVote);
  r.set_leadership_transfer(m.transfer);
  return r;
}

Message FromVoteRequest(const cv1::VoteRequest& r, raft::NodeId from, raft::NodeId to) {
  Message m =
      Addressed(r.pre_vote() ? MessageType::kPreVote : MessageType::kVote, from, to, r.term());
  m.index = r.last_log_index();
  m.log_term = r.last_log_term();
  m.transfer = r.leadership_transfer();
  return m;
}

cv1::InstallSnapshotRequest ToSnapshotRequest(const Message& m, const std::string& from_name) {
  cv1::InstallSnapshotRequest r;
  r.set_term(m.term);
  r.set_leader_id(from_name);
  r.set_last_included_index(m.snapshot.index);
  r.set_last_included_term(m.snapshot.term);
  r.set_data(m.snapshot.data);
  return r;
}

Message FromSnapshotRequest(const cv1::InstallSnapshotRequest& r, raft::NodeId from,
                            raft::NodeId to) {
  Message m = Addressed(MessageType::kSnapshot, from, to, r.term());
  m.snapshot = {r.last_included_index(), r.last_included_term(), r.data()};
  return m;
}

cv1::TimeoutNowRequest ToTimeoutNowRequest(const Message& m, const std::string& from_name) {
  cv1::TimeoutNowRequest r;
  r.set_term(m.term);
  r.set_leader_id(from_name);
  return r;
}

Message FromTimeoutNowRequest(const cv1::TimeoutNowRequest& r, raft::NodeId from, raft::NodeId to) {
  return Addressed(MessageType::kTimeoutNow, from, to, r.term());
}

void ToAppendResponse(const Message& m, cv1::AppendEntriesResponse* out) {
  out->set_term(m.term);
  out->set_success(!m.reject);
  out->set_match_index(m.index);
  out->set_hint_index(m.reject_hint);
  out->set_hint_term(m.reject ? m.log_term : 0);
}

Message FromAppendResponse(const cv1::AppendEntriesResponse& r, MessageType type, raft::NodeId from,
                           raft::NodeId to) {
  Message m = Addressed(type, from, to, r.term());
  m.reject = !r.success();
  m.index = r.match_index();
  m.reject_hint = r.hint_index();
  m.log_term = r.hint_term();
  return m;
}

void ToVoteResponse(const Message& m, cv1::VoteResponse* out) {
  out->set_term(m.term);
  out->set_vote_granted(!m.reject);
}

Message FromVoteResponse(const cv1::VoteResponse& r, bool pre_vote, raft::NodeId from,
                         raft::NodeId to) {
  Message m = Addressed(pre_vote ? MessageType::kPreVoteResponse : MessageType::kVoteResponse, from,
                        to, r.term());
  m.reject = !r.vote_granted();
  return m;
}

}  // namespace aurigraph::consensus
