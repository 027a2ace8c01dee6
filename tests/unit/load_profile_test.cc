// Load shapes: the profile's arithmetic, and the intended send times an
// arrival schedule derives from a rate profile.
#include "loadgen/schedule/load_profile.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "loadgen/schedule/arrival_schedule.h"

namespace aurigraph::loadgen {
namespace {

constexpr int64_t kS = 1'000'000'000;

// 100/s for 10 s, a ramp to 300/s over 10 s, a step to 50/s for 10 s.
LoadProfile HoldRampStep() {
  return LoadProfile({{100, 100, 10 * kS}, {100, 300, 10 * kS}, {50, 50, 10 * kS}});
}

TEST(LoadProfile, ValuesAndAreasOfHoldsRampsAndSteps) {
  const LoadProfile p = HoldRampStep();
  EXPECT_EQ(p.length_nanos(), 30 * kS);
  EXPECT_DOUBLE_EQ(p.MaxValue(), 300);
  EXPECT_DOUBLE_EQ(p.ValueAt(5 * kS), 100);
  EXPECT_DOUBLE_EQ(p.ValueAt(15 * kS), 200);
  EXPECT_DOUBLE_EQ(p.ValueAt(20 * kS), 50);  // the step
  EXPECT_DOUBLE_EQ(p.ValueAt(40 * kS), 50);  // the last value holds
  EXPECT_DOUBLE_EQ(p.AreaBefore(10 * kS), 1000);
  EXPECT_DOUBLE_EQ(p.AreaBefore(20 * kS), 3000);  // + (100 + 300) / 2 * 10
  EXPECT_DOUBLE_EQ(p.AreaBefore(30 * kS), 3500);
  EXPECT_DOUBLE_EQ(p.MeanOver(10 * kS, 30 * kS), 125);
}

TEST(LoadProfile, TimeOfAreaInvertsTheAreaInEverySegment) {
  const LoadProfile p = HoldRampStep();
  for (int64_t t = 0; t < 30 * kS; t += kS / 7) {
    // The area at t is reached at t (to the nanosecond's rounding).
    EXPECT_NEAR(static_cast<double>(p.TimeOfArea(p.AreaBefore(t))), static_cast<double>(t), 2) << t;
  }
  // Past the end the last rate holds: 50/s.
  EXPECT_EQ(p.TimeOfArea(3500 + 50), 31 * kS);
}

TEST(LoadProfile, APauseHoldsRequestsUntilItEnds) {
  const LoadProfile p({{10, 10, kS}, {0, 0, 2 * kS}, {10, 10, kS}});
  // 10 requests in the first second (0..9 due at 0, 0.1 s, ... 0.9 s); the
  // 11th, due as the pause begins, goes out when it ends.
  EXPECT_EQ(p.TimeOfArea(9), 900'000'000);
  EXPECT_EQ(p.TimeOfArea(10), 3 * kS);
  EXPECT_EQ(p.TimeOfArea(11), 3 * kS + 100'000'000);
  // A profile that ends at 0 has no more requests.
  const LoadProfile ends({{10, 10, kS}, {10, 0, kS}});
  EXPECT_EQ(ends.TimeOfArea(16), LoadProfile::kNever);
}

TEST(LoadProfile, TimeValueReachesFindsRisesAcrossRampsAndSteps) {
  const LoadProfile p({{1, 1, 10 * kS}, {1, 11, 10 * kS}, {4, 4, 10 * kS}, {20, 20, 0}});
  EXPECT_EQ(p.TimeValueReaches(1, 3 * kS), 3 * kS);  // already there
  EXPECT_EQ(p.TimeValueReaches(2, 0), 11 * kS);      // 1 per second up the ramp
  EXPECT_EQ(p.TimeValueReaches(6, 12 * kS), 15 * kS);
  EXPECT_EQ(p.TimeValueReaches(12, 12 * kS), 30 * kS);  // only the final step reaches it
  EXPECT_EQ(p.TimeValueReaches(21, 0), LoadProfile::kNever);
  const LoadProfile down({{10, 2, 10 * kS}});
  EXPECT_EQ(down.TimeValueReaches(6, 5 * kS), 5 * kS);
  EXPECT_EQ(down.TimeValueReaches(7, 5 * kS), LoadProfile::kNever);
}

// The intended times of a ramp are where the area under the rate reaches each
// request's index: the count due by any time follows the profile exactly.
TEST(ArrivalSchedule, ARampedRateSendsTheProfilesCountByEveryTime) {
  const LoadProfile p = HoldRampStep();
  std::vector<int64_t> due;
  for (int w = 0; w < 3; ++w) {
    ArrivalSchedule schedule(p, ArrivalProcess::kConstant, w, 3, 1);
    for (int64_t t = schedule.Next(); t < p.length_nanos(); t = schedule.Next()) due.push_back(t);
  }
  EXPECT_EQ(due.size(), 3500u);
  std::sort(due.begin(), due.end());
  for (int64_t t = 0; t <= 30 * kS; t += kS / 3) {
    const auto sent = std::lower_bound(due.begin(), due.end(), t) - due.begin();
    EXPECT_NEAR(static_cast<double>(sent), std::ceil(p.AreaBefore(t)), 1) << t;
  }
  // In the middle of the ramp (200/s) requests are 5 ms apart.
  const auto mid = std::lower_bound(due.begin(), due.end(), 15 * kS);
  EXPECT_NEAR(static_cast<double>(*(mid + 1) - *mid), 5e6, 2e3);
}

TEST(ArrivalSchedule, PoissonFollowsARampOnAverage) {
  const LoadProfile p({{0, 20'000, 10 * kS}});
  ArrivalSchedule a(p, ArrivalProcess::kPoisson, 0, 2, 7);
  ArrivalSchedule b(p, ArrivalProcess::kPoisson, 0, 2, 7);
  int64_t first_half = 0, second_half = 0;
  for (int64_t t = a.Next(); t < 10 * kS; t = a.Next()) {
    ASSERT_EQ(t, b.Next());
    ++(t < 5 * kS ? first_half : second_half);
  }
  // This worker's half of 25,000 and 75,000 requests; Poisson counts are within 3 sigma.
  EXPECT_NEAR(static_cast<double>(first_half), 12'500, 3 * std::sqrt(12'500.0));
  EXPECT_NEAR(static_cast<double>(second_half), 37'500, 3 * std::sqrt(37'500.0));
}

}  // namespace
}  // namespace aurigraph::loadgen
