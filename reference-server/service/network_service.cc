#include "reference-server/service/network_service.h"

#include <condition_variable>
#include <map>
#include <mutex>
#include <optional>
#include <set>

#include "absl/strings/str_cat.h"
#include "aurigraph/network/v1/network.grpc.pb.h"
#include "reference-server/faults/delay_queue.h"
#include "reference-server/service/gated_service.h"

namespace aurigraph::refserver {
namespace {

namespace nv1 = network::v1;

constexpr int64_t kDeliveryDeadlineNanos = 2'000'000'000;
constexpr size_t kNetworkQueueBound = 1024;

class NetworkServiceImpl final : public GatedService<nv1::NetworkService::CallbackService> {
 public:
  NetworkServiceImpl(PeerNetwork& network, const Responder& responder, const Streaming& streaming)
      : GatedService(nv1::NetworkService::service_full_name(), responder),
        network_(network),
        responder_(responder),
        streaming_(streaming) {
    using Self = NetworkServiceImpl;
    Unary("BroadcastMessage", &Self::BroadcastMessage);
    Unary("SendDirectMessage", &Self::SendDirectMessage);
    Unary("GetPeerList", &Self::GetPeerList);
    ServerStreaming("StreamNetworkEvents", &Self::StreamNetworkEvents);
    NodeToNodeUnary("DeliverMessage", &Self::DeliverMessage);
  }

  grpc::ServerUnaryReactor* BroadcastMessage(grpc::CallbackServerContext* context,
                                             const nv1::BroadcastRequest* request,
                                             nv1::BroadcastResponse* response) override {
    grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
    network_.Broadcast(*request, [this, context, reactor, response](auto outcome) {
      responder_.Complete(context, reactor, Assign(std::move(outcome), response));
    });
    return reactor;
  }
  grpc::ServerUnaryReactor* SendDirectMessage(grpc::CallbackServerContext* context,
                                              const nv1::DirectRequest* request,
                                              nv1::DirectResponse* response) override {
    grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
    network_.SendDirect(*request, [this, context, reactor, response](auto outcome) {
      responder_.Complete(context, reactor, Assign(std::move(outcome), response));
    });
    return reactor;
  }
  grpc::ServerUnaryReactor* GetPeerList(grpc::CallbackServerContext* context,
                                        const nv1::PeerListRequest*,
                                        nv1::PeerListResponse* response) override {
    *response = network_.Peers();
    return responder_.Finish(context, absl::OkStatus());
  }
  grpc::ServerWriteReactor<nv1::NetworkEvent>* StreamNetworkEvents(
      grpc::CallbackServerContext*, const nv1::NetworkEventsRequest* request) override {
    const std::string topic = request->topic();
    const Clock& wall = streaming_.wall;
    // Payloads are up to 64 KiB: a subscriber that stops reading holds at most
    // 1,024 of them (64 MiB), not the server's event bound.
    return EventStream<nv1::NetworkEvent, nv1::NetworkEvent>::Open(
        network_.events(), streaming_.counters,
        std::min<size_t>(streaming_.options.stream_queue_bound, kNetworkQueueBound),
        [topic](const nv1::NetworkEvent& e) {
          return topic.empty() || e.message().topic() == topic;
        },
        [&wall](const nv1::NetworkEvent& e, nv1::NetworkEvent* out) {
          *out = e;
          out->set_written_at_unix_nanos(wall.NowNanos());
        });
  }
  // Node to node: not gated or fault-injected (as consensus's own RPCs are not),
  // so what a client measures is the network, not the faults of a hop.
  grpc::ServerUnaryReactor* DeliverMessage(grpc::CallbackServerContext* context,
                                           const nv1::NetworkMessage* request,
                                           nv1::DeliveryAck* response) override {
    grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
    auto ack = network_.Accept(*request);
    if (ack.ok()) {
      // Published after the acknowledgement, so the sender's delivery time is
      // the network's, not this node's subscribers'; from a copy, as the
      // request may be gone once the call is finished.
      std::optional<nv1::NetworkMessage> message;
      if (network_.events().has_subscribers()) message = *request;
      *response = *std::move(ack);
      reactor->Finish(grpc::Status::OK);
      if (message) network_.Publish(*message);
    } else {
      reactor->Finish(grpc::Status(static_cast<grpc::StatusCode>(ack.status().code()),
                                   std::string(ack.status().message())));
    }
    return reactor;
  }

