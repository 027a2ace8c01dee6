#include "reference-server/faults/fault_injector.h"

#include <gtest/gtest.h>

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
