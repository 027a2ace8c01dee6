#include "reference-server/faults/fault_injector.h"

#include <gtest/gtest.h>

#include <algorithm>

namespace aurigraph::refserver {
namespace {

constexpr int64_t kMs = 1'000'000;

TEST(FaultInjector, FixedLatencyAndStallWindows) {
  ManualClock clock(0);
  FaultConfig config;
  ASSERT_TRUE(ParseLatencySpec("fixed:5ms", &config).ok());
  ASSERT_TRUE(ParseStallSpec("200ms/1s", &config).ok());
  FaultInjector faults(config, clock);
  // Ready at 5 ms, inside the stall [0, 200 ms): held until 200 ms.
  EXPECT_EQ(faults.Decide().release_at_nanos, 200 * kMs);
  clock.Set(300 * kMs);
  EXPECT_EQ(faults.Decide().release_at_nanos, 305 * kMs);
  clock.Set(996 * kMs);  // ready at 1001 ms: inside the next stall
  EXPECT_EQ(faults.Decide().release_at_nanos, 1200 * kMs);
}

TEST(FaultInjector, ErrorRateAndDistributions) {
  ManualClock clock(0);
  FaultConfig config;
  config.error_rate = 0.25;
  config.error_code = 8;
  ASSERT_TRUE(ParseLatencySpec("uniform:1ms:3ms", &config).ok());
  FaultInjector faults(config, clock);
  int errors = 0;
  for (int i = 0; i < 20'000; ++i) {
    const auto d = faults.Decide();
    ASSERT_GE(d.release_at_nanos, 1 * kMs);
    ASSERT_LE(d.release_at_nanos, 3 * kMs);
    if (d.error_code == 8) ++errors;
  }
  EXPECT_NEAR(errors / 20'000.0, 0.25, 0.015);
}

TEST(FaultInjector, ServiceSlotsQueueCallsBeyondThemInOrder) {
  ManualClock clock(0);
  FaultConfig config;
  ASSERT_TRUE(ParseLatencySpec("fixed:2ms", &config).ok());
  config.service_slots = 2;
  FaultInjector faults(config, clock);
  // Two slots, 2 ms each: a capacity of 1000 calls/s.
  EXPECT_EQ(faults.Decide().release_at_nanos, 2 * kMs);
  EXPECT_EQ(faults.Decide().release_at_nanos, 2 * kMs);
  EXPECT_EQ(faults.Decide().release_at_nanos, 4 * kMs);  // waits for the first free slot
  clock.Set(1 * kMs);
  EXPECT_EQ(faults.Decide().release_at_nanos, 4 * kMs);
  EXPECT_EQ(faults.Decide().release_at_nanos, 6 * kMs);
  clock.Set(10 * kMs);  // idle again: no wait
  EXPECT_EQ(faults.Decide().release_at_nanos, 12 * kMs);
  // Arrivals at 1100/s, 10% over the capacity: the wait grows by about 0.1 ms per ms.
  int64_t worst = 0;
  for (int i = 0; i < 1100; ++i) {
    clock.Set(20 * kMs + i * 1'000'000'000LL / 1100);
    worst = std::max(worst, faults.Decide().release_at_nanos - clock.NowNanos());
  }
  EXPECT_NEAR(static_cast<double>(worst) / kMs, 2 + 100, 2);
  // At 900/s it never waits.
  clock.Set(2000 * kMs);
  worst = 0;
  for (int i = 0; i < 900; ++i) {
    clock.Set(2000 * kMs + i * 1'000'000'000LL / 900);
    worst = std::max(worst, faults.Decide().release_at_nanos - clock.NowNanos());
  }
  EXPECT_EQ(worst, 2 * kMs);
}

TEST(FaultInjector, SpecsAreValidated) {
  FaultConfig config;
  EXPECT_FALSE(ParseLatencySpec("fixed", &config).ok());
  EXPECT_FALSE(ParseLatencySpec("uniform:5ms:1ms", &config).ok());
  EXPECT_FALSE(ParseLatencySpec("gaussian:1ms", &config).ok());
  EXPECT_FALSE(ParseStallSpec("2s/1s", &config).ok());
  EXPECT_FALSE(ParseStallSpec("200ms", &config).ok());
  EXPECT_TRUE(ParseLatencySpec("exponential:2ms", &config).ok());
  EXPECT_EQ(config.latency, FaultConfig::Latency::kExponential);
}

}  // namespace
}  // namespace aurigraph::refserver
