// Raft messages to peers over the ConsensusService's RPCs (AppendEntries,
// RequestVote, InstallSnapshot, TimeoutNow), one channel per peer, without
// waiting: each reply is handed to `deliver` as the Raft message it carries.
// A message whose RPC fails is simply lost; Raft resends.
#pragma once

#include <grpcpp/grpcpp.h>

#include <atomic>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>

#include "aurigraph/consensus/v1/consensus.grpc.pb.h"
#include "reference-server/consensus/cluster/membership.h"
#include "reference-server/consensus/node/consensus_node.h"
#include "reference-server/faults/delay_queue.h"

namespace aurigraph::consensus {

class GrpcPeerTransport final : public PeerTransport {
 public:
  GrpcPeerTransport(const Membership& members, std::function<void(raft::Message)> deliver);
  ~GrpcPeerTransport() override { Close(); }
  // Sends nothing more, cancels the RPCs in flight and waits for their callbacks.
  void Close();

  void Send(raft::Message message) override;
  // Fault injection (the admin service): messages to and from these peers are
  // dropped, and every message waits `latency_nanos` before it is sent.
  void SetBlocked(std::set<raft::NodeId> peers);
  bool Blocked(raft::NodeId peer) const;
  std::set<raft::NodeId> blocked() const;
  void SetLatency(int64_t latency_nanos);
  int64_t latency_nanos() const { return latency_nanos_.load(); }
  // Round trips of the RPCs that answered, from the send to the reply (which a
  // peer sends once it has persisted what the message carried: a vote, or the
  // entries appended), by RPC; and the RPCs that did not answer.
  struct RoundTrips {
    DurationHistogram append_entries;  // carrying entries
    DurationHistogram heartbeat;       // AppendEntries without entries
    DurationHistogram request_vote;    // pre-votes included
    uint64_t append_entries_failed = 0, heartbeat_failed = 0, request_vote_failed = 0;
  };
  RoundTrips round_trips() const;
  // The channel to `peer` (another member), for other calls to it.
  std::shared_ptr<grpc::Channel> channel(raft::NodeId peer) const {
    return peers_.at(peer).channel;
  }

 private:
  struct Call;
  struct Peer {
    std::shared_ptr<grpc::Channel> channel;
    std::unique_ptr<v1::ConsensusService::Stub> stub;
  };
  void SendNow(raft::Message message, int64_t sent_nanos);
  void Finish(Call* call, const grpc::Status& status);

  const Membership& members_;
  std::function<void(raft::Message)> deliver_;
  std::map<raft::NodeId, Peer> peers_;
  mutable std::mutex mutex_;
  std::condition_variable idle_;
  std::set<Call*> in_flight_;
  std::set<raft::NodeId> blocked_;
  std::atomic<int64_t> latency_nanos_{0};
  bool closing_ = false;
  RoundTrips round_trips_;
  refserver::DelayQueue delayed_{SteadyClock::Instance()};  // first to go: its tasks send
};

}  // namespace aurigraph::consensus