 private:
  PeerNetwork& network_;
  const Responder& responder_;
  const Streaming& streaming_;
};

class GrpcPeerLink final : public PeerLink {
 public:
  GrpcPeerLink(const consensus::Membership& members, const consensus::GrpcPeerTransport& transport)
      : transport_(transport) {
    for (raft::NodeId id : members.ids()) {
      if (id != members.self()) stubs_[id] = nv1::NetworkService::NewStub(transport.channel(id));
    }
  }
  ~GrpcPeerLink() override {
    std::unique_lock lock(mutex_);
    closing_ = true;
    for (grpc::ClientContext* context : in_flight_) context->TryCancel();
    drained_.wait(lock, [this] { return in_flight_.empty(); });
  }

  // The latency the admin service adds to consensus messages delays these too:
  // one fault, the same for every message between the nodes.
  void Send(size_t peer, const nv1::NetworkMessage& message,
            std::function<void(absl::Status)> done) override {
    const int64_t latency = transport_.latency_nanos();
    if (latency <= 0) {
      SendNow(peer, message, std::move(done));
      return;
    }
    delayed_.Schedule(SteadyClock::Instance().NowNanos() + latency,
                      [this, peer, message, done = std::move(done)]() mutable {
                        SendNow(peer, message, std::move(done));
                      });
  }
  std::string State(size_t peer) const override {
    // try_to_connect: a member's channel is worth connecting, so an idle one
    // reports what it can do rather than IDLE.
    switch (transport_.channel(IdOf(peer))->GetState(true)) {
      case GRPC_CHANNEL_IDLE:
        return "IDLE";
      case GRPC_CHANNEL_CONNECTING:
        return "CONNECTING";
      case GRPC_CHANNEL_READY:
        return "READY";
      case GRPC_CHANNEL_TRANSIENT_FAILURE:
        return "TRANSIENT_FAILURE";
      case GRPC_CHANNEL_SHUTDOWN:
        return "SHUTDOWN";
    }
    return "UNKNOWN";
  }
  bool Blocked(size_t peer) const override { return transport_.Blocked(IdOf(peer)); }

 private:
  // Members are numbered by name from 1 (membership.h); PeerNetwork's from 0.
  static raft::NodeId IdOf(size_t peer) { return static_cast<raft::NodeId>(peer + 1); }

  void SendNow(size_t peer, const nv1::NetworkMessage& message,
               std::function<void(absl::Status)> done) {
    struct Call {
      grpc::ClientContext context;
      nv1::NetworkMessage request;
      nv1::DeliveryAck response;
    };
    auto call = std::make_shared<Call>();
    call->request = message;
    call->context.set_deadline(std::chrono::system_clock::now() +
                               std::chrono::nanoseconds(kDeliveryDeadlineNanos));
    {
      std::lock_guard lock(mutex_);
      if (closing_) {
        done(absl::CancelledError("the server is shutting down"));
        return;
      }
      in_flight_.insert(&call->context);
    }
    stubs_.at(IdOf(peer))
        ->async()
        ->DeliverMessage(&call->context, &call->request, &call->response,
                         [this, call, done = std::move(done)](grpc::Status s) {
                           done(s.ok() ? absl::OkStatus()
                                       : absl::Status(static_cast<absl::StatusCode>(s.error_code()),
                                                      s.error_message()));
                           std::lock_guard lock(mutex_);
                           in_flight_.erase(&call->context);
                           if (in_flight_.empty()) drained_.notify_all();
                         });
  }

  const consensus::GrpcPeerTransport& transport_;
  std::map<raft::NodeId, std::unique_ptr<nv1::NetworkService::Stub>> stubs_;
  std::mutex mutex_;
  std::condition_variable drained_;
  std::set<grpc::ClientContext*> in_flight_;
  bool closing_ = false;
  // Last, so destroyed first: messages it still holds are sent (refused, as
  // closing_ is set by then) while the rest of the link is alive.
  DelayQueue delayed_{SteadyClock::Instance()};
};

}  // namespace

std::unique_ptr<grpc::Service> MakeNetworkService(PeerNetwork& network, const Responder& responder,
                                                  const Streaming& streaming) {
  return std::make_unique<NetworkServiceImpl>(network, responder, streaming);
}

std::unique_ptr<PeerLink> MakeGrpcPeerLink(const consensus::Membership& members,
                                           const consensus::GrpcPeerTransport& transport) {
  return std::make_unique<GrpcPeerLink>(members, transport);
}

}  // namespace aurigraph::refserver
