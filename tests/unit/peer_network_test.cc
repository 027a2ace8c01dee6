// NetworkService's messages between members, over a link that hands them to
// the other members' PeerNetwork in process (the server's is gRPC): broadcasts
// reach every member and report each delivery, direct messages reach one,
// partitions and unknown senders are refused, and a single server is a
// cluster of one.
#include "reference-server/network/peer_network.h"

#include <gtest/gtest.h>

#include <set>
#include <string>
#include <vector>

namespace aurigraph::refserver {
namespace {

namespace nv1 = network::v1;

// Hands a message to the receiving member's network at once, like a link
// whose RPC answered; `blocked` members are cut off.
class InProcessLink final : public PeerLink {
 public:
  void Send(size_t peer, const nv1::NetworkMessage& message,
            std::function<void(absl::Status)> done) override {
    PeerNetwork& to = *(*nodes)[peer];
    auto ack = to.Accept(message);
    if (ack.ok()) to.Publish(message);
    done(ack.status());
  }
  std::string State(size_t) const override { return "READY"; }
  bool Blocked(size_t peer) const override { return blocked.contains(peer); }

  std::vector<std::unique_ptr<PeerNetwork>>* nodes = nullptr;
  std::set<size_t> blocked;
};

class Collector final : public PeerNetwork::Events::Subscriber {
 public:
  void Deliver(const std::shared_ptr<const nv1::NetworkEvent>& event) override {
    events.push_back(*event);
  }
  std::vector<nv1::NetworkEvent> events;
};

struct Cluster {
  explicit Cluster(size_t n) : links(n) {
    for (size_t i = 0; i < n; ++i) {
      members.push_back({"n" + std::to_string(i + 1), "127.0.0.1:" + std::to_string(5000 + i)});
    }
    for (size_t i = 0; i < n; ++i) {
      links[i].nodes = &nodes;
      nodes.push_back(std::make_unique<PeerNetwork>(members, i, &links[i], wall, monotonic));
      collectors.push_back(std::make_shared<Collector>());
      nodes[i]->events().Add(collectors[i]);
    }
  }
  template <typename T>
  static T Await(std::function<void(PeerNetwork::Done<T>)> start) {
    absl::StatusOr<T> got = absl::UnknownError("no answer");
    start([&got](absl::StatusOr<T> outcome) { got = std::move(outcome); });
    EXPECT_TRUE(got.ok()) << got.status();
    return got.ok() ? *got : T();
  }
  nv1::BroadcastResponse Broadcast(size_t from, const std::string& topic) {
    nv1::BroadcastRequest request;
    request.set_topic(topic);
    request.set_payload("payload");
    return Await<nv1::BroadcastResponse>(
        [&](auto done) { nodes[from]->Broadcast(request, std::move(done)); });
  }
  nv1::DirectResponse Direct(size_t from, const std::string& to) {
    nv1::DirectRequest request;
    request.set_node_id(to);
    request.set_topic("direct");
    return Await<nv1::DirectResponse>(
        [&](auto done) { nodes[from]->SendDirect(request, std::move(done)); });
  }

