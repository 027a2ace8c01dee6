#include "loadgen/histogram/histogram.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>

namespace aurigraph::loadgen {

Histogram::Histogram(int64_t lowest_discernible, int64_t highest_trackable, int significant_digits)
    : lowest_(lowest_discernible),
      highest_(highest_trackable),
      significant_digits_(significant_digits) {
  if (lowest_ < 1 || highest_ < 2 * lowest_ || significant_digits_ < 1 || significant_digits_ > 5) {
    throw std::invalid_argument("invalid histogram configuration");
  }
  const int64_t largest_single_unit = 2 * static_cast<int64_t>(std::pow(10, significant_digits_));
  const auto sub_bucket_count_magnitude =
      static_cast<int32_t>(std::ceil(std::log2(static_cast<double>(largest_single_unit))));
  sub_bucket_half_count_magnitude_ = std::max(sub_bucket_count_magnitude, 1) - 1;
  unit_magnitude_ = static_cast<int32_t>(std::floor(std::log2(static_cast<double>(lowest_))));
  sub_bucket_count_ = 1 << (sub_bucket_half_count_magnitude_ + 1);
  sub_bucket_half_count_ = sub_bucket_count_ / 2;
  sub_bucket_mask_ = (static_cast<int64_t>(sub_bucket_count_) - 1) << unit_magnitude_;

  int64_t smallest_untrackable = static_cast<int64_t>(sub_bucket_count_) << unit_magnitude_;
  int32_t buckets_needed = 1;
  while (smallest_untrackable <= highest_) {
    if (smallest_untrackable > INT64_MAX / 2) {
      ++buckets_needed;
      break;
    }
    smallest_untrackable <<= 1;
    ++buckets_needed;
  }
  bucket_count_ = buckets_needed;
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
  return LowestEquivalent(value) + SizeOfEquivalentRange(value) - 1;
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

void Histogram::SetCountAtIndex(int32_t index, int64_t count) {
  total_count_ += count - counts_[index];
  counts_[index] = count;
  if (count > 0) {
    min_index_ = std::min(min_index_, index);
    max_index_ = std::max(max_index_, index);
  }
}

bool Histogram::SameConfiguration(const Histogram& other) const {
  return lowest_ == other.lowest_ && highest_ == other.highest_ &&
         significant_digits_ == other.significant_digits_;
}

bool Histogram::Add(const Histogram& other) {
  if (!SameConfiguration(other)) return false;
  if (other.total_count_ == 0) return true;
  for (int32_t i = other.min_index_; i <= other.max_index_; ++i) counts_[i] += other.counts_[i];
  total_count_ += other.total_count_;
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
