#include "loadgen/histogram/histogram.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>

namespace aurigraph::loadgen {
namespace {

// log2 of the sub-bucket count half: enough sub-buckets for the significant digits.
int32_t SubBucketHalfCountMagnitude(int significant_digits) {
  const int64_t largest_single_unit = 2 * static_cast<int64_t>(std::pow(10, significant_digits));
  const auto sub_bucket_count_magnitude =
      static_cast<int32_t>(std::ceil(std::log2(static_cast<double>(largest_single_unit))));
  return std::max(sub_bucket_count_magnitude, 1) - 1;
}

int32_t UnitMagnitude(int64_t lowest) {
  return 63 - __builtin_clzll(static_cast<uint64_t>(lowest));  // floor(log2(lowest))
}

// Buckets (each twice the range of the one before) until `highest` is covered.
int32_t BucketsNeeded(int32_t unit_magnitude, int32_t sub_bucket_half_count_magnitude,
                      int64_t highest) {
  int64_t smallest_untrackable = int64_t{1}
                                 << (sub_bucket_half_count_magnitude + 1 + unit_magnitude);
  int32_t buckets_needed = 1;
  while (smallest_untrackable <= highest) {
    if (smallest_untrackable > INT64_MAX / 2) {
      ++buckets_needed;
      break;
    }
    smallest_untrackable <<= 1;
    ++buckets_needed;
  }
  return buckets_needed;
}

}  // namespace

int32_t Histogram::CountsLengthFor(int64_t lowest_discernible, int64_t highest_trackable,
                                   int significant_digits) {
  const int32_t half_magnitude = SubBucketHalfCountMagnitude(significant_digits);
  return (BucketsNeeded(UnitMagnitude(lowest_discernible), half_magnitude, highest_trackable) + 1)
         << half_magnitude;
}

bool Histogram::IsValidConfiguration(int64_t lowest_discernible, int64_t highest_trackable,
                                     int significant_digits) {
  if (lowest_discernible < 1 || significant_digits < 1 || significant_digits > 5) return false;
  // highest >= 2 * lowest, without computing 2 * lowest (it may overflow).
  if (highest_trackable / 2 < lowest_discernible) return false;
  // A bucket's sub-buckets, shifted by the unit, must stay below 2^62 (as HdrHistogram requires).
  return UnitMagnitude(lowest_discernible) + SubBucketHalfCountMagnitude(significant_digits) <= 61;
}

Histogram::Histogram(int64_t lowest_discernible, int64_t highest_trackable, int significant_digits)
    : lowest_(lowest_discernible),
      highest_(highest_trackable),
      significant_digits_(significant_digits) {
  if (!IsValidConfiguration(lowest_, highest_, significant_digits_)) {
    throw std::invalid_argument("invalid histogram configuration");
  }
  sub_bucket_half_count_magnitude_ = SubBucketHalfCountMagnitude(significant_digits_);
  unit_magnitude_ = UnitMagnitude(lowest_);
  sub_bucket_count_ = 1 << (sub_bucket_half_count_magnitude_ + 1);
  sub_bucket_half_count_ = sub_bucket_count_ / 2;
  sub_bucket_mask_ = (static_cast<int64_t>(sub_bucket_count_) - 1) << unit_magnitude_;
  bucket_count_ = BucketsNeeded(unit_magnitude_, sub_bucket_half_count_magnitude_, highest_);
  counts_.assign(static_cast<size_t>(bucket_count_ + 1) * sub_bucket_half_count_, 0);
  min_index_ = counts_length();
}

int32_t Histogram::BucketIndex(int64_t value) const {
  const int32_t pow2_ceiling =
      64 - __builtin_clzll(static_cast<uint64_t>(value | sub_bucket_mask_));
  return pow2_ceiling - unit_magnitude_ - (sub_bucket_half_count_magnitude_ + 1);
}

int32_t Histogram::IndexOf(int64_t value) const {
  const int32_t bucket_index = BucketIndex(value);
  const auto sub_bucket_index = static_cast<int32_t>(value >> (bucket_index + unit_magnitude_));
  return ((bucket_index + 1) << sub_bucket_half_count_magnitude_) +
         (sub_bucket_index - sub_bucket_half_count_);
}

int64_t Histogram::ValueAtIndex(int32_t index) const {
  int32_t bucket_index = (index >> sub_bucket_half_count_magnitude_) - 1;
  int32_t sub_bucket_index = (index & (sub_bucket_half_count_ - 1)) + sub_bucket_half_count_;
  if (bucket_index < 0) {
    sub_bucket_index -= sub_bucket_half_count_;
    bucket_index = 0;
  }
  return static_cast<int64_t>(sub_bucket_index) << (bucket_index + unit_magnitude_);
}

int64_t Histogram::SizeOfEquivalentRange(int64_t value) const {
  const int32_t bucket_index = BucketIndex(value);
  const auto sub_bucket_index = static_cast<int32_t>(value >> (bucket_index + unit_magnitude_));
  const int32_t adjusted_bucket =
      sub_bucket_index >= sub_bucket_count_ ? bucket_index + 1 : bucket_index;
  return int64_t{1} << (unit_magnitude_ + adjusted_bucket);
}

int64_t Histogram::LowestEquivalent(int64_t value) const {
  const int32_t bucket_index = BucketIndex(value);
  const auto sub_bucket_index = static_cast<int32_t>(value >> (bucket_index + unit_magnitude_));
  return static_cast<int64_t>(sub_bucket_index) << (bucket_index + unit_magnitude_);
}

int64_t Histogram::HighestEquivalent(int64_t value) const {
  // The top bucket of a range near 2^63 ends at INT64_MAX: lowest + size would overflow.
  return LowestEquivalent(value) + (SizeOfEquivalentRange(value) - 1);
}

int64_t Histogram::MedianEquivalent(int64_t value) const {
  return LowestEquivalent(value) + (SizeOfEquivalentRange(value) >> 1);
}

void Histogram::RecordN(int64_t value, int64_t count) {
  if (value < 0) value = 0;
  if (value > highest_) {
    value = highest_;
    saturated_count_ += count;
  }
  const int32_t index = IndexOf(value);
  counts_[index] += count;
  total_count_ += count;
  min_index_ = std::min(min_index_, index);
  max_index_ = std::max(max_index_, index);
}

bool Histogram::SetCountAtIndex(int64_t index, int64_t count) {
  if (index < 0 || index >= counts_length() || count < 0) return false;
  int64_t total = 0;
  if (__builtin_add_overflow(total_count_ - counts_[index], count, &total)) return false;
  total_count_ = total;
  counts_[index] = count;
  if (count > 0) {
    min_index_ = std::min(min_index_, static_cast<int32_t>(index));
    max_index_ = std::max(max_index_, static_cast<int32_t>(index));
  }
  return true;
}

bool Histogram::SameConfiguration(const Histogram& other) const {
  return lowest_ == other.lowest_ && highest_ == other.highest_ &&
         significant_digits_ == other.significant_digits_;
}

bool Histogram::Add(const Histogram& other) {
  if (!SameConfiguration(other)) return false;
  if (other.total_count_ == 0) return true;
  // Every bucket and the saturated count are at most the total, so they cannot overflow either.
  int64_t total = 0;
  if (__builtin_add_overflow(total_count_, other.total_count_, &total)) return false;
  for (int32_t i = other.min_index_; i <= other.max_index_; ++i) counts_[i] += other.counts_[i];
  total_count_ = total;
  saturated_count_ += other.saturated_count_;
  min_index_ = std::min(min_index_, other.min_index_);
  max_index_ = std::max(max_index_, other.max_index_);
  return true;
}

void Histogram::Reset() {
  if (max_index_ >= 0) std::fill(counts_.begin() + min_index_, counts_.begin() + max_index_ + 1, 0);
  total_count_ = 0;
  saturated_count_ = 0;
  min_index_ = counts_length();
  max_index_ = -1;
}

int64_t Histogram::Min() const {
  return total_count_ == 0 ? 0 : LowestEquivalent(ValueAtIndex(min_index_));
}

int64_t Histogram::Max() const {
  return total_count_ == 0 ? 0 : HighestEquivalent(ValueAtIndex(max_index_));
}

double Histogram::Mean() const {
  if (total_count_ == 0) return 0;
  double sum = 0;
  for (int32_t i = min_index_; i <= max_index_; ++i) {
    if (counts_[i] != 0) sum += static_cast<double>(counts_[i]) * MedianEquivalent(ValueAtIndex(i));
  }
  return sum / static_cast<double>(total_count_);
}

double Histogram::StdDev() const {
  if (total_count_ == 0) return 0;
  const double mean = Mean();
  double sum_sq = 0;
  for (int32_t i = min_index_; i <= max_index_; ++i) {
    if (counts_[i] == 0) continue;
    const double dev = static_cast<double>(MedianEquivalent(ValueAtIndex(i))) - mean;
    sum_sq += dev * dev * static_cast<double>(counts_[i]);
  }
  return std::sqrt(sum_sq / static_cast<double>(total_count_));
}

int64_t Histogram::ValueAtPercentile(double percentile) const {
  if (total_count_ == 0) return 0;
  const double p = std::clamp(percentile, 0.0, 100.0);
  // The rank is rounded up so that p50 of {1,2} is 1 and p100 is always the max.
  const auto target = std::max<int64_t>(
      1, static_cast<int64_t>(std::ceil(p / 100.0 * static_cast<double>(total_count_) - 1e-9)));
  int64_t seen = 0;
  for (int32_t i = min_index_; i <= max_index_; ++i) {
    seen += counts_[i];
    if (seen >= target) return HighestEquivalent(ValueAtIndex(i));
  }
  return Max();
}

}  // namespace aurigraph::loadgen
