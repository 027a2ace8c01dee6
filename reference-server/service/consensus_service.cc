#include "reference-server/service/consensus_service.h"

#include <chrono>
#include <set>
#include <thread>

#include "absl/strings/str_cat.h"
#include "aurigraph/consensus/v1/consensus.grpc.pb.h"
#include "reference-server/consensus/wire/raft_wire.h"

namespace aurigraph::refserver {
namespace {

namespace cv1 = consensus::v1;
using consensus::ConsensusNode;
using consensus::Membership;

cv1::NodeRole ToRole(raft::Role role) {
  switch (role) {
    case raft::Role::kLeader:
      return cv1::NODE_ROLE_LEADER;
    case raft::Role::kCandidate:
    case raft::Role::kPreCandidate:
      return cv1::NODE_ROLE_CANDIDATE;
    case raft::Role::kFollower:
      return cv1::NODE_ROLE_FOLLOWER;
  }
  return cv1::NODE_ROLE_UNSPECIFIED;
}

class ConsensusServiceImpl final : public cv1::ConsensusService::CallbackService {
 public:
  ConsensusServiceImpl(ConsensusNode& node, const Membership& members,
                       const consensus::GrpcPeerTransport& transport, ConsensusEvents& events,
                       StreamCounters& counters, size_t queue_bound)
      : node_(node),
        members_(members),
        transport_(transport),
        events_(events),
        counters_(counters),
        queue_bound_(queue_bound) {}

  grpc::ServerWriteReactor<cv1::ConsensusEvent>* StreamConsensusEvents(
      grpc::CallbackServerContext*, const cv1::ConsensusEventsRequest*) override {
    return EventStream<cv1::ConsensusEvent, cv1::ConsensusEvent>::Open(
        events_, counters_, queue_bound_, [](const cv1::ConsensusEvent&) { return true; },
        [](const cv1::ConsensusEvent& e, cv1::ConsensusEvent* out) {
          *out = e;
          out->set_sent_at_unix_nanos(WallClock::Instance().NowNanos());
        });
  }

  grpc::ServerUnaryReactor* AppendEntries(grpc::CallbackServerContext* context,
                                          const cv1::AppendEntriesRequest* request,
                                          cv1::AppendEntriesResponse* response) override {
    auto* reactor = context->DefaultReactor();
    const auto from = Sender(request->leader_id(), reactor);
    if (!from) return reactor;
    for (int i = 0; i < request->entries_size(); ++i) {
      if (request->entries(i).index() != request->prev_log_index() + 1 + i) {
        reactor->Finish(
            grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                         absl::StrCat("entry ", i, " has index ", request->entries(i).index(),
                                      "; entries must "
                                      "follow prev_log_index ",
                                      request->prev_log_index(), " one by one")));
        return reactor;
      }
    }
    Step(consensus::FromAppendRequest(*request, *from, members_.self()), reactor,
         [response](const raft::Message& m) { consensus::ToAppendResponse(m, response); });
    return reactor;
  }

  grpc::ServerUnaryReactor* RequestVote(grpc::CallbackServerContext* context,
                                        const cv1::VoteRequest* request,
                                        cv1::VoteResponse* response) override {
    auto* reactor = context->DefaultReactor();
    const auto from = Sender(request->candidate_id(), reactor);
    if (!from) return reactor;
    Step(consensus::FromVoteRequest(*request, *from, members_.self()), reactor,
         [response](const raft::Message& m) { consensus::ToVoteResponse(m, response); });
    return reactor;
  }

  grpc::ServerUnaryReactor* InstallSnapshot(grpc::CallbackServerContext* context,
                                            const cv1::InstallSnapshotRequest* request,
                                            cv1::AppendEntriesResponse* response) override {
    auto* reactor = context->DefaultReactor();
    const auto from = Sender(request->leader_id(), reactor);
    if (!from) return reactor;
    Step(consensus::FromSnapshotRequest(*request, *from, members_.self()), reactor,
         [response](const raft::Message& m) { consensus::ToAppendResponse(m, response); });
    return reactor;
  }

