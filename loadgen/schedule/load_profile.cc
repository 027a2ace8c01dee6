#include "loadgen/schedule/load_profile.h"

#include <algorithm>
#include <cmath>

namespace aurigraph::loadgen {
namespace {

constexpr double kNanosPerSecond = 1e9;

double Seconds(int64_t nanos) { return static_cast<double>(nanos) / kNanosPerSecond; }

// The value `t` nanoseconds into `segment`.
double ValueIn(const LoadSegment& segment, int64_t t) {
  return segment.from + (segment.to - segment.from) * static_cast<double>(t) /
                            static_cast<double>(segment.duration_nanos);
}

// The area under `segment` over its first `t` nanoseconds.
double AreaIn(const LoadSegment& segment, int64_t t) {
  const double seconds = Seconds(t);
  const double slope = (segment.to - segment.from) / Seconds(segment.duration_nanos);
  return segment.from * seconds + slope * seconds * seconds / 2;
}

int64_t ToNanos(double seconds) {
  const double nanos = seconds * kNanosPerSecond;
  return nanos >= static_cast<double>(LoadProfile::kNever) ? LoadProfile::kNever
                                                           : static_cast<int64_t>(nanos);
}

}  // namespace

LoadProfile LoadProfile::Constant(double value) { return LoadProfile({{value, value, 0}}); }

LoadProfile::LoadProfile(const std::vector<LoadSegment>& segments) {
  for (const LoadSegment& segment : segments) {
    final_value_ = segment.to;
    if (segment.duration_nanos <= 0) continue;  // an instant step: only its end value counts
    pieces_.push_back(Piece{length_nanos_, area_, segment});
    length_nanos_ += segment.duration_nanos;
    area_ += AreaIn(segment, segment.duration_nanos);
  }
}

double LoadProfile::MaxValue() const {
  double max = final_value_;
  for (const Piece& p : pieces_) max = std::max({max, p.segment.from, p.segment.to});
  return max;
}

const LoadProfile::Piece* LoadProfile::PieceAt(int64_t t) const {
  const auto it = std::partition_point(pieces_.begin(), pieces_.end(), [t](const Piece& p) {
    return p.start_nanos + p.segment.duration_nanos <= t;
  });
  return it == pieces_.end() ? nullptr : &*it;
}

double LoadProfile::ValueAt(int64_t t) const {
  t = std::max<int64_t>(t, 0);
  const Piece* p = PieceAt(t);
  return p == nullptr ? final_value_ : ValueIn(p->segment, t - p->start_nanos);
}

double LoadProfile::AreaBefore(int64_t t) const {
  t = std::max<int64_t>(t, 0);
  const Piece* p = PieceAt(t);
  if (p == nullptr) return area_ + final_value_ * Seconds(t - length_nanos_);
  return p->area_before + AreaIn(p->segment, t - p->start_nanos);
}

double LoadProfile::MeanOver(int64_t from, int64_t to) const {
  return (AreaBefore(to) - AreaBefore(from)) / Seconds(to - from);
}

int64_t LoadProfile::TimeOfArea(double area) const {
  // The first piece whose area goes past `area`: a piece held at 0 never does.
  const auto it = std::partition_point(pieces_.begin(), pieces_.end(), [&](const Piece& p) {
    return p.area_before + AreaIn(p.segment, p.segment.duration_nanos) <= area;
  });
  if (it == pieces_.end()) {
    if (final_value_ <= 0) return kNever;
    // Computed from the area, not accumulated, so rounding never drifts.
    return length_nanos_ + ToNanos((area - area_) / final_value_);
  }
  // Solve from * s + slope * s^2 / 2 = delta for s, in the form that stays
  // exact when the slope is 0 and stable when it is negative.
  const LoadSegment& segment = it->segment;
  const double delta = area - it->area_before;
  const double slope = (segment.to - segment.from) / Seconds(segment.duration_nanos);
  const double root = std::sqrt(std::max(0.0, segment.from * segment.from + 2 * slope * delta));
  const double denominator = segment.from + root;
  const double seconds = denominator > 0 ? 2 * delta / denominator : 0;
  return it->start_nanos + std::min(ToNanos(seconds), segment.duration_nanos);
}

int64_t LoadProfile::TimeValueReaches(double level, int64_t after) const {
  after = std::max<int64_t>(after, 0);
  for (const Piece* p = PieceAt(after); p != nullptr && p != pieces_.data() + pieces_.size(); ++p) {
    const LoadSegment& segment = p->segment;
    const int64_t from = std::max(p->start_nanos, after);
    if (ValueIn(segment, from - p->start_nanos) >= level) return from;
    if (segment.to >= level && segment.to > segment.from) {
      const double exact = (level - segment.from) / (segment.to - segment.from) *
                           static_cast<double>(segment.duration_nanos);
      int64_t into = std::min(static_cast<int64_t>(std::ceil(exact)), segment.duration_nanos);
      // Rounding may leave the value there a hair under `level`: the first
      // nanosecond ValueAt agrees it is reached.
      while (into < segment.duration_nanos && ValueIn(segment, into) < level) ++into;
      return p->start_nanos + into;
    }
  }
  return final_value_ >= level ? std::max(after, length_nanos_) : kNever;
}

}  // namespace aurigraph::loadgen
