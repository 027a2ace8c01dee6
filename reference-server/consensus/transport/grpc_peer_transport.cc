#include "reference-server/consensus/transport/grpc_peer_transport.h"

#include <chrono>

#include "reference-server/consensus/wire/raft_wire.h"

namespace aurigraph::consensus {

namespace {
constexpr int kMaxInFlightPerCluster =
    4096;                                    // beyond it messages are dropped, as a full link would
constexpr int kMaxMessageBytes = 256 << 20;  // snapshots
}  // namespace

struct GrpcPeerTransport::Call {
  grpc::ClientContext context;
  raft::MessageType type;
  raft::NodeId peer;
  int64_t sent_nanos = 0;
  v1::AppendEntriesRequest append;
  v1::AppendEntriesResponse append_reply;
  v1::VoteRequest vote;
  v1::VoteResponse vote_reply;
  v1::InstallSnapshotRequest snapshot;
  v1::TimeoutNowRequest timeout_now;
  v1::TimeoutNowResponse timeout_now_reply;
};

GrpcPeerTransport::GrpcPeerTransport(const Membership& members,
                                     std::function<void(raft::Message)> deliver)
    : members_(members), deliver_(std::move(deliver)) {
  for (raft::NodeId id : members.ids()) {
    if (id == members.self()) continue;
    grpc::ChannelArguments args;
    // A restarted peer is found again within a tenth of a second (then up to a
    // second), not after gRPC's default second growing to two minutes.
    args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 100);
    args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 1000);
    args.SetMaxSendMessageSize(kMaxMessageBytes);
    args.SetMaxReceiveMessageSize(kMaxMessageBytes);
    Peer& peer = peers_[id];
    peer.channel =
        grpc::CreateCustomChannel(members.address(id), grpc::InsecureChannelCredentials(), args);
    peer.stub = v1::ConsensusService::NewStub(peer.channel);
  }
}

void GrpcPeerTransport::Close() {
  std::unique_lock lock(mutex_);
  closing_ = true;
  for (Call* call : in_flight_) call->context.TryCancel();
  idle_.wait(lock, [this] { return in_flight_.empty(); });
}

void GrpcPeerTransport::SetBlocked(std::set<raft::NodeId> peers) {
  std::lock_guard lock(mutex_);
  blocked_ = std::move(peers);
}

bool GrpcPeerTransport::Blocked(raft::NodeId peer) const {
  std::lock_guard lock(mutex_);
  return blocked_.contains(peer);
}

std::set<raft::NodeId> GrpcPeerTransport::blocked() const {
  std::lock_guard lock(mutex_);
  return blocked_;
}

GrpcPeerTransport::RoundTrips GrpcPeerTransport::round_trips() const {
  std::lock_guard lock(mutex_);
  return round_trips_;
}

void GrpcPeerTransport::SetLatency(int64_t latency_nanos) { latency_nanos_ = latency_nanos; }

void GrpcPeerTransport::Send(raft::Message m) {
  const int64_t now = SteadyClock::Instance().NowNanos();
  const int64_t latency = latency_nanos_.load();
  if (latency <= 0) {
    SendNow(std::move(m), now);
    return;
  }
  delayed_.Schedule(now + latency,
                    [this, m = std::move(m), now]() mutable { SendNow(std::move(m), now); });
}

void GrpcPeerTransport::SendNow(raft::Message m, int64_t sent_nanos) {
  auto it = peers_.find(m.to);
  if (it == peers_.end()) return;
  auto call = std::make_unique<Call>();
  call->type = m.type;
  call->peer = m.to;
  call->sent_nanos = sent_nanos;  // an injected latency is part of the round trip
  {
    std::lock_guard lock(mutex_);
    if (closing_ || blocked_.contains(m.to) ||
        static_cast<int>(in_flight_.size()) >= kMaxInFlightPerCluster) {
      return;
    }
    in_flight_.insert(call.get());
  }
  const std::string& self = members_.name(members_.self());
  auto deadline = std::chrono::seconds(m.type == raft::MessageType::kSnapshot ? 30 : 2);
  call->context.set_deadline(std::chrono::system_clock::now() + deadline);
  v1::ConsensusService::Stub::async_interface* async = it->second.stub->async();
  Call* raw = call.release();
  auto done = [this, raw](grpc::Status status) { Finish(raw, status); };
  switch (m.type) {
    case raft::MessageType::kAppend:
    case raft::MessageType::kHeartbeat:
      raw->append = ToAppendRequest(m, self);
      async->AppendEntries(&raw->context, &raw->append, &raw->append_reply, done);
      break;
    case raft::MessageType::kPreVote:
    case raft::MessageType::kVote:
      raw->vote = ToVoteRequest(m, self);
      async->RequestVote(&raw->context, &raw->vote, &raw->vote_reply, done);
      break;
    case raft::MessageType::kSnapshot:
      raw->snapshot = ToSnapshotRequest(m, self);
      async->InstallSnapshot(&raw->context, &raw->snapshot, &raw->append_reply, done);
      break;
    case raft::MessageType::kTimeoutNow:
      raw->timeout_now = ToTimeoutNowRequest(m, self);
      async->TimeoutNow(&raw->context, &raw->timeout_now, &raw->timeout_now_reply, done);
      break;
    default:
      Finish(raw, grpc::Status(grpc::StatusCode::INTERNAL, "a reply is never sent on its own"));
      break;
  }
}

void GrpcPeerTransport::Finish(Call* call, const grpc::Status& status) {
  std::unique_ptr<Call> owned(call);
  bool deliver = status.ok();
  {
    std::lock_guard lock(mutex_);
    deliver = deliver && !closing_ && !blocked_.contains(call->peer);
    const int64_t round_trip = SteadyClock::Instance().NowNanos() - call->sent_nanos;
    const auto record = [&](DurationHistogram& answered, uint64_t& failed) {
      if (deliver) {
        answered.Record(round_trip);
      } else if (!closing_) {
        ++failed;
      }
    };
    switch (call->type) {
      case raft::MessageType::kAppend:
        record(round_trips_.append_entries, round_trips_.append_entries_failed);
        break;
      case raft::MessageType::kHeartbeat:
        record(round_trips_.heartbeat, round_trips_.heartbeat_failed);
        break;
      case raft::MessageType::kPreVote:
      case raft::MessageType::kVote:
        record(round_trips_.request_vote, round_trips_.request_vote_failed);
        break;
      default:
        break;
    }
  }
  if (deliver) {
    const raft::NodeId self = members_.self();
    switch (call->type) {
      case raft::MessageType::kAppend:
      case raft::MessageType::kSnapshot:
        deliver_(FromAppendResponse(call->append_reply, raft::MessageType::kAppendResponse,
                                    call->peer, self));
        break;
      case raft::MessageType::kHeartbeat:
        deliver_(FromAppendResponse(call->append_reply, raft::MessageType::kHeartbeatResponse,
                                    call->peer, self));
        break;
      case raft::MessageType::kPreVote:
      case raft::MessageType::kVote:
        deliver_(FromVoteResponse(call->vote_reply, call->type == raft::MessageType::kPreVote,
                                  call->peer, self));
        break;
      default:
        break;
    }
  }
  std::lock_guard lock(mutex_);
  in_flight_.erase(call);
  if (in_flight_.empty()) idle_.notify_all();
}

}  // namespace aurigraph::consensus
