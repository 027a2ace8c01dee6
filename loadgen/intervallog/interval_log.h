// Interval logs, written as a run goes and flushed every interval, so a run
// that is killed (even with SIGKILL) leaves every completed interval readable:
//
//   latency.hlog     HdrHistogram interval log (format 1.3): per interval one
//                    line per histogram (microseconds, V2 compressed, base64).
//                    The tag "OP" (the operation's name) holds the latency of
//                    its successful calls; "OP.uncorrected", "OP.failed.CODE"
//                    and, for streams, "OP.first_message", "OP.inter_arrival",
//                    "OP.send_lag", "OP.close_latency", "OP.phase" the others;
//                    "schedule_lag" and "generator_lag" the generator's.
//                    Standard HdrHistogram tools read it.
//   intervals.jsonl  a first line describing the run, then one line per interval:
//                    counts and codes per operation, items, exact percentiles,
//                    failed calls' (streams') status messages by code (absent
//                    from logs written before they were kept), stream and
//                    generator counts, and the loadgen's and the
//                    target's RSS, CPU and open fds; a line per scheduled
//                    event as it starts and as it finishes ({"event": ...});
//                    a last line with what only the run's end knows (absent
//                    when the process was killed).
//
// Together they hold every interval whole, so RecoverRun rebuilds through the
// same result builder exactly the result the live run had.
#pragma once

#include <cstdio>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/input/input_file.h"
#include "loadgen/interfaces/interval_observer.h"
#include "loadgen/result/run_result.h"

namespace aurigraph::loadgen {

inline constexpr const char* kHistogramLogName = "latency.hlog";
inline constexpr const char* kIntervalsLogName = "intervals.jsonl";

// The key of an interval starting `seconds` into the run, as both logs spell
// its offset (milliseconds): the intervals of one run's logs, or of the
// processes of a split run, match by it.
int64_t OffsetKey(double seconds);

// What each event of a run adds to the two logs.
struct IntervalLogText {
  std::string intervals;   // lines of intervals.jsonl
  std::string histograms;  // lines of latency.hlog
};

// The logs' text, event by event: written to files here, or sent to a split
// run's coordinator, which appends it to its own copy.
class IntervalLogFormatter {
 public:
  IntervalLogText Start(const RunDescription& run);
  IntervalLogText Interval(const IntervalSlice& slice, const TimelinePoint& point) const;
  IntervalLogText End(const RunEnd& end) const;
  IntervalLogText Event(const EventResult& event) const;

 private:
  std::vector<std::string> tags_;  // per operation
};

// A run directory's two log files, appended to and flushed event by event.
class IntervalLogFiles {
 public:
  // Creates (truncates) both files in `dir`; an error names the file.
  static absl::StatusOr<std::unique_ptr<IntervalLogFiles>> Create(const std::string& dir);
  ~IntervalLogFiles();
  void Append(const IntervalLogText& text);

 private:
  IntervalLogFiles(std::FILE* histograms, std::FILE* intervals);
  std::FILE* histograms_;
  std::FILE* intervals_;
};

class IntervalLogWriter : public IntervalObserver {
 public:
  // Creates (truncates) both files in `dir`; an error names the file.
  static absl::StatusOr<std::unique_ptr<IntervalLogWriter>> Create(const std::string& dir);

  void OnRunStart(const RunDescription& run) override;
  void OnInterval(const IntervalSlice& slice, const TimelinePoint& point) override;
  void OnEvent(const EventResult& event) override;
  void OnRunEnd(const RunEnd& end) override;

 private:
  explicit IntervalLogWriter(std::unique_ptr<IntervalLogFiles> files);

  std::unique_ptr<IntervalLogFiles> files_;
  IntervalLogFormatter formatter_;
};

// Reads a run's interval logs back interval by interval, each whole (its
// counts and every histogram), holding one interval at a time: a day-long log
// is read in the memory of one interval.
class IntervalLogReader {
 public:
  // Reads the run's description; an error names the file and line.
  static absl::StatusOr<std::unique_ptr<IntervalLogReader>> Open(const std::string& dir);
  ~IntervalLogReader();

  const RunDescription& run() const { return run_; }
  // The next interval into `slice` (reset first) and `point`; false after the
  // last. A last line cut off as the process died is not an interval; any other
  // damage is an error naming the file and line.
  absl::StatusOr<bool> Next(IntervalSlice& slice, TimelinePoint& point);
  // What the run's end knows, once Next returned false (all -1: the process was killed).
  const RunEnd& end() const { return end_; }
  // The events logged so far (each as last logged: started, then finished).
  const std::vector<EventResult>& events() const { return events_; }
  const std::string& intervals_path() const { return intervals_path_; }

 private:
  struct HeldHistogram {
    int64_t offset_key;
    std::string tag;
    std::unique_ptr<Histogram> histogram;
    size_t line_number;
  };
  IntervalLogReader(std::string intervals_path, std::string histograms_path, LineReader intervals);
  // Adds the .hlog's lines for the interval at `offset_key` to `slice`.
  absl::Status ReadHistograms(int64_t offset_key, IntervalSlice& slice);

  std::string intervals_path_;
  std::string histograms_path_;
  LineReader intervals_;
  std::optional<LineReader> histograms_;         // empty when absent or read to its end
  std::optional<HeldHistogram> held_histogram_;  // read, belongs to a later interval
  RunDescription run_;
  std::vector<std::string> tags_;  // per operation
  RunEnd end_;
  std::vector<EventResult> events_;
  size_t line_number_ = 1;
  size_t histogram_line_number_ = 0;
  size_t intervals_read_ = 0;
};

// Rebuilds a result from DIR/intervals.jsonl and DIR/latency.hlog, with the
// generator judged and the scenario's gates evaluated on it. A truncated last
// line (the process died while writing it) is ignored; anything else that does
// not parse is an error naming the file and line.
absl::StatusOr<RunResult> RecoverRun(const std::string& dir);

}  // namespace aurigraph::loadgen
