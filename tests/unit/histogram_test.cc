#include "loadgen/histogram/histogram.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <climits>
#include <cmath>
#include <random>
#include <vector>

#include "loadgen/histogram/histogram_codec.h"
#include "loadgen/histogram/histogram_wire.h"

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

// A compressed V2 encoding of the given configuration and payload entries
// (counts >= 0, runs of empty buckets < 0), as a hostile writer would make it.
std::string Crafted(int digits, int64_t lowest, int64_t highest,
                    const std::vector<int64_t>& entries) {
  std::string payload;
  for (const int64_t entry : entries) v2::PutZigZag(&payload, entry);
  std::string raw;
  v2::PutHeader(&raw, static_cast<uint32_t>(payload.size()), digits, lowest, highest);
  return v2::Compress(raw + payload);
}

testing::AssertionResult RejectedWith(absl::string_view bytes, absl::string_view fragment) {
  auto decoded = DecodeCompressed(bytes);
  if (decoded.ok()) return testing::AssertionFailure() << "decoded";
  if (decoded.status().code() != absl::StatusCode::kDataLoss ||
      decoded.status().message().find(fragment) == absl::string_view::npos) {
    return testing::AssertionFailure() << decoded.status();
  }
  return testing::AssertionSuccess();
}

TEST(HistogramCodec, CraftedEncodingDecodesToTheLastBucket) {
  const Histogram latency = Latency();
  const int64_t last = latency.counts_length() - 1;
  auto decoded = DecodeCompressed(Crafted(3, 1, 3'600'000'000LL, {2, -(last - 1), 7}));
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  EXPECT_EQ((*decoded)->TotalCount(), 9);
  EXPECT_EQ((*decoded)->count_at_index(0), 2);
  EXPECT_EQ((*decoded)->count_at_index(static_cast<int32_t>(last)), 7);
  EXPECT_EQ((*decoded)->Max(), latency.HighestEquivalent(latency.ValueAtIndex(last)));
}

TEST(HistogramCodec, ZeroRunsThatWrapA32BitIndexAreRejected) {
  // 255 runs of 2^24 and one of 2^24 - 1 add up to 2^32 - 1: index -1 in 32 bits.
  std::vector<int64_t> entries(255, -(int64_t{1} << 24));
  entries.push_back(-((int64_t{1} << 24) - 1));
  entries.push_back(1234);
  EXPECT_TRUE(RejectedWith(Crafted(3, 1, 3'600'000'000LL, entries), "zero run"));
}

TEST(HistogramCodec, IndexesBeyondTheRangeAreRejected) {
  const int64_t length = Latency().counts_length();
  EXPECT_TRUE(RejectedWith(Crafted(3, 1, 3'600'000'000LL, {-length, 1}), "exceed"));
  EXPECT_TRUE(RejectedWith(Crafted(3, 1, 3'600'000'000LL, {1, -length}), "zero run"));
  EXPECT_TRUE(RejectedWith(Crafted(3, 1, 3'600'000'000LL, {INT64_MIN}), "zero run"));
  EXPECT_TRUE(DecodeCompressed(Crafted(3, 1, 3'600'000'000LL, {1, -(length - 1)})).ok());
}

TEST(HistogramCodec, TotalCountOverflowIsRejected) {
  EXPECT_TRUE(RejectedWith(Crafted(3, 1, 3'600'000'000LL, {INT64_MAX, INT64_MAX}), "overflow"));
  EXPECT_TRUE(RejectedWith(Crafted(3, 1, 3'600'000'000LL, {INT64_MAX, 1}), "overflow"));
  auto full = DecodeCompressed(Crafted(3, 1, 3'600'000'000LL, {INT64_MAX - 1, 1}));
  ASSERT_TRUE(full.ok()) << full.status();
  EXPECT_EQ((*full)->TotalCount(), INT64_MAX);
}

TEST(HistogramCodec, InvalidConfigurationsAreRejectedWithoutConstructing) {
  // 2 * 2^62 overflows: checked naively, this range passes and the constructor never ends.
  EXPECT_TRUE(RejectedWith(Crafted(1, int64_t{1} << 62, 2, {1}), "invalid configuration"));
  EXPECT_TRUE(RejectedWith(Crafted(1, int64_t{1} << 62, INT64_MAX, {1}), "invalid configuration"));
  EXPECT_TRUE(RejectedWith(Crafted(3, 0, 1000, {1}), "invalid configuration"));
  EXPECT_TRUE(RejectedWith(Crafted(3, -5, 1000, {1}), "invalid configuration"));
  EXPECT_TRUE(RejectedWith(Crafted(3, 10, 19, {1}), "invalid configuration"));
  EXPECT_TRUE(RejectedWith(Crafted(0, 1, 1000, {1}), "invalid configuration"));
  EXPECT_TRUE(RejectedWith(Crafted(-1, 1, 1000, {1}), "invalid configuration"));
  EXPECT_TRUE(RejectedWith(Crafted(6, 1, 1000, {1}), "invalid configuration"));
  // Valid, but 6 million buckets: more memory than a decoded histogram may claim.
  EXPECT_TRUE(RejectedWith(Crafted(5, 1, INT64_MAX, {1}), "buckets"));
  // The widest range at 3 digits is fine.
  auto wide = DecodeCompressed(Crafted(3, 1, INT64_MAX, {1, -3, 5}));
  ASSERT_TRUE(wide.ok()) << wide.status();
  EXPECT_EQ((*wide)->counts_length(), 55'296);
}

TEST(HistogramCodec, PayloadsInflatingBeyondTheirLengthAreRejected) {
  std::string raw;
  v2::PutHeader(&raw, 4, 3, 1, 3'600'000'000LL);
  raw += std::string(1 << 20, '\0');  // a megabyte of single empty buckets after a 4-byte payload
  EXPECT_TRUE(RejectedWith(v2::Compress(raw), "beyond its declared length"));
  raw.clear();
  v2::PutHeader(&raw, 0xffffffffu, 3, 1, 3'600'000'000LL);
  EXPECT_TRUE(RejectedWith(v2::Compress(raw), "longer than its configuration allows"));
}

TEST(Histogram, ConfigurationChecksDoNotOverflow) {
  EXPECT_FALSE(Histogram::IsValidConfiguration(int64_t{1} << 62, 2, 1));
  EXPECT_FALSE(Histogram::IsValidConfiguration(INT64_MAX, INT64_MAX, 3));
  EXPECT_FALSE(Histogram::IsValidConfiguration(int64_t{1} << 52, INT64_MAX, 3));
  EXPECT_TRUE(Histogram::IsValidConfiguration(int64_t{1} << 51, INT64_MAX, 3));
  EXPECT_THROW(Histogram(int64_t{1} << 62, 2, 1), std::invalid_argument);
  EXPECT_EQ(Histogram(1, 3'600'000'000LL, 3).counts_length(),
            Histogram::CountsLengthFor(1, 3'600'000'000LL, 3));
}

TEST(Histogram, TheTopBucketOfTheWidestRangeEndsAtInt64Max) {
  // Found by fuzz_histogram_codec: Max() computed lowest + size - 1, and
  // lowest + size overflowed for the last bucket of a range reaching 2^63.
  Histogram h(4'132'897'280, 6'944'832'101'477'884'928, 3);
  ASSERT_TRUE(h.SetCountAtIndex(h.counts_length() - 1, 1));
  EXPECT_EQ(h.Max(), INT64_MAX);
  EXPECT_EQ(h.ValueAtPercentile(100), INT64_MAX);
  EXPECT_EQ(Histogram(1, INT64_MAX, 3).HighestEquivalent(INT64_MAX), INT64_MAX);
}

TEST(Histogram, SetCountAtIndexChecksItsArguments) {
  Histogram h = Latency();
  EXPECT_FALSE(h.SetCountAtIndex(-1, 1));
  EXPECT_FALSE(h.SetCountAtIndex(h.counts_length(), 1));
  EXPECT_FALSE(h.SetCountAtIndex(int64_t{1} << 32, 1));
  EXPECT_FALSE(h.SetCountAtIndex(0, -1));
  EXPECT_EQ(h.TotalCount(), 0);
  EXPECT_TRUE(h.SetCountAtIndex(3, INT64_MAX));
  EXPECT_FALSE(h.SetCountAtIndex(4, 1));
  EXPECT_TRUE(h.SetCountAtIndex(3, 5));
  EXPECT_EQ(h.TotalCount(), 5);
}

TEST(Histogram, AddRefusesATotalThatOverflows) {
  Histogram a = Latency(), b = Latency();
  a.RecordN(10, INT64_MAX - 1);
  b.RecordN(20, 2);
  EXPECT_FALSE(a.Add(b));
  EXPECT_EQ(a.TotalCount(), INT64_MAX - 1);
  EXPECT_EQ(a.count_at_index(a.IndexOf(20)), 0);
}

}  // namespace
}  // namespace aurigraph::loadgen