  grpc::ServerUnaryReactor* TimeoutNow(grpc::CallbackServerContext* context,
                                       const cv1::TimeoutNowRequest* request,
                                       cv1::TimeoutNowResponse*) override {
    auto* reactor = context->DefaultReactor();
    const auto from = Sender(request->leader_id(), reactor);
    if (!from) return reactor;
    node_.Receive(consensus::FromTimeoutNowRequest(*request, *from, members_.self()));
    reactor->Finish(grpc::Status::OK);
    return reactor;
  }

  grpc::ServerUnaryReactor* GetNodeState(grpc::CallbackServerContext* context,
                                         const cv1::NodeStateRequest*,
                                         cv1::NodeState* response) override {
    const raft::Status s = node_.status();
    response->set_node_id(members_.name(members_.self()));
    response->set_role(ToRole(s.role));
    response->set_term(s.term);
    if (s.leader != raft::kNoNode) response->set_leader_id(members_.name(s.leader));
    response->set_commit_index(s.commit);
    response->set_applied_index(s.applied);
    response->set_last_index(s.last_index);
    for (raft::NodeId id : members_.ids()) {
      (*response->mutable_members())[members_.name(id)] = members_.address(id);
    }
    auto* reactor = context->DefaultReactor();
    reactor->Finish(grpc::Status::OK);
    return reactor;
  }

  grpc::ServerUnaryReactor* GetMetrics(grpc::CallbackServerContext* context,
                                       const cv1::MetricsRequest*,
                                       cv1::ConsensusMetrics* response) override {
    const consensus::NodeMetrics m = node_.metrics();
    response->set_node_id(members_.name(members_.self()));
    response->set_current_term(m.status.term);
    response->set_commit_index(m.status.commit);
    response->set_last_applied(m.status.applied);
    response->set_last_index(m.status.last_index);
    response->set_snapshot_index(m.status.snapshot_index);
    response->set_entries_appended(m.entries_appended);
    response->set_elections(m.elections);
    response->set_leader_changes(m.leader_changes);
    response->set_snapshots(m.snapshots);
    if (m.commit.count > 0) {
      response->set_average_finality_ms(static_cast<double>(m.commit.sum_nanos) /
                                        static_cast<double>(m.commit.count) / 1e6);
    }
    for (const raft::PeerProgress& p : m.peers) {
      if (p.id == members_.self()) continue;
      cv1::PeerProgress* out = response->add_peers();
      out->set_node_id(members_.name(p.id));
      out->set_match_index(p.match);
      out->set_lag(m.status.last_index > p.match ? m.status.last_index - p.match : 0);
      out->set_active(p.active);
    }
    auto* reactor = context->DefaultReactor();
    reactor->Finish(grpc::Status::OK);
    return reactor;
  }

  grpc::ServerUnaryReactor* TransferLeadership(grpc::CallbackServerContext* context,
                                               const cv1::TransferLeadershipRequest* request,
                                               cv1::TransferLeadershipResponse* response) override {
    auto* reactor = context->DefaultReactor();
    const raft::Status s = node_.status();
    if (s.role != raft::Role::kLeader) {
      reactor->Finish(grpc::Status(
          grpc::StatusCode::FAILED_PRECONDITION,
          absl::StrCat(
              "node ", members_.name(members_.self()), " is not the leader",
              s.leader == raft::kNoNode ? "" : "; the leader is " + members_.name(s.leader))));
      return reactor;
    }
    raft::NodeId to = raft::kNoNode;
    if (!request->to_node_id().empty()) {
      const auto id = members_.IdOf(request->to_node_id());
      if (!id || *id == members_.self()) {
        reactor->Finish(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                                     absl::StrCat("to_node_id '", request->to_node_id(),
                                                  "' is not another member of the cluster")));
        return reactor;
      }
      to = *id;
    } else {
      uint64_t best = 0;
      for (const raft::PeerProgress& p : node_.metrics().peers) {
        if (p.id != members_.self() && (to == raft::kNoNode || p.match > best)) {
          to = p.id;
          best = p.match;
        }
      }
    }
    node_.TransferLeadership(to, [this, reactor, response](absl::StatusOr<raft::NodeId> leader) {
      if (!leader.ok()) {
        reactor->Finish(grpc::Status(static_cast<grpc::StatusCode>(leader.status().code()),
                                     std::string(leader.status().message())));
        return;
      }
      // The node that leads now: the one asked for, unless another won the election.
      response->set_leader_id(members_.name(*leader));
      response->set_term(node_.status().term);
      reactor->Finish(grpc::Status::OK);
    });
    return reactor;
  }

