#include "reference-server/memory/memory_return.h"

#include <gtest/gtest.h>

namespace aurigraph::refserver {
namespace {

constexpr int64_t kMB = 1 << 20;
constexpr int64_t kS = 1'000'000'000;

TEST(TrimPolicy, AServerThatDidNotGrowNeverTrims) {
  TrimPolicy policy(32 * kMB);
  for (int64_t t = 0; t < 100; ++t) EXPECT_FALSE(policy.ShouldTrim((40 + t % 20) * kMB, t * kS));
}

// A burst leaves 900 MB resident: trimmed at the next sweep, and again a
// second later while trims still return much; then back to waiting for growth.
TEST(TrimPolicy, TrimsAfterABurstUntilMemoryIsBack) {
  TrimPolicy policy(32 * kMB);
  EXPECT_FALSE(policy.ShouldTrim(40 * kMB, 0));
  ASSERT_TRUE(policy.ShouldTrim(900 * kMB, 1 * kS));
  policy.Trimmed(900 * kMB, 300 * kMB, 1 * kS);
  EXPECT_FALSE(policy.ShouldTrim(300 * kMB, 1 * kS + kS / 2));  // a second between trims
  ASSERT_TRUE(policy.ShouldTrim(300 * kMB, 2 * kS));
  policy.Trimmed(300 * kMB, 45 * kMB, 2 * kS);
  EXPECT_FALSE(policy.ShouldTrim(60 * kMB, 10 * kS));  // within 32 MB of the lowest
  EXPECT_TRUE(policy.ShouldTrim(78 * kMB, 11 * kS));
}

// Data that really grew: trims return little, so they come ever less often, at
// most a minute apart.
TEST(TrimPolicy, TrimsThatReturnLittleBackOffToAMinute) {
  TrimPolicy policy(32 * kMB);
  EXPECT_FALSE(policy.ShouldTrim(40 * kMB, 0));
  std::vector<int64_t> trims;
  for (int64_t t = 1; t < 400; ++t) {
    if (policy.ShouldTrim(500 * kMB, t * kS)) {
      trims.push_back(t);
      policy.Trimmed(500 * kMB, 495 * kMB, t * kS);
    }
  }
  EXPECT_EQ(trims, (std::vector<int64_t>{1, 3, 7, 15, 31, 63, 127, 191, 255, 319, 383}));
}

}  // namespace
}  // namespace aurigraph::refserver
