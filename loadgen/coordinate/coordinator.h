// The coordinator of a run split across worker processes on one or many
// machines (loadbench.coordination.v1.Coordinator over gRPC). Workers join and
// learn the run and their share; once all of them are ready (connected to the
// target, planned) it gives one start a few seconds ahead on its clock, which
// each worker shifts by its measured offset; then it keeps every worker's
// interval logs as they stream in, in OUT/worker-K, so the run can be merged
// even when a worker's machine is lost, and notices a worker that stops.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/clock/clock.h"

namespace aurigraph::loadgen {

struct CoordinatorOptions {
  std::string listen;  // HOST:PORT; port 0 picks a free one
  int workers = 1;
  std::string scenario_json;  // what each worker runs
  std::string target;
  std::string run_id;  // ${run}, the same in every worker
  std::string tool_version;
  std::string out_dir;  // OUT/worker-K is created for each
  int64_t barrier_timeout_nanos = 0;
  int64_t start_delay_nanos = 0;  // from the last worker ready to the start
  const Clock* wall_clock = &WallClock::Instance();
};

// One worker as the coordinator sees it.
struct WorkerStatus {
  int index = 0;
  std::string host;
  bool joined = false;
  bool ready = false;
  int64_t clock_offset_nanos = 0;
  int64_t clock_round_trip_nanos = 0;
  bool streaming = false;
  bool finished = false;      // its last chunk arrived
  bool lost = false;          // its stream ended without one
  double logged_seconds = 0;  // the end of its last interval received
};

// Merged figures of one interval, once every live worker has sent it.
struct IntervalProgress {
  double offset_seconds = 0;
  double seconds = 0;
  int64_t completed = 0;  // calls (and stream messages) completed, all operations
  int64_t errors = 0;
  int64_t p99_us = -1;  // of every operation's successful calls, merged; -1: none
  int reporting = 0;    // workers whose interval this is
};

class Coordinator {
 public:
  static absl::StatusOr<std::unique_ptr<Coordinator>> Start(CoordinatorOptions options);
  ~Coordinator();

  int port() const;
  // Blocks until every worker is ready, then gives the start (Unix nanoseconds
  // on the coordinator's clock). DEADLINE_EXCEEDED ("k of N workers arrived")
  // when the barrier times out first, ABORTED when `stop` is set; the workers
  // waiting are answered the same.
  absl::StatusOr<int64_t> AwaitStart(const std::atomic<bool>& stop);
  // Blocks until every worker has finished or been lost (or `stop` is set),
  // telling `on_interval` of each interval all live workers have sent.
  void AwaitEnd(const std::atomic<bool>& stop,
                const std::function<void(const IntervalProgress&)>& on_interval);
  std::vector<WorkerStatus> workers() const;
  // OUT/worker-K for each worker.
  std::vector<std::string> worker_dirs() const;

 private:
  class Service;
  explicit Coordinator(std::unique_ptr<Service> service);
  std::unique_ptr<Service> service_;
};

}  // namespace aurigraph::loadgen
