// High dynamic range latency histogram (the HdrHistogram layout): fixed memory,
// O(1) record, values kept to a chosen number of significant digits over the
// whole range, and exact merging of histograms with the same configuration.
#pragma once

#include <cstdint>
#include <vector>

namespace aurigraph::loadgen {

class Histogram {
 public:
  // Requires IsValidConfiguration (throws std::invalid_argument otherwise).
  Histogram(int64_t lowest_discernible, int64_t highest_trackable, int significant_digits);

  // lowest >= 1, highest >= 2 * lowest, significant_digits in [1, 5], and
  // lowest small enough that the digits fit in 63 bits above it.
  static bool IsValidConfiguration(int64_t lowest_discernible, int64_t highest_trackable,
                                   int significant_digits);
  // counts_length() of a histogram of a valid configuration, without allocating it.
  static int32_t CountsLengthFor(int64_t lowest_discernible, int64_t highest_trackable,
                                 int significant_digits);

  // Values above highest_trackable are clamped to it and counted as saturated,
  // so an extreme outlier is never silently dropped.
  void Record(int64_t value) { RecordN(value, 1); }
  void RecordN(int64_t value, int64_t count);

  // Adds every count of `other`; requires the same configuration and a total
  // count that fits in 64 bits (returns false, adding nothing, otherwise).
  bool Add(const Histogram& other);
  void Reset();

  int64_t TotalCount() const { return total_count_; }
  int64_t SaturatedCount() const { return saturated_count_; }
  int64_t Min() const;
  int64_t Max() const;
  double Mean() const;
  double StdDev() const;
  // percentile in [0, 100]; the highest value equivalent to the bucket that holds it.
  int64_t ValueAtPercentile(double percentile) const;

  int64_t lowest_discernible() const { return lowest_; }
  int64_t highest_trackable() const { return highest_; }
  int significant_digits() const { return significant_digits_; }
  bool SameConfiguration(const Histogram& other) const;

  // Raw bucket access for encoders and iteration.
  int32_t counts_length() const { return static_cast<int32_t>(counts_.size()); }
  int64_t count_at_index(int32_t index) const { return counts_[index]; }
  // Sets a bucket's count (used by decoders); keeps totals consistent. False,
  // and nothing changed, for an index outside [0, counts_length()), a negative
  // count, or a total that would overflow.
  [[nodiscard]] bool SetCountAtIndex(int64_t index, int64_t count);
  int32_t IndexOf(int64_t value) const;
  int64_t ValueAtIndex(int32_t index) const;
  int64_t LowestEquivalent(int64_t value) const;
  int64_t HighestEquivalent(int64_t value) const;
  int64_t MedianEquivalent(int64_t value) const;

 private:
  int64_t SizeOfEquivalentRange(int64_t value) const;
  int32_t BucketIndex(int64_t value) const;

  int64_t lowest_;
  int64_t highest_;
  int significant_digits_;
  int32_t unit_magnitude_;
  int32_t sub_bucket_half_count_magnitude_;
  int32_t sub_bucket_count_;
  int32_t sub_bucket_half_count_;
  int64_t sub_bucket_mask_;
  int32_t bucket_count_;
  int64_t total_count_ = 0;
  int64_t saturated_count_ = 0;
  int32_t min_index_;
  int32_t max_index_ = -1;
  std::vector<int64_t> counts_;
};

}  // namespace aurigraph::loadgen
