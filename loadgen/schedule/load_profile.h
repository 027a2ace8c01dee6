// A load that changes over a run: a piecewise-linear rate (open loop, requests
// per second) or concurrency (closed loop) made of holds and ramps. The arrival
// schedule turns a rate profile into intended send times (request k is due when
// the area under the rate reaches k, so the intended-time rule holds through
// every change of rate); a closed-loop worker asks a concurrency profile how
// many calls may be in flight now, and when that will next rise.
#pragma once

#include <cstdint>
#include <limits>
#include <vector>

#include "loadgen/interfaces/load_model.h"

namespace aurigraph::loadgen {

class LoadProfile {
 public:
  // A time (offset from the run's start) no run reaches; a clock time can be
  // added to it without overflow.
  static constexpr int64_t kNever = std::numeric_limits<int64_t>::max() / 4;

  // `value` from the start on, for ever.
  static LoadProfile Constant(double value);
  // `segments` one after another from the start; after the last, its `to` holds.
  explicit LoadProfile(const std::vector<LoadSegment>& segments);

  int64_t length_nanos() const { return length_nanos_; }
  double final_value() const { return final_value_; }
  double MaxValue() const;

  // All times are offsets from the run's start, in nanoseconds.
  double ValueAt(int64_t t) const;
  // The area under the value over [0, t), in value x seconds: at a rate, the
  // requests due before t.
  double AreaBefore(int64_t t) const;
  // The mean value over [from, to); `to` > `from`.
  double MeanOver(int64_t from, int64_t to) const;
  // The earliest time the area reaches `area` where the value is not held at
  // 0 (a request due at the start of a pause goes out when the pause ends);
  // kNever when it never does.
  int64_t TimeOfArea(double area) const;
  // The earliest time at or after `after` when the value is at least `level`;
  // kNever when it never is.
  int64_t TimeValueReaches(double level, int64_t after) const;

 private:
  struct Piece {
    int64_t start_nanos;
    double area_before;
    LoadSegment segment;
  };
  // The piece that holds offset `t`, or null past the last.
  const Piece* PieceAt(int64_t t) const;

  std::vector<Piece> pieces_;  // each of positive duration
  int64_t length_nanos_ = 0;
  double area_ = 0;  // under all pieces
  double final_value_ = 0;
};

}  // namespace aurigraph::loadgen
