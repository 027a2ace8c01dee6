#include "loadgen/driver/wake_lead.h"

#include <gtest/gtest.h>

#include <random>

namespace aurigraph::loadgen {
namespace {

constexpr int64_t kUs = 1'000;

TEST(WakeLead, ReachesASteadyLatenessInAFewSleepsAndStaysWithinAStep) {
  WakeLead lead;
  EXPECT_EQ(lead.nanos(), 0);
  int sleeps = 0;
  while (lead.nanos() < 60 * kUs && sleeps < 100) {
    lead.Observe(60 * kUs);
    ++sleeps;
  }
  EXPECT_LE(sleeps, 8);  // doubling steps, not 60 of 1 us
  for (int i = 0; i < 1000; ++i) {
    lead.Observe(60 * kUs);
    EXPECT_NEAR(lead.nanos(), 60 * kUs, 4 * kUs) << "after " << i;
  }
}

TEST(WakeLead, FollowsTheMedianOfNoisyWakeUps) {
  // Wake-ups 50-80 us late, as sleeping timers on this machine kind are, with
  // one stall of 5 ms in every 200: the lead sits near the median (65 us).
  std::mt19937_64 rng(7);
  std::uniform_int_distribution<int64_t> late(50 * kUs, 80 * kUs);
  WakeLead lead;
  for (int i = 0; i < 1000; ++i) lead.Observe(late(rng));
  double sum = 0;
  int above = 0;
  constexpr int kSamples = 20'000;
  for (int i = 0; i < kSamples; ++i) {
    const int64_t l = i % 200 == 0 ? 5'000 * kUs : late(rng);
    above += l > lead.nanos();
    lead.Observe(l);
    sum += static_cast<double>(lead.nanos());
    ASSERT_LE(lead.nanos(), WakeLead::kMaxNanos);
  }
  EXPECT_NEAR(sum / kSamples, 65 * kUs, 5 * kUs);
  // About half the wake-ups come after the lead (the sends a few us late), half before it.
  EXPECT_NEAR(static_cast<double>(above) / kSamples, 0.5, 0.1);
}

TEST(WakeLead, AStallMovesItByOneMicrosecondAndALoadedMachineByNoMoreThanTheBound) {
  WakeLead lead;
  for (int i = 0; i < 100; ++i) lead.Observe(60 * kUs);
  const int64_t settled = lead.nanos();
  lead.Observe(20'000 * kUs);
  EXPECT_EQ(lead.nanos() - settled, kUs);
  // Also after a run of wake-ups above the lead, whose steps were doubling.
  WakeLead rising;
  for (int i = 0; i < 4; ++i) rising.Observe(60 * kUs);
  const int64_t before_stall = rising.nanos();
  rising.Observe(5'000 * kUs);
  EXPECT_EQ(rising.nanos() - before_stall, kUs);
  // ...and the doubling starts again from the smallest step.
  rising.Observe(60 * kUs);
  EXPECT_EQ(rising.nanos() - before_stall, 2 * kUs);
  for (int i = 0; i < 100; ++i) lead.Observe(20'000 * kUs);
  EXPECT_EQ(lead.nanos(), WakeLead::kMaxNanos);
  // Wake-ups on time (or early) bring it down to nothing, never below.
  for (int i = 0; i < 100; ++i) lead.Observe(-10 * kUs);
  EXPECT_EQ(lead.nanos(), 0);
}

}  // namespace
}  // namespace aurigraph::loadgen
