#include "loadgen/histogram/histogram.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>

#include "loadgen/histogram/histogram_codec.h"

namespace aurigraph::loadgen {
namespace {

Histogram Latency() { return Histogram(1, 3'600'000'000LL, 3); }

// The exact sample at the nearest rank for percentile p.
int64_t ExactPercentile(std::vector<int64_t> sorted, double p) {
  const auto rank =
      std::max<int64_t>(1, static_cast<int64_t>(std::ceil(p / 100.0 * sorted.size() - 1e-9)));
  return sorted[rank - 1];
}

TEST(Histogram, PercentilesMatchSortedSamplesWithinResolution) {
  std::mt19937_64 rng(7);
  std::lognormal_distribution<double> dist(7.0, 1.5);  // ~1 ms median, long tail
  Histogram h = Latency();
  std::vector<int64_t> samples;
  for (int i = 0; i < 200'000; ++i) {
    const auto v = std::max<int64_t>(1, static_cast<int64_t>(dist(rng)));
    samples.push_back(v);
    h.Record(v);
  }
  std::sort(samples.begin(), samples.end());
  for (double p : {1.0, 10.0, 50.0, 90.0, 99.0, 99.9, 99.99, 100.0}) {
    const int64_t exact = ExactPercentile(samples, p);
    const int64_t got = h.ValueAtPercentile(p);
    // Same bucket as the exact sample: within 0.1% (3 significant digits).
    EXPECT_EQ(h.HighestEquivalent(exact), got) << "p" << p;
    EXPECT_LE(std::abs(static_cast<double>(got - exact)), exact * 0.001 + 1) << "p" << p;
  }
  EXPECT_EQ(h.TotalCount(), 200'000);
  EXPECT_EQ(h.Max(), h.HighestEquivalent(samples.back()));
  EXPECT_EQ(h.Min(), h.LowestEquivalent(samples.front()));
}

TEST(Histogram, SmallValuesAreExact) {
  Histogram h = Latency();
  for (int64_t v = 1; v <= 2047; ++v) h.Record(v);
  EXPECT_EQ(h.ValueAtPercentile(50), 1024);
  EXPECT_EQ(h.Max(), 2047);
  EXPECT_EQ(h.Min(), 1);
}

TEST(Histogram, MergeIsExact) {
  std::mt19937_64 rng(3);
  std::uniform_int_distribution<int64_t> dist(1, 50'000'000);
  Histogram a = Latency(), b = Latency(), all = Latency();
  for (int i = 0; i < 50'000; ++i) {
    const int64_t v = dist(rng);
    (i % 3 ? a : b).Record(v);
    all.Record(v);
  }
  ASSERT_TRUE(a.Add(b));
  ASSERT_EQ(a.TotalCount(), all.TotalCount());
  for (int32_t i = 0; i < all.counts_length(); ++i)
    ASSERT_EQ(a.count_at_index(i), all.count_at_index(i));
  Histogram other(1, 1000, 2);
  EXPECT_FALSE(a.Add(other));
}

TEST(Histogram, ValuesAboveRangeAreClampedAndCounted) {
  Histogram h(1, 1'000'000, 3);
  h.Record(5'000'000);
  EXPECT_EQ(h.TotalCount(), 1);
  EXPECT_EQ(h.SaturatedCount(), 1);
  EXPECT_GE(h.Max(), 1'000'000);
}

TEST(HistogramCodec, RoundTripsExactly) {
  std::mt19937_64 rng(11);
  std::exponential_distribution<double> dist(1.0 / 2000);
  Histogram h = Latency();
  for (int i = 0; i < 100'000; ++i) h.Record(1 + static_cast<int64_t>(dist(rng)));
  h.RecordN(3'000'000'000LL, 5);
  const std::string text = EncodeBase64(h);
  EXPECT_EQ(text.rfind("HISTF", 0), 0u) << "V2 compressed cookie renders as HISTF in base64";
  auto decoded = DecodeBase64(text);
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  ASSERT_TRUE((*decoded)->SameConfiguration(h));
  EXPECT_EQ((*decoded)->TotalCount(), h.TotalCount());
  for (int32_t i = 0; i < h.counts_length(); ++i)
    ASSERT_EQ((*decoded)->count_at_index(i), h.count_at_index(i));
}

TEST(HistogramCodec, EmptyHistogramRoundTrips) {
  auto decoded = DecodeBase64(EncodeBase64(Latency()));
  ASSERT_TRUE(decoded.ok());
  EXPECT_EQ((*decoded)->TotalCount(), 0);
}

TEST(HistogramCodec, RejectsCorruptInput) {
  Histogram h = Latency();
  h.Record(42);
  std::string bytes = EncodeCompressed(h);
  EXPECT_FALSE(DecodeBase64("not base64!!").ok());
  EXPECT_FALSE(DecodeCompressed(bytes.substr(0, bytes.size() - 3)).ok());
  bytes[0] ^= 0x55;
  EXPECT_FALSE(DecodeCompressed(bytes).ok());
  std::string flipped = EncodeCompressed(h);
  flipped[12] ^= 0x7f;
  EXPECT_FALSE(DecodeCompressed(flipped).ok());
}

}  // namespace
}  // namespace aurigraph::loadgen
