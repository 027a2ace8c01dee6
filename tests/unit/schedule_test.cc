#include <gtest/gtest.h>

#include <algorithm>
#include <vector>

#include "loadgen/schedule/arrival_schedule.h"
#include "loadgen/schedule/load_profile.h"

namespace aurigraph::loadgen {
namespace {

TEST(ArrivalSchedule, ConstantRateIsExactAndDoesNotDrift) {
  ArrivalSchedule schedule(3000, ArrivalProcess::kConstant, 0, 1, 1);
  int64_t previous = -1;
  for (int i = 0; i < 3'000'000; ++i) {
    const int64_t t = schedule.Next();
    ASSERT_GE(t, previous);
    previous = t;
  }
  // The 3,000,000th request (index 2,999,999) is due at 999.999667 s: no accumulated rounding.
  EXPECT_EQ(previous, 999'999'666'666);
}

TEST(ArrivalSchedule, WorkersInterleaveIntoTheGlobalSequence) {
  std::vector<int64_t> all;
  for (int w = 0; w < 3; ++w) {
    ArrivalSchedule schedule(1000, ArrivalProcess::kConstant, w, 3, 1);
    for (int i = 0; i < 100; ++i) all.push_back(schedule.Next());
  }
  std::sort(all.begin(), all.end());
  for (size_t i = 0; i < all.size(); ++i) EXPECT_EQ(all[i], static_cast<int64_t>(i) * 1'000'000);
}

TEST(ArrivalSchedule, PoissonHasTheRequestedMeanRateAndIsSeeded) {
  ArrivalSchedule a(10'000, ArrivalProcess::kPoisson, 0, 1, 99);
  ArrivalSchedule b(10'000, ArrivalProcess::kPoisson, 0, 1, 99);
  int64_t last = 0;
  std::vector<int64_t> gaps;
  for (int i = 0; i < 100'000; ++i) {
    const int64_t t = a.Next();
    ASSERT_EQ(t, b.Next());
    gaps.push_back(t - last);
    last = t;
  }
  // 10,000/s, mean gap 100 us; 100k samples put the mean within 1%.
  const double mean = static_cast<double>(last) / 100'000;
  EXPECT_NEAR(mean, 100'000, 1'000);
  // Exponential gaps: about 36.8% exceed the mean.
  const auto above = std::count_if(gaps.begin(), gaps.end(), [](int64_t g) { return g > 100'000; });
  EXPECT_NEAR(static_cast<double>(above) / gaps.size(), 0.368, 0.01);
}

// However the run is split (here 12 workers: 3 processes of 4 threads, under a
// ramp), the workers' arrivals together are the one-worker schedule, exactly,
// and each worker has every 12th of them; for constant and Poisson arrivals.
TEST(ArrivalSchedule, ASplitScheduleIsTheOneWorkerScheduleExactly) {
  const LoadProfile ramp({LoadSegment{100, 5'000, 2'000'000'000}});
  for (const ArrivalProcess process : {ArrivalProcess::kConstant, ArrivalProcess::kPoisson}) {
    ArrivalSchedule whole(ramp, process, 0, 1, 42);
    std::vector<int64_t> expected;
    for (int i = 0; i < 12 * 500; ++i) expected.push_back(whole.Next());
    std::vector<int64_t> split;
    for (int w = 0; w < 12; ++w) {
      ArrivalSchedule part(ramp, process, w, 12, 42);
      for (int i = 0; i < 500; ++i) {
        const int64_t t = part.Next();
        ASSERT_EQ(t, expected[static_cast<size_t>(i * 12 + w)]) << "worker " << w << " #" << i;
        split.push_back(t);
      }
    }
    std::sort(split.begin(), split.end());
    EXPECT_EQ(split, expected);
  }
}

}  // namespace
}  // namespace aurigraph::loadgen
