// The messages behind NetworkService: broadcast to every member of the cluster
// or sent to one, each delivery timed from the send to the member's
// acknowledgement; messages received are counted per member and published to
// `events()`. A message to this node itself is delivered in process. How a
// message reaches another node is a PeerLink (gRPC in the server, a fake in
// tests). A single server is a cluster of one. Thread-safe; time is injected.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "aurigraph/network/v1/network.pb.h"
#include "common/clock/clock.h"
#include "reference-server/streams/event_stream.h"

namespace aurigraph::refserver {

class PeerLink {
 public:
  virtual ~PeerLink() = default;
  // Hands `message` to member `peer` (an index into the members); `done`
  // gets the outcome, on any thread.
  virtual void Send(size_t peer, const network::v1::NetworkMessage& message,
                    std::function<void(absl::Status)> done) = 0;
  // The connection's state (network.proto's Peer.state).
  virtual std::string State(size_t peer) const = 0;
  // Cut off by fault injection: nothing goes to it or comes from it.
  virtual bool Blocked(size_t peer) const = 0;
};

class PeerNetwork {
 public:
  struct Member {
    std::string name;
    std::string address;
  };
  struct Counters {
    std::atomic<int64_t> sent{0}, received{0}, failed{0}, last_latency_nanos{0};
  };
  template <typename T>
  using Done = std::function<void(absl::StatusOr<T>)>;
  using Events = EventHub<network::v1::NetworkEvent>;

  // `members` in name order, `self` the index of this node; `link` reaches
  // the others (nullptr when there are none). `wall` stamps messages;
  // `monotonic` times deliveries.
  PeerNetwork(std::vector<Member> members, size_t self, PeerLink* link, const Clock& wall,
              const Clock& monotonic);

  void Broadcast(const network::v1::BroadcastRequest& request,
                 Done<network::v1::BroadcastResponse> done);
  void SendDirect(const network::v1::DirectRequest& request,
                  Done<network::v1::DirectResponse> done);
  network::v1::PeerListResponse Peers() const;
  // A message another member delivered here: Accept checks and counts it
  // (refusing a sender that is not a member, or is this node), Publish hands
  // it to the subscribers (after the sender has its answer).
  absl::StatusOr<network::v1::DeliveryAck> Accept(const network::v1::NetworkMessage& message);
  void Publish(const network::v1::NetworkMessage& message);

  // This node's address once it is known (a server bound to port 0).
  void SetSelfAddress(std::string address);

  Events& events() { return events_; }
  const std::vector<Member>& members() const { return members_; }
  const Counters& counters(size_t member) const { return *counters_[member]; }

 private:
  network::v1::NetworkMessage Stamp(const std::string& topic, const std::string& payload,
                                    bool broadcast);
  // Delivers to one member; `done` gets its Delivery.
  void DeliverTo(size_t member, const network::v1::NetworkMessage& message,
                 std::function<void(network::v1::Delivery)> done);

  const std::vector<Member> members_;
  const size_t self_;
  PeerLink* const link_;
  const Clock& wall_;
  const Clock& monotonic_;
  std::vector<std::unique_ptr<Counters>> counters_;  // per member
  const int64_t started_ms_;  // in message ids, so that a restart does not repeat them
  std::atomic<uint64_t> next_id_{0};
  std::mutex publish_mutex_;  // received_at stamps in publication order
  mutable std::mutex address_mutex_;
  std::string self_address_;
  Events events_;
};

// INVALID_ARGUMENT naming the field when a topic or payload is out of bounds.
absl::Status CheckMessage(const std::string& topic, const std::string& payload);

}  // namespace aurigraph::refserver
