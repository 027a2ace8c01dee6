#include "reference-server/network/peer_network.h"

#include <algorithm>
#include <mutex>
#include <utility>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"

namespace aurigraph::refserver {

namespace nv1 = network::v1;

namespace {

constexpr size_t kMaxTopicBytes = 128;
constexpr size_t kMaxPayloadBytes = 64 * 1024;

}  // namespace

absl::Status CheckMessage(const std::string& topic, const std::string& payload) {
  if (topic.empty() || topic.size() > kMaxTopicBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("topic: ", topic.size(), " bytes; 1-", kMaxTopicBytes, " are allowed"));
  }
  if (std::any_of(topic.begin(), topic.end(),
                  [](char c) { return static_cast<unsigned char>(c) < 0x20 || c == 0x7f; })) {
    return absl::InvalidArgumentError(
        absl::StrCat("topic: '", absl::CHexEscape(topic), "' holds an ASCII control character"));
  }
  if (payload.size() > kMaxPayloadBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("payload: ", payload.size(), " bytes, more than ", kMaxPayloadBytes));
  }
  return absl::OkStatus();
}

PeerNetwork::PeerNetwork(std::vector<Member> members, size_t self, PeerLink* link,
                         const Clock& wall, const Clock& monotonic)
    : members_(std::move(members)),
      self_(self),
      link_(link),
      wall_(wall),
      monotonic_(monotonic),
      started_ms_(wall.NowNanos() / 1'000'000) {
  for (size_t i = 0; i < members_.size(); ++i) counters_.push_back(std::make_unique<Counters>());
  self_address_ = members_[self_].address;
}

void PeerNetwork::SetSelfAddress(std::string address) {
  std::lock_guard lock(address_mutex_);
  self_address_ = std::move(address);
}

nv1::NetworkMessage PeerNetwork::Stamp(const std::string& topic, const std::string& payload,
                                       bool broadcast) {
  nv1::NetworkMessage message;
  message.set_message_id(absl::StrCat(members_[self_].name, "-", started_ms_, "-",
                                      next_id_.fetch_add(1, std::memory_order_relaxed) + 1));
  message.set_from_node(members_[self_].name);
  message.set_topic(topic);
  message.set_payload(payload);
  message.set_sent_at_unix_nanos(wall_.NowNanos());
  message.set_broadcast(broadcast);
  return message;
}

void PeerNetwork::DeliverTo(size_t member, const nv1::NetworkMessage& message,
                            std::function<void(nv1::Delivery)> done) {
  const int64_t start = monotonic_.NowNanos();
  auto finish = [this, member, start, done = std::move(done)](const absl::Status& status) {
    nv1::Delivery delivery;
    delivery.set_node_id(members_[member].name);
    delivery.set_delivered(status.ok());
    Counters& c = *counters_[member];
    if (status.ok()) {
      const int64_t latency = monotonic_.NowNanos() - start;
      delivery.set_latency_nanos(latency);
      c.sent.fetch_add(1, std::memory_order_relaxed);
      c.last_latency_nanos.store(latency, std::memory_order_relaxed);
    } else {
      delivery.set_error(
          absl::StrCat(absl::StatusCodeToString(status.code()), ": ", status.message()));
      c.failed.fetch_add(1, std::memory_order_relaxed);
    }
    done(std::move(delivery));
  };
  if (member == self_) {  // in process
    counters_[self_]->received.fetch_add(1, std::memory_order_relaxed);
    Publish(message);
    finish(absl::OkStatus());
  } else if (link_->Blocked(member)) {
    finish(absl::UnavailableError(
        absl::StrCat("partitioned from ", members_[member].name, " (fault injection)")));
  } else {
    link_->Send(member, message, std::move(finish));
  }
}

