// The live progress line.
#include "loadgen/progress/progress.h"

#include <gtest/gtest.h>

#include <sstream>

namespace aurigraph::loadgen {
namespace {

TEST(Progress, PlainLinesAtTheGivenSpacingWhenNotATerminal) {
  std::ostringstream out;
  ProgressPrinter progress(out, /*terminal=*/false, /*every_seconds=*/10);
  RunDescription run;
  run.interval_nanos = 1'000'000'000;
  run.duration_nanos = 60'000'000'000;
  run.target_rate = 500;
  run.operations = {{"get", "a.S/Get"}};
  progress.OnRunStart(run);
  for (int i = 0; i < 25; ++i) {
    IntervalSlice slice(1);
    for (int n = 0; n < 500; ++n) {
      slice.operations[0].Record(n < 490 ? 800 : 5000, 700, n < 499 ? 0 : 14);
    }
    TimelinePoint point;
    point.offset_seconds = i;
    point.seconds = 1;
    point.warmup = i < 2;
    point.operations.resize(1);
    point.operations[0].errors = 1;
    progress.OnInterval(slice, point);
  }
  progress.Finish();
  // At 1 s, 11 s and 21 s.
  EXPECT_EQ(out.str(),
            "progress [1s / 1m] 500/s of 500/s  p50 800us  p99 5.003ms  errors 1 (0.20%)  warm-up\n"
            "progress [11s / 1m] 500/s of 500/s  p50 800us  p99 5.003ms  errors 11 (0.20%)\n"
            "progress [21s / 1m] 500/s of 500/s  p50 800us  p99 5.003ms  errors 21 (0.20%)\n");
}

}  // namespace
}  // namespace aurigraph::loadgen