  ManualClock wall{1'700'000'000'000'000'000};
  ManualClock monotonic{1'000};
  std::vector<PeerNetwork::Member> members;
  std::vector<InProcessLink> links;
  std::vector<std::unique_ptr<PeerNetwork>> nodes;
  std::vector<std::shared_ptr<Collector>> collectors;
};

TEST(PeerNetwork, BroadcastReachesEveryMemberAndReportsEachDelivery) {
  Cluster c(3);
  const auto sent = c.Broadcast(0, "blocks");
  EXPECT_EQ(sent.message_id(), "n1-1700000000000-1");  // name, start (Unix ms), number
  EXPECT_EQ(sent.delivered(), 3);
  EXPECT_EQ(sent.failed(), 0);
  ASSERT_EQ(sent.deliveries_size(), 3);
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(sent.deliveries(i).node_id(), "n" + std::to_string(i + 1));
    EXPECT_TRUE(sent.deliveries(i).delivered());
    ASSERT_EQ(c.collectors[i]->events.size(), 1u);
    const auto& m = c.collectors[i]->events[0].message();
    EXPECT_EQ(m.from_node(), "n1");
    EXPECT_EQ(m.topic(), "blocks");
    EXPECT_EQ(m.payload(), "payload");
    EXPECT_TRUE(m.broadcast());
  }
  const auto peers = c.nodes[1]->Peers();
  EXPECT_EQ(peers.self(), "n2");
  EXPECT_EQ(peers.peers(0).messages_received(), 1);  // from n1
  EXPECT_EQ(peers.peers(1).state(), "SELF");
  EXPECT_EQ(c.nodes[0]->Peers().peers(2).messages_sent(), 1);
}

TEST(PeerNetwork, DirectMessagesReachOneMember) {
  Cluster c(3);
  const auto sent = c.Direct(0, "n3");
  EXPECT_TRUE(sent.delivery().delivered());
  EXPECT_EQ(sent.delivery().node_id(), "n3");
  EXPECT_TRUE(c.collectors[1]->events.empty());
  ASSERT_EQ(c.collectors[2]->events.size(), 1u);
  EXPECT_FALSE(c.collectors[2]->events[0].message().broadcast());
  nv1::DirectRequest unknown;
  unknown.set_node_id("n9");
  unknown.set_topic("t");
  absl::Status status;
  c.nodes[0]->SendDirect(unknown, [&](auto outcome) { status = outcome.status(); });
  EXPECT_EQ(status.code(), absl::StatusCode::kNotFound);
}

TEST(PeerNetwork, PartitionsAndStrangersAreRefused) {
  Cluster c(3);
  c.links[0].blocked = {2};  // n1 cut off from n3
  const auto sent = c.Broadcast(0, "t");
  EXPECT_EQ(sent.delivered(), 2);
  EXPECT_EQ(sent.failed(), 1);
  EXPECT_FALSE(sent.deliveries(2).delivered());
  EXPECT_NE(sent.deliveries(2).error().find("partitioned from n3"), std::string::npos);
  EXPECT_EQ(c.nodes[0]->Peers().peers(2).state(), "PARTITIONED");
  EXPECT_EQ(c.nodes[0]->Peers().peers(2).send_failures(), 1);
  // n3 refuses what n1 sends while n3's own link has n1 cut off.
  c.links[2].blocked = {0};
  nv1::NetworkMessage from_n1;
  from_n1.set_from_node("n1");
  from_n1.set_topic("t");
  EXPECT_EQ(c.nodes[2]->Accept(from_n1).status().code(), absl::StatusCode::kUnavailable);
  nv1::NetworkMessage stranger;
  stranger.set_from_node("mallory");
  stranger.set_topic("t");
  EXPECT_EQ(c.nodes[1]->Accept(stranger).status().code(), absl::StatusCode::kPermissionDenied);
  nv1::NetworkMessage itself;  // over the wire, a node's own name is a forgery
  itself.set_from_node("n2");
  itself.set_topic("t");
  EXPECT_EQ(c.nodes[1]->Accept(itself).status().code(), absl::StatusCode::kPermissionDenied);
}

TEST(PeerNetwork, MessagesAreBounded) {
  Cluster c(1);
  for (const auto& [topic, payload] : std::vector<std::pair<std::string, std::string>>{
           {"", "x"}, {std::string(129, 't'), ""}, {"a\nb", ""}, {"t", std::string(65537, 'p')}}) {
    nv1::BroadcastRequest request;
    request.set_topic(topic);
    request.set_payload(payload);
    absl::Status status;
    c.nodes[0]->Broadcast(request, [&](auto outcome) { status = outcome.status(); });
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << topic.size();
  }
}

TEST(PeerNetwork, ASingleServerIsAClusterOfOne) {
  ManualClock clock{1};
  PeerNetwork alone({{"self", "127.0.0.1:0"}}, 0, nullptr, clock, clock);
  alone.SetSelfAddress("127.0.0.1:5099");
  auto collector = std::make_shared<Collector>();
  alone.events().Add(collector);
  absl::StatusOr<nv1::BroadcastResponse> sent;
  nv1::BroadcastRequest request;
  request.set_topic("t");
  alone.Broadcast(request, [&](auto outcome) { sent = std::move(outcome); });
  ASSERT_TRUE(sent.ok());
  EXPECT_EQ(sent->delivered(), 1);
  EXPECT_EQ(collector->events.size(), 1u);
  const auto peers = alone.Peers();
  ASSERT_EQ(peers.peers_size(), 1);
  EXPECT_EQ(peers.peers(0).address(), "127.0.0.1:5099");
  EXPECT_TRUE(peers.peers(0).self());
}

}  // namespace
}  // namespace aurigraph::refserver