 private:
  // The sender's number; refuses the call (and returns nullopt) for a stranger.
  std::optional<raft::NodeId> Sender(const std::string& name, grpc::ServerUnaryReactor* reactor) {
    const auto id = members_.IdOf(name);
    if (!id || *id == members_.self()) {
      reactor->Finish(
          grpc::Status(grpc::StatusCode::PERMISSION_DENIED,
                       absl::StrCat("'", name, "' is not another member of this cluster (",
                                    members_.ToString(), ")")));
      return std::nullopt;
    }
    if (transport_.Blocked(*id)) {
      reactor->Finish(grpc::Status(grpc::StatusCode::UNAVAILABLE,
                                   absl::StrCat("partitioned from ", name, " (admin)")));
      return std::nullopt;
    }
    return id;
  }

  template <typename Fill>
  void Step(raft::Message message, grpc::ServerUnaryReactor* reactor, Fill fill) {
    node_.Receive(std::move(message), [reactor, fill](std::optional<raft::Message> reply) {
      if (!reply) {
        reactor->Finish(grpc::Status(grpc::StatusCode::ABORTED,
                                     "not answered: the node ignored the message (a vote within a "
                                     "live leader's lease, or the node is stopping)"));
        return;
      }
      fill(*reply);
      reactor->Finish(grpc::Status::OK);
    });
  }

  ConsensusNode& node_;
  const Membership& members_;
  const consensus::GrpcPeerTransport& transport_;
  ConsensusEvents& events_;
  StreamCounters& counters_;
  size_t queue_bound_;
};

class ConsensusAdminServiceImpl final : public cv1::ConsensusAdminService::CallbackService {
 public:
  ConsensusAdminServiceImpl(ConsensusNode& node, const Membership& members,
                            consensus::GrpcPeerTransport& transport, bool enabled)
      : node_(node), members_(members), transport_(transport), enabled_(enabled) {}

  grpc::ServerUnaryReactor* Crash(grpc::CallbackServerContext* context, const cv1::CrashRequest*,
                                  cv1::AdminResponse* response) override {
    return Act(context, response, [this] {
      if (!node_.durable()) {
        // Restarted without its term and vote, it could vote twice in a term.
        return grpc::Status(grpc::StatusCode::FAILED_PRECONDITION,
                            "a node without --data-dir would restart without its vote: "
                            "crash needs --data-dir");
      }
      // Answer first, then go as SIGKILL would: no shutdown, nothing flushed.
      std::thread([] {
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
        std::_Exit(137);
      }).detach();
      return grpc::Status::OK;
    });
  }
  grpc::ServerUnaryReactor* Pause(grpc::CallbackServerContext* context,
                                  const cv1::PauseRequest* request,
                                  cv1::AdminResponse* response) override {
    return Act(context, response, [&] {
      if (request->duration_ms() <= 0 || request->duration_ms() > 600'000) {
        return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "duration_ms: 1..600000");
      }
      node_.Pause(request->duration_ms() * 1'000'000);
      return grpc::Status::OK;
    });
  }
  grpc::ServerUnaryReactor* Partition(grpc::CallbackServerContext* context,
                                      const cv1::PartitionRequest* request,
                                      cv1::AdminResponse* response) override {
    return Act(context, response, [&] {
      std::set<raft::NodeId> blocked = transport_.blocked();
      if (request->all_peers()) {
        for (raft::NodeId id : members_.ids()) {
          if (id != members_.self()) blocked.insert(id);
        }
      }
      for (const std::string& name : request->node_ids()) {
        const auto id = members_.IdOf(name);
        if (!id || *id == members_.self()) {
          return grpc::Status(
              grpc::StatusCode::INVALID_ARGUMENT,
              absl::StrCat("'", name, "' is not another member (", members_.ToString(), ")"));
        }
        blocked.insert(*id);
      }
      transport_.SetBlocked(std::move(blocked));
      return grpc::Status::OK;
    });
  }
  grpc::ServerUnaryReactor* SetPeerLatency(grpc::CallbackServerContext* context,
                                           const cv1::PeerLatencyRequest* request,
                                           cv1::AdminResponse* response) override {
    return Act(context, response, [&] {
      if (request->latency_us() < 0 || request->latency_us() > 10'000'000) {
        return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "latency_us: 0..10000000");
      }
      transport_.SetLatency(request->latency_us() * 1000);
      return grpc::Status::OK;
    });
  }
  grpc::ServerUnaryReactor* Heal(grpc::CallbackServerContext* context, const cv1::HealRequest*,
                                 cv1::AdminResponse* response) override {
    return Act(context, response, [&] {
      transport_.SetBlocked({});
      transport_.SetLatency(0);
      return grpc::Status::OK;
    });
  }

 private:
  template <typename Action>
  grpc::ServerUnaryReactor* Act(grpc::CallbackServerContext* context, cv1::AdminResponse* response,
                                Action action) {
    auto* reactor = context->DefaultReactor();
    response->set_node_id(members_.name(members_.self()));
    reactor->Finish(enabled_ ? action()
                             : grpc::Status(grpc::StatusCode::PERMISSION_DENIED,
                                            "fault injection is off: start the node with --admin"));
    return reactor;
  }

  ConsensusNode& node_;
  const Membership& members_;
  consensus::GrpcPeerTransport& transport_;
  const bool enabled_;
};

}  // namespace

