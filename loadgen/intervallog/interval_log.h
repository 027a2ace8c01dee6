// Interval logs, written as a run goes and flushed every interval, so a run
// that is killed (even with SIGKILL) leaves every completed interval readable:
//
//   latency.hlog     HdrHistogram interval log (format 1.3): per interval one
//                    line per operation, tagged with its name, holding that
//                    interval's latency histogram (microseconds, V2 compressed,
//                    base64), plus "schedule_lag" for the generator. Standard
//                    HdrHistogram tools read it.
//   intervals.jsonl  a first line describing the run, then one line per interval:
//                    counts and codes per operation, items, exact percentiles,
//                    and the loadgen's and the target's RSS, CPU and open fds.
//
// RecoverRun rebuilds a result from what a run left there.
#pragma once

#include <cstdio>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "loadgen/result/run_result.h"
#include "loadgen/runner/interval_observer.h"

namespace aurigraph::loadgen {

inline constexpr const char* kHistogramLogName = "latency.hlog";
inline constexpr const char* kIntervalsLogName = "intervals.jsonl";

// What the logs record about the run before it starts.
struct IntervalLogHeader {
  std::string scenario_name;
  std::string scenario_json;
  std::string target;
  std::string tool_version;
  std::string host;
  std::string load_model;
  int64_t warmup_nanos = 0;
};

class IntervalLogWriter : public IntervalObserver {
 public:
  // Creates (truncates) both files in `dir`; an error names the file.
  static absl::StatusOr<std::unique_ptr<IntervalLogWriter>> Create(const std::string& dir,
                                                                   IntervalLogHeader header);
  ~IntervalLogWriter() override;

  void OnRunStart(const IntervalRunInfo& run) override;
  void OnInterval(const IntervalSlice& slice, const TimelinePoint& point) override;

 private:
  IntervalLogWriter(IntervalLogHeader header, std::FILE* histograms, std::FILE* intervals);

  const IntervalLogHeader header_;
  std::FILE* histograms_;
  std::FILE* intervals_;
  std::vector<std::string> tags_;  // per operation
};

// Rebuilds a result from DIR/intervals.jsonl and DIR/latency.hlog: operations,
// counts and codes, corrected latency (the merged interval histograms), the
// timeline, and the scenario's gates evaluated on it. A truncated last line
// (the process died while writing it) is ignored; anything else that does not
// parse is an error naming the file and line.
absl::StatusOr<RunResult> RecoverRun(const std::string& dir);

}  // namespace aurigraph::loadgen
