// The hand-over of finished calls from the unary transport's watching thread
// to the worker: order, reuse of the ring past its capacity and past the
// counters' wrap, a wait that times out, and a wait ended by a push from
// another thread.
#include "loadgen/transport/completion_ring.h"

#include <gtest/gtest.h>

#include <thread>

#include "common/clock/clock.h"

namespace aurigraph::loadgen {
namespace {

TEST(CompletionRing, HandsSlotsOverInOrderRoundAfterRound) {
  CompletionRing ring(3);  // rounded up to 4
  uint32_t slot = 0;
  EXPECT_TRUE(ring.Empty());
  EXPECT_FALSE(ring.Pop(&slot));
  // 100,000 rounds of 3: the positions go round the ring many times.
  for (uint32_t round = 0; round < 100'000; ++round) {
    for (uint32_t i = 0; i < 3; ++i) ring.Push(round * 3 + i);
    for (uint32_t i = 0; i < 3; ++i) {
      ASSERT_TRUE(ring.Pop(&slot));
      ASSERT_EQ(slot, round * 3 + i);
    }
    ASSERT_TRUE(ring.Empty());
  }
}

TEST(CompletionRing, AWaitForNothingEndsAtItsDeadline) {
  CompletionRing ring(1);
  uint32_t slot = 0;
  const int64_t start = SteadyClock::Instance().NowNanos();
  EXPECT_FALSE(ring.PopBefore(start + 2'000'000, &slot));
  EXPECT_GE(SteadyClock::Instance().NowNanos(), start + 2'000'000);
  EXPECT_FALSE(ring.PopBefore(start, &slot));  // a deadline already past: no wait
}

TEST(CompletionRing, APushFromAnotherThreadEndsTheWait) {
  // The wait's deadline is a minute away: ending long before it, many times,
  // shows that the pushes woke it (a lost wake-up would wait out the minute).
  CompletionRing ring(1);
  for (uint32_t i = 0; i < 200; ++i) {
    std::thread pusher([&ring, i] { ring.Push(i); });
    uint32_t slot = 0;
    const int64_t start = SteadyClock::Instance().NowNanos();
    ASSERT_TRUE(ring.PopBefore(start + 60'000'000'000, &slot));
    EXPECT_EQ(slot, i);
    EXPECT_LT(SteadyClock::Instance().NowNanos() - start, 30'000'000'000);
    pusher.join();
  }
}

}  // namespace
}  // namespace aurigraph::loadgen