std::unique_ptr<grpc::Service> MakeConsensusAdminService(ConsensusNode& node,
                                                         const Membership& members,
                                                         consensus::GrpcPeerTransport& transport,
                                                         bool enabled) {
  return std::make_unique<ConsensusAdminServiceImpl>(node, members, transport, enabled);
}

std::unique_ptr<grpc::Service> MakeConsensusService(ConsensusNode& node, const Membership& members,
                                                    const consensus::GrpcPeerTransport& transport,
                                                    ConsensusEvents& events,
                                                    StreamCounters& counters, size_t queue_bound) {
  return std::make_unique<ConsensusServiceImpl>(node, members, transport, events, counters,
                                                queue_bound);
}

std::function<void(const consensus::NodeEvent&)> ConsensusEventPublisher(const Membership& members,
                                                                         ConsensusEvents& events,
                                                                         const Clock& wall) {
  return [&members, &events, &wall](const consensus::NodeEvent& e) {
    if (!events.has_subscribers()) return;
    auto event = std::make_shared<cv1::ConsensusEvent>();
    using Type = consensus::NodeEvent::Type;
    switch (e.type) {
      case Type::kLeaderElected:
        event->set_type(cv1::CONSENSUS_EVENT_TYPE_LEADER_ELECTED);
        break;
      case Type::kTermChanged:
        event->set_type(cv1::CONSENSUS_EVENT_TYPE_TERM_CHANGED);
        break;
      case Type::kEntriesCommitted:
        event->set_type(cv1::CONSENSUS_EVENT_TYPE_ENTRY_COMMITTED);
        break;
      case Type::kSnapshotTaken:
        event->set_type(cv1::CONSENSUS_EVENT_TYPE_SNAPSHOT_TAKEN);
        break;
      case Type::kPeerUnreachable:
        event->set_type(cv1::CONSENSUS_EVENT_TYPE_PEER_UNREACHABLE);
        break;
      case Type::kPeerRecovered:
        event->set_type(cv1::CONSENSUS_EVENT_TYPE_PEER_RECOVERED);
        break;
    }
    event->set_term(e.term);
    event->set_first_index(e.first_index);
    event->set_index(e.index);
    event->set_node_id(members.name(members.self()));
    if (e.leader != raft::kNoNode) event->set_leader_id(members.name(e.leader));
    if (e.peer != raft::kNoNode) event->set_peer_id(members.name(e.peer));
    event->set_at_unix_nanos(wall.NowNanos());
    events.Publish(event);
  };
}

}  // namespace aurigraph::refserver
