#include "reference-server/connections/connection_policy.h"

#include <gtest/gtest.h>

namespace aurigraph::refserver {
namespace {

constexpr int64_t kMs = 1'000'000;
using Reason = ConnectionPolicy::Reason;

ConnectionPolicy::Limits Limits() {
  ConnectionPolicy::Limits limits;
  limits.max_concurrent_streams = 100;
  limits.max_resets = 1000;
  limits.window_nanos = 10'000 * kMs;
  return limits;
}

TEST(ConnectionPolicy, ClosesARapidResetConnectionOnce) {
  ConnectionPolicy policy(Limits());
  // 999 resets: not yet.
  EXPECT_TRUE(
      policy.Observe(100 * kMs, {{"attacker", 999, 0, 999}, {"client", 50, 50, 0}}).empty());
  const auto verdicts =
      policy.Observe(200 * kMs, {{"attacker", 5000, 0, 5000}, {"client", 90, 90, 0}});
  ASSERT_EQ(verdicts.size(), 1u);
  EXPECT_EQ(verdicts[0].connection, "attacker");
  EXPECT_EQ(verdicts[0].reason, Reason::kStreamResets);
  EXPECT_EQ(verdicts[0].detail,
            "5000 of the last 5000 streams to end were reset by the client (rapid reset)");
  // Still listed while it closes: not reported again.
  EXPECT_TRUE(policy.Observe(300 * kMs, {{"attacker", 9000, 0, 9000}}).empty());
}

// A client whose calls often hit their deadline resets many streams, but most
// of its streams end normally: it is not closed.
TEST(ConnectionPolicy, ResetsThatAreNotMostOfTheStreamsAreTolerated) {
  ConnectionPolicy policy(Limits());
  int64_t ok = 0, reset = 0;
  for (int64_t t = 1; t <= 100; ++t) {
    ok += 600;
    reset += 400;  // 40% of 100,000 calls in 10 s
    EXPECT_TRUE(policy.Observe(t * 100 * kMs, {{"busy", ok + reset, ok, reset}}).empty()) << t;
  }
}

// Resets count within the window: a burst of 900 now and then is not 1000.
TEST(ConnectionPolicy, ResetsOlderThanTheWindowAreForgotten) {
  ConnectionPolicy policy(Limits());
  EXPECT_TRUE(policy.Observe(0, {{"c", 900, 0, 900}}).empty());
  EXPECT_TRUE(policy.Observe(10'500 * kMs, {{"c", 1000, 0, 1000}}).empty());
  EXPECT_TRUE(policy.Observe(11'000 * kMs, {{"c", 1800, 0, 1800}}).empty());  // 900 in the window
  EXPECT_EQ(policy.Observe(11'100 * kMs, {{"c", 1901, 0, 1901}}).size(), 1u);
}

// A client that never acknowledges SETTINGS is not held to the stream limit
// by gRPC. channelz's count of open streams lags under load, so a connection
// is closed only far beyond the limit and while it is not finishing streams.
TEST(ConnectionPolicy, ClosesAConnectionFarBeyondTheStreamLimit) {
  ConnectionPolicy policy(Limits());
  // 300 open (3 x 100): within the slack.
  EXPECT_TRUE(policy.Observe(0, {{"busy", 300, 0, 0}, {"idle", 10, 0, 0}}).empty());
  // 450 counted open, but 150 ended since: a busy client whose count lags.
  EXPECT_TRUE(policy.Observe(100 * kMs, {{"busy", 600, 150, 0}, {"idle", 10, 0, 0}}).empty());
  // 5,000 open and nothing ended: streams opened and left.
  const auto verdicts = policy.Observe(200 * kMs, {{"busy", 800, 300, 0}, {"idle", 5010, 0, 0}});
  ASSERT_EQ(verdicts.size(), 1u);
  EXPECT_EQ(verdicts[0].connection, "idle");
  EXPECT_EQ(verdicts[0].reason, Reason::kStreamLimit);
  EXPECT_EQ(verdicts[0].detail,
            "5010 streams open and 0 ended since the last look: far beyond the 100 "
            "SETTINGS_MAX_CONCURRENT_STREAMS allows");
}

TEST(ConnectionPolicy, ForgetsConnectionsThatAreGone) {
  ConnectionPolicy policy(Limits());
  ASSERT_EQ(policy.Observe(0, {{"a", 2000, 0, 2000}}).size(), 1u);
  EXPECT_TRUE(policy.Observe(100 * kMs, {}).empty());
  // The same id later is a new connection (channelz does not reuse ids, but the policy does not
  // rely on it).
  EXPECT_EQ(policy.Observe(200 * kMs, {{"a", 2000, 0, 2000}}).size(), 1u);
}

}  // namespace
}  // namespace aurigraph::refserver
