// Randomized simulation of 3- and 5-node Raft clusters in virtual time: seeded
// message loss, duplication, reordering and delay, partitions that come and
// go, crashes that lose what was not persisted, restarts, compaction and
// leadership transfers. The safety properties are checked after every step
// (raft_network.h); once the faults stop, a leader must be elected and a
// proposal must commit everywhere within a bounded number of ticks.
//
// RAFT_SIM_SEEDS=N runs N seeds (default 2000); RAFT_SIM_SEED=S replays one.
#include <gtest/gtest.h>

#include <cstdlib>
#include <random>
#include <string>

#include "tests/unit/raft_network.h"

namespace aurigraph::raft {
namespace {

using testing::Network;
using testing::NetworkFaults;

constexpr int kElectionTicks = 10;
constexpr int kFaultTicks = 300;
constexpr int kLeaderBound = 20 * kElectionTicks;  // ticks to a leader once faults stop
constexpr int kCommitBound = 5 * kElectionTicks;   // ticks to commit everywhere after that

// The outcome of one seed: empty when every check held.
std::string RunSeed(uint64_t seed) {
  std::mt19937_64 random(seed);
  auto chance = [&](double p) { return std::bernoulli_distribution(p)(random); };
  auto pick = [&](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(random); };
  const int size = seed % 2 == 0 ? 3 : 5;
  Config config;
  config.election_ticks = kElectionTicks;
  config.max_inflight = static_cast<size_t>(pick(1, 8));
  config.max_bytes_per_append =
      chance(0.5) ? 1 : static_cast<uint64_t>(pick(8, 64));  // one or a few entries per append
  Network net(size, seed, config);
  net.set_faults(NetworkFaults{std::uniform_real_distribution<double>(0, 0.2)(random),
                               std::uniform_real_distribution<double>(0, 0.1)(random), pick(0, 3)});
  net.set_defer_probability(std::uniform_real_distribution<double>(0, 0.3)(random));
  net.set_compaction(chance(0.5) ? static_cast<uint64_t>(pick(3, 30)) : 0);
  net.set_crash_mid_ready(std::uniform_real_distribution<double>(0, 0.01)(random));
  net.set_crash_after_ready(std::uniform_real_distribution<double>(0, 0.01)(random));
  const double crash = std::uniform_real_distribution<double>(0, 0.02)(random);
  int proposals = 0;
  auto propose_somewhere = [&] {
    const std::optional<NodeId> leader = net.Leader();
    const NodeId to = leader && chance(0.8) ? *leader : static_cast<NodeId>(pick(1, size));
    net.Propose(to, "s" + std::to_string(seed) + "-p" + std::to_string(++proposals));
  };

  for (int tick = 0; tick < kFaultTicks && net.failures().empty(); ++tick) {
    if (chance(0.3)) propose_somewhere();
    if (chance(0.02)) {
      net.Heal();
      if (chance(0.7)) {
        for (NodeId a : net.ids()) {
          for (NodeId b : net.ids()) {
            if (a < b && chance(0.3)) net.Cut(a, b);
          }
        }
      }
    }
    for (NodeId id : net.ids()) {
      if (net.member(id).up && chance(crash)) net.Crash(id);
      if (!net.member(id).up && chance(0.1)) net.Restart(id);
    }
    if (const auto leader = net.Leader(); leader && chance(0.005)) {
      net.node(*leader).TransferLeadership(static_cast<NodeId>(pick(1, size)));
    }
    net.Tick();
  }
  if (!net.failures().empty()) return net.failures();

  // The faults stop: everyone up, connected, persisting at once.
  net.set_faults({});
  net.set_defer_probability(0);
  net.set_crash_mid_ready(0);
  net.set_crash_after_ready(0);
  net.Heal();
  for (NodeId id : net.ids()) {
    if (!net.member(id).up) net.Restart(id);
  }
  std::optional<Proposal> final_proposal;
  NodeId proposer = 0;
  for (int tick = 0; tick < kLeaderBound && !final_proposal; ++tick) {
    net.Tick();
    if (const auto leader = net.Leader()) {
      final_proposal = net.Propose(*leader, "s" + std::to_string(seed) + "-final");
      proposer = *leader;
    }
  }
  if (!final_proposal)
    return "no leader took a proposal within " + std::to_string(kLeaderBound) +
           " ticks of the faults stopping\n" + net.failures();
  for (int tick = 0; tick < kCommitBound; ++tick) {
    bool everywhere = true;
    for (NodeId id : net.ids()) {
      everywhere = everywhere && net.member(id).applied_index >= final_proposal->index;
    }
    if (everywhere) break;
    net.Tick();
  }
  std::string outcome = net.failures();
  for (NodeId id : net.ids()) {
    const auto& m = net.member(id);
    if (m.applied_index < final_proposal->index) {
      outcome += "node " + std::to_string(id) + " applied only " + std::to_string(m.applied_index) +
                 " of " + std::to_string(final_proposal->index) + " within " +
                 std::to_string(kCommitBound) + " ticks\n";
    } else if (m.applied[final_proposal->index] != "s" + std::to_string(seed) + "-final") {
      outcome += "the proposal leader " + std::to_string(proposer) + " accepted at index " +
                 std::to_string(final_proposal->index) + " was lost on node " + std::to_string(id) +
                 "\n";
    }
  }
  return outcome;
}

TEST(RaftSimulation, SafetyHoldsUnderFaultsAndProgressResumesWhenTheyStop) {
  uint64_t first = 1;
  uint64_t count = 2000;
  if (const char* seeds = std::getenv("RAFT_SIM_SEEDS")) count = std::strtoull(seeds, nullptr, 10);
  if (const char* seed = std::getenv("RAFT_SIM_SEED")) {
    first = std::strtoull(seed, nullptr, 10);
    count = 1;
  }
  int failed = 0;
  for (uint64_t seed = first; seed < first + count && failed < 5; ++seed) {
    const std::string outcome = RunSeed(seed);
    if (outcome.empty()) continue;
    ++failed;
    ADD_FAILURE() << "seed " << seed << " (" << (seed % 2 == 0 ? 3 : 5)
                  << " nodes) failed; replay: RAFT_SIM_SEED=" << seed
                  << " build/bin/unit_tests --gtest_filter='RaftSimulation.*'\n"
                  << outcome.substr(0, 2000);
  }
}

}  // namespace
}  // namespace aurigraph::raft
