// Interaction tests of the Raft core, one rule each: scripted elections,
// partitions, crashes and deliveries over the in-process network.
#include <gtest/gtest.h>

#include <map>
#include <string>

#include "tests/unit/raft_network.h"

namespace aurigraph::raft {
namespace {

using testing::Network;

constexpr int kElection = 10;

Config Base() {
  Config c;
  c.election_ticks = kElection;
  return c;
}

NodeId ElectLeader(Network& net) {
  for (int i = 0; i < 10 * kElection && !net.Leader(); ++i) net.Tick();
  EXPECT_TRUE(net.Leader().has_value());
  return net.Leader().value_or(kNoNode);
}

NodeId AnotherThan(const Network& net, NodeId id) {
  return id == net.ids()[0] ? net.ids()[1] : net.ids()[0];
}

TEST(Raft, OneLeaderIsElectedAndPreVoteRaisesNoTerm) {
  Network net(3, 1, Base());
  const NodeId leader = ElectLeader(net);
  net.Ticks(3 * kElection);
  EXPECT_EQ(net.Leader(), leader);
  for (NodeId id : net.ids()) {
    EXPECT_EQ(net.node(id).status().term, 1u) << id;
    EXPECT_EQ(net.node(id).status().leader, leader) << id;
  }
  EXPECT_TRUE(net.failures().empty()) << net.failures();
}

TEST(Raft, APartitionedNodeRejoiningDoesNotDeposeAHealthyLeader) {
  Network net(3, 2, Base());
  const NodeId leader = ElectLeader(net);
  const NodeId follower = AnotherThan(net, leader);
  const uint64_t term = net.node(leader).status().term;
  net.Isolate(follower);
  net.Ticks(10 * kElection);
  EXPECT_EQ(net.node(follower).status().term, term) << "pre-votes that fail change no term";
  net.Heal();
  net.Ticks(3 * kElection);
  EXPECT_EQ(net.Leader(), leader);
  EXPECT_EQ(net.node(leader).status().term, term);
}

TEST(Raft, WithoutPreVoteARejoiningNodeDeposesTheLeader) {
  Config config = Base();
  config.pre_vote = false;
  config.check_quorum = false;
  Network net(3, 2, config);
  const NodeId leader = ElectLeader(net);
  const NodeId follower = AnotherThan(net, leader);
  const uint64_t term = net.node(leader).status().term;
  net.Isolate(follower);
  net.Ticks(10 * kElection);
  EXPECT_GT(net.node(follower).status().term, term + 3);
  net.Heal();
  net.Ticks(3 * kElection);
  EXPECT_GT(net.node(leader).status().term, term) << "the contrast the pre-vote test relies on";
}

TEST(Raft, ALeaderCutOffFromTheMajorityStepsDown) {
  Network net(3, 3, Base());
  const NodeId old_leader = ElectLeader(net);
  net.Isolate(old_leader);
  net.Ticks(4 * kElection);
  EXPECT_NE(net.node(old_leader).status().role, Role::kLeader) << "check-quorum";
  const auto leader = net.Leader();
  ASSERT_TRUE(leader.has_value());
  EXPECT_NE(*leader, old_leader);
  EXPECT_TRUE(net.failures().empty()) << net.failures();
}

TEST(Raft, ADivergentLogIsRepairedByBackingOffWholeTerms) {
  Network net(3, 4, Base());
  const NodeId old_leader = ElectLeader(net);
  net.Isolate(old_leader);
  for (int i = 0; i < 50; ++i) net.Propose(old_leader, "lost" + std::to_string(i));
  net.Ticks(4 * kElection);
  const NodeId leader = net.Leader().value();
  ASSERT_NE(leader, old_leader);
  for (int i = 0; i < 50; ++i) net.Propose(leader, "kept" + std::to_string(i));
  int rejections = 0;
  net.DropIf([&](const Message& m) {
    if (m.type == MessageType::kAppendResponse && m.reject && m.from == old_leader) ++rejections;
    return false;
  });
  net.Heal();
  net.Ticks(3 * kElection);
  EXPECT_LE(rejections, 2) << "50 divergent entries of one term cost one probe, not 50";
  EXPECT_EQ(net.member(old_leader).applied_index, net.member(leader).applied_index);
  EXPECT_EQ(net.member(old_leader).applied, net.member(leader).applied);
  EXPECT_EQ(net.member(old_leader).applied.back(), "kept49");
  EXPECT_TRUE(net.failures().empty()) << net.failures();
}

// The Raft paper's figure 8: an entry of an earlier term stored on a majority
// is not committed by counting, only once an entry of the leader's term is.
TEST(Raft, AnEarlierTermsEntryCommitsOnlyThroughOneOfTheLeadersTerm) {
  Config config = Base();
  config.max_bytes_per_append = 1;  // one entry per append, so they can be told apart
  Network net(3, 5, config);
  for (NodeId id : net.ids()) net.Crash(id);
  auto& s1 = net.member(1).disk;
  s1.hard_state = HardState{3, kNoNode, 1};
  s1.entries = {Entry{1, 1, "a"}, Entry{2, 2, "bb"}};
  for (NodeId id : {2, 3}) {
    net.member(id).disk.hard_state = HardState{3, kNoNode, 1};
    net.member(id).disk.entries = {Entry{1, 1, "a"}};
  }
  for (NodeId id : net.ids()) net.Restart(id);
  // The first append to each follower probes at index 2 and is refused; every
  // later one carrying index 3 is lost.
  std::map<NodeId, int> carrying_3;
  net.DropIf([&](const Message& m) {
    if (m.type != MessageType::kAppend || m.entries.empty() || m.entries.front().index != 3) {
      return false;
    }
    return ++carrying_3[m.to] > 1;
  });
  net.node(1).Campaign();
  net.Settle();
  ASSERT_EQ(net.Leader(), 1u);
  EXPECT_EQ(net.node(1).status().term, 4u);
  for (NodeId id : {2, 3}) EXPECT_EQ(net.node(id).status().last_index, 2u) << id;
  EXPECT_EQ(net.node(1).status().commit, 1u)
      << "index 2 (term 2) is on all three, yet not committed";
  net.DropIf(nullptr);
  net.Ticks(kElection);  // the lost appends are noticed as stalled and sent again
  EXPECT_EQ(net.node(1).status().commit, 3u);
  EXPECT_EQ(net.member(2).applied_index, 3u);
}

TEST(Raft, AFollowerBehindTheCompactedLogCatchesUpFromASnapshot) {
  Network net(3, 6, Base());
  net.set_compaction(5);
  const NodeId leader = ElectLeader(net);
  const NodeId lagging = AnotherThan(net, leader);
  net.Crash(lagging);
  for (int i = 0; i < 30; ++i) net.Propose(leader, "p" + std::to_string(i));
  EXPECT_GT(net.node(leader).snapshot().index, 20u);
  net.Restart(lagging);
  net.Ticks(3 * kElection);
  EXPECT_GE(net.sent(MessageType::kSnapshot), 1);
  EXPECT_EQ(net.member(lagging).applied_index, net.member(leader).applied_index);
  EXPECT_EQ(net.member(lagging).applied.back(), "p29");
  EXPECT_GT(net.node(lagging).snapshot().index, 0u);
  EXPECT_TRUE(net.failures().empty()) << net.failures();
}

TEST(Raft, LeadershipIsTransferredOnceTheTransfereeHasCaughtUp) {
  Network net(3, 7, Base());
  const NodeId leader = ElectLeader(net);
  const NodeId transferee = AnotherThan(net, leader);
  const uint64_t term = net.node(leader).status().term;
  net.Cut(leader, transferee);
  for (int i = 0; i < 5; ++i) net.Propose(leader, "p" + std::to_string(i));
  EXPECT_LT(net.node(transferee).status().last_index, net.node(leader).status().last_index);
  net.Heal();
  net.node(leader).TransferLeadership(transferee);
  EXPECT_FALSE(net.Propose(leader, "during").has_value()) << "proposals wait for the transfer";
  net.Ticks(3);
  EXPECT_EQ(net.Leader(), transferee);
  EXPECT_EQ(net.node(transferee).status().term, term + 1);
  EXPECT_TRUE(net.Propose(transferee, "after").has_value());
  net.Ticks(2);
  EXPECT_EQ(net.member(leader).applied.back(), "after");
}

TEST(Raft, AppendsArePipelinedUpToTheInflightLimit) {
  Config config = Base();
  config.max_inflight = 4;
  Network net(3, 8, config);
  const NodeId leader = ElectLeader(net);
  const NodeId follower = AnotherThan(net, leader);
  int before_reply = 0;
  bool replied = false;
  net.DropIf([&](const Message& m) {
    if (m.type == MessageType::kAppendResponse && m.from == follower) replied = true;
    if (m.type == MessageType::kAppend && m.to == follower && !m.entries.empty() && !replied) {
      ++before_reply;
    }
    return false;
  });
  for (int i = 0; i < 6; ++i) net.node(leader).Propose("p" + std::to_string(i));
  net.Settle();
  EXPECT_EQ(before_reply, 4) << "four appends in flight before the first answer, and no more";
  net.Ticks(2);
  EXPECT_EQ(net.member(follower).applied.back(), "p5");
}

TEST(Raft, AVoteIsPersistedBeforeItIsSent) {
  Config config = Base();
  config.id = 2;
  config.voters = {1, 2, 3};
  Node node(config);
  Message vote;
  vote.type = MessageType::kVote;
  vote.from = 1;
  vote.to = 2;
  vote.term = 1;
  node.Step(vote);
  const Ready ready = node.GetReady();
  ASSERT_EQ(ready.messages.size(), 1u);
  EXPECT_EQ(ready.messages[0].type, MessageType::kVoteResponse);
  EXPECT_FALSE(ready.messages[0].reject);
  ASSERT_TRUE(ready.hard_state.has_value());
  EXPECT_EQ(ready.hard_state->vote, 1u);
  EXPECT_EQ(ready.hard_state->term, 1u);
}

TEST(Raft, MessagesFromStrangersStaleTermsAndImpossibleIndicesChangeNothing) {
  Network net(3, 9, Base());
  const NodeId leader = ElectLeader(net);
  const NodeId follower = AnotherThan(net, leader);
  net.Propose(leader, "p");
  const Status before = net.node(follower).status();

  Message stranger;
  stranger.type = MessageType::kAppend;
  stranger.from = 99;
  stranger.to = follower;
  stranger.term = before.term + 5;
  stranger.entries = {Entry{before.term + 5, before.last_index + 1, "forged"}};
  stranger.index = before.last_index;
  stranger.log_term = before.term;
  net.node(follower).Step(stranger);
  EXPECT_FALSE(net.node(follower).HasReady()) << "a message from no member is ignored";

  Message stale = stranger;
  stale.from = leader;
  stale.term = before.term - 1;
  net.node(follower).Step(stale);
  Ready ready = net.node(follower).GetReady();
  ASSERT_EQ(ready.messages.size(), 1u);
  EXPECT_EQ(ready.messages[0].term, before.term) << "a stale sender learns the term";
  EXPECT_TRUE(ready.entries.empty());
  net.node(follower).Advance(ready);

  Message impossible;
  impossible.type = MessageType::kAppend;
  impossible.from = leader;
  impossible.to = follower;
  impossible.term = before.term;
  impossible.index = 1'000'000;
  impossible.log_term = before.term;
  impossible.entries = {Entry{before.term, 1'000'001, "far"}};
  net.node(follower).Step(impossible);
  ready = net.node(follower).GetReady();
  ASSERT_EQ(ready.messages.size(), 1u);
  EXPECT_TRUE(ready.messages[0].reject);
  EXPECT_LE(ready.messages[0].reject_hint, before.last_index);
  EXPECT_TRUE(ready.entries.empty());
  net.node(follower).Advance(ready);
  EXPECT_EQ(net.node(follower).status().last_index, before.last_index);
}

}  // namespace
}  // namespace aurigraph::raft
