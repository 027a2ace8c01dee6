// A worker's side of a coordinated split run (coordinator.h): it joins and
// learns the run and its share, measures its clock against the coordinator's,
// waits at the barrier for the start, and, as an interval observer, forwards
// its interval logs to the coordinator as it writes its own.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "loadgen/interfaces/interval_observer.h"
#include "loadgen/intervallog/interval_log.h"
#include "loadgen/runner/runner.h"

namespace aurigraph::loadgen {

struct JoinedRun {
  int worker_index = 0;
  int worker_count = 1;
  std::string scenario_json;
  std::string target;
  std::string run_id;
};

class WorkerSession : public IntervalObserver {
 public:
  // Joins the run the coordinator at `address` holds as `worker_index` (-1:
  // any free one), waiting up to `timeout_nanos` to reach it. UNAVAILABLE when
  // it cannot be reached, ABORTED when `stop` is set first; the coordinator's
  // refusal otherwise.
  static absl::StatusOr<std::unique_ptr<WorkerSession>> Join(const std::string& address,
                                                             int worker_index,
                                                             const std::string& tool_version,
                                                             int64_t timeout_nanos,
                                                             const std::atomic<bool>& stop);
  ~WorkerSession() override;

  const JoinedRun& run() const { return run_; }
  // Measures the clock offset, reports ready and waits for every worker; the
  // start. DEADLINE_EXCEEDED when the coordinator's barrier timed out,
  // CANCELLED when `stop` was set while waiting.
  absl::StatusOr<SharedStart> AwaitStart(const std::atomic<bool>& stop);
  int64_t clock_offset_nanos() const { return clock_offset_nanos_; }
  int64_t clock_round_trip_nanos() const { return clock_round_trip_nanos_; }

  void OnRunStart(const RunDescription& run) override;
  void OnInterval(const IntervalSlice& slice, const TimelinePoint& point) override;
  void OnRunEnd(const RunEnd& end) override;

 private:
  class Channel;
  explicit WorkerSession(std::unique_ptr<Channel> channel, JoinedRun run);
  void Forward(const IntervalLogText& text, bool final);

  std::unique_ptr<Channel> channel_;
  JoinedRun run_;
  int64_t clock_offset_nanos_ = 0;
  int64_t clock_round_trip_nanos_ = 0;
  IntervalLogFormatter formatter_;
};

}  // namespace aurigraph::loadgen
