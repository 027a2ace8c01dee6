#include "common/backoff/backoff.h"

#include <gtest/gtest.h>

#include <algorithm>

namespace aurigraph {
namespace {

constexpr int64_t kSecond = 1'000'000'000;

TEST(Backoff, GrowsByItsMultiplierUpToTheMax) {
  const Backoff doubling{kSecond, 5 * kSecond};
  EXPECT_EQ(doubling.After(0), kSecond);
  EXPECT_EQ(doubling.After(1), kSecond);
  EXPECT_EQ(doubling.After(2), 2 * kSecond);
  EXPECT_EQ(doubling.After(3), 4 * kSecond);
  EXPECT_EQ(doubling.After(4), 5 * kSecond);
  // No overflow however long the failures go on.
  EXPECT_EQ(doubling.After(100'000), 5 * kSecond);
  const Backoff grpc{kSecond, 120 * kSecond, 1.6};
  EXPECT_EQ(grpc.After(2), 1'600'000'000);
  EXPECT_EQ(grpc.After(3), 2'560'000'000);
  EXPECT_EQ(grpc.After(12), 120 * kSecond);
}

TEST(Backoff, JitterSpreadsTheWaitWithinItsBoundsAndRepeatsForASeed) {
  const Backoff backoff{100'000'000, kSecond};
  std::mt19937_64 random(7);
  int64_t low = backoff.After(3);
  int64_t high = low;
  for (int i = 0; i < 1000; ++i) {
    const int64_t wait = backoff.After(3, 0.2, random);
    ASSERT_GE(wait, 320'000'000);
    ASSERT_LE(wait, 480'000'000);
    low = std::min(low, wait);
    high = std::max(high, wait);
  }
  // Spread over the range, not stuck at its middle.
  EXPECT_LT(low, 330'000'000);
  EXPECT_GT(high, 470'000'000);
  std::mt19937_64 again(7);
  std::mt19937_64 same(7);
  EXPECT_EQ(backoff.After(1, 0.2, again), backoff.After(1, 0.2, same));
}

}  // namespace
}  // namespace aurigraph