void PeerNetwork::Broadcast(const nv1::BroadcastRequest& request,
                            Done<nv1::BroadcastResponse> done) {
  if (auto ok = CheckMessage(request.topic(), request.payload()); !ok.ok()) {
    done(ok);
    return;
  }
  const nv1::NetworkMessage message = Stamp(request.topic(), request.payload(), true);
  // Filled in as deliveries finish, in any order; answered by the last.
  struct Pending {
    std::mutex mutex;
    nv1::BroadcastResponse response;
    size_t left;
    Done<nv1::BroadcastResponse> done;
  };
  auto pending = std::make_shared<Pending>();
  pending->response.set_message_id(message.message_id());
  for (size_t i = 0; i < members_.size(); ++i) pending->response.add_deliveries();
  pending->left = members_.size();
  pending->done = std::move(done);
  for (size_t i = 0; i < members_.size(); ++i) {
    DeliverTo(i, message, [pending, i](nv1::Delivery delivery) {
      bool last = false;
      {
        std::lock_guard lock(pending->mutex);
        auto& response = pending->response;
        if (delivery.delivered()) {
          response.set_delivered(response.delivered() + 1);
        } else {
          response.set_failed(response.failed() + 1);
        }
        *response.mutable_deliveries(static_cast<int>(i)) = std::move(delivery);
        last = --pending->left == 0;
      }
      if (last) pending->done(std::move(pending->response));
    });
  }
}

void PeerNetwork::SendDirect(const nv1::DirectRequest& request, Done<nv1::DirectResponse> done) {
  if (auto ok = CheckMessage(request.topic(), request.payload()); !ok.ok()) {
    done(ok);
    return;
  }
  const auto member = std::find_if(members_.begin(), members_.end(),
                                   [&](const Member& m) { return m.name == request.node_id(); });
  if (member == members_.end()) {
    done(absl::NotFoundError(absl::StrCat("node_id: '", absl::CHexEscape(request.node_id()),
                                          "' is not a member (see GetPeerList)")));
    return;
  }
  const nv1::NetworkMessage message = Stamp(request.topic(), request.payload(), false);
  DeliverTo(static_cast<size_t>(member - members_.begin()), message,
            [id = message.message_id(), done = std::move(done)](nv1::Delivery delivery) {
              nv1::DirectResponse response;
              response.set_message_id(id);
              *response.mutable_delivery() = std::move(delivery);
              done(std::move(response));
            });
}

absl::StatusOr<nv1::DeliveryAck> PeerNetwork::Accept(const nv1::NetworkMessage& message) {
  const auto member = std::find_if(members_.begin(), members_.end(),
                                   [&](const Member& m) { return m.name == message.from_node(); });
  if (member == members_.end()) {
    return absl::PermissionDeniedError(
        absl::StrCat("from_node: '", absl::CHexEscape(message.from_node()), "' is not a member"));
  }
  const size_t from = static_cast<size_t>(member - members_.begin());
  if (from == self_) {
    return absl::PermissionDeniedError(absl::StrCat(
        "from_node: '", message.from_node(), "' is this node (it delivers to itself in process)"));
  }
  if (link_->Blocked(from)) {
    return absl::UnavailableError(
        absl::StrCat("partitioned from ", message.from_node(), " (fault injection)"));
  }
  if (auto ok = CheckMessage(message.topic(), message.payload()); !ok.ok()) return ok;
  counters_[from]->received.fetch_add(1, std::memory_order_relaxed);
  nv1::DeliveryAck ack;
  ack.set_node_id(members_[self_].name);
  return ack;
}

void PeerNetwork::Publish(const nv1::NetworkMessage& message) {
  if (!events_.has_subscribers()) return;
  auto event = std::make_shared<nv1::NetworkEvent>();
  *event->mutable_message() = message;
  std::lock_guard lock(publish_mutex_);
  event->set_received_at_unix_nanos(wall_.NowNanos());
  events_.Publish(event);
}

nv1::PeerListResponse PeerNetwork::Peers() const {
  nv1::PeerListResponse out;
  out.set_self(members_[self_].name);
  for (size_t i = 0; i < members_.size(); ++i) {
    nv1::Peer* peer = out.add_peers();
    peer->set_node_id(members_[i].name);
    if (i == self_) {
      std::lock_guard lock(address_mutex_);
      peer->set_address(self_address_);
    } else {
      peer->set_address(members_[i].address);
    }
    peer->set_self(i == self_);
    peer->set_state(i == self_ ? "SELF" : link_->Blocked(i) ? "PARTITIONED" : link_->State(i));
    const Counters& c = *counters_[i];
    peer->set_messages_sent(c.sent.load(std::memory_order_relaxed));
    peer->set_messages_received(c.received.load(std::memory_order_relaxed));
    peer->set_send_failures(c.failed.load(std::memory_order_relaxed));
    peer->set_last_latency_nanos(c.last_latency_nanos.load(std::memory_order_relaxed));
  }
  return out;
}

}  // namespace aurigraph::refserver
