// Fault events during a run: at set times from the run's start, run a shell
// command (kill a server, cut a link) or a caller-supplied action (an RPC), one
// at a time in time order, and record what each did and when. The times come
// from the run's clock, so a ManualClock drives the runner in tests.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "common/clock/clock.h"

namespace aurigraph::loadgen {

// What one event did. Times are nanoseconds from the run's start.
struct EventOutcome {
  std::string name;
  int64_t at_nanos = 0;         // planned
  int64_t started_nanos = -1;   // -1: not run
  int64_t finished_nanos = -1;  // -1: not run, or still running (on_event at its start)
  bool ok = false;
  int exit_code = -1;  // a command's exit status, or 128+signal; a call's own (e.g. a gRPC code)
  std::string output;  // the first 4 KiB of a command's stdout+stderr, or a call's response
  std::string error;   // why it failed, one line; empty when ok
};

struct FaultEvent {
  std::string name;  // letters, digits, '-' and '_': it names the output file
  int64_t at_nanos = 0;
  // Exactly one action: a shell command (/bin/sh -c), or else `call`, which
  // fills ok, exit_code, output and error (the runner sets the rest). A call
  // must bound its own time (an RPC deadline): the runner cannot stop it.
  std::string exec;
  std::function<EventOutcome()> call;
};

// Names unique and well formed, each time within [0, duration), exactly one
// action; else INVALID_ARGUMENT naming the event.
absl::Status ValidateEvents(const std::vector<FaultEvent>& events, int64_t duration_nanos);

struct EventRunnerOptions {
  // A command's output goes to OUTPUT_DIR/events/NN-NAME.log (NN: its place in
  // time order, from 01), created as needed.
  std::string output_dir;
  int64_t timeout_nanos = 30'000'000'000;  // per command, in real time
  std::map<std::string, std::string> env;  // added to the inherited environment
  // On the runner thread, as each event starts (finished_nanos -1) and as it
  // finishes. It must not call back into the runner.
  std::function<void(const EventOutcome&)> on_event;
};

// Runs validated events on a thread of its own. A command runs in its own
// process group with stdin from /dev/null and stdout and stderr to its file (not
// a pipe, so a server it starts in the background with '&' outlives the shell
// without holding up the runner); it is waited for until the shell exits, and at
// the timeout its process group is killed. An event whose time has passed when
// the previous one finishes runs at once (its started time shows the delay).
class EventRunner {
 public:
  EventRunner(std::vector<FaultEvent> events, const Clock& clock, int64_t run_start_nanos,
              EventRunnerOptions options);
  ~EventRunner();  // Stop()
  EventRunner(const EventRunner&) = delete;
  EventRunner& operator=(const EventRunner&) = delete;

  // Starts the runner thread. A second call, or one after Stop(), does nothing.
  void Start();
  // Ends the wait for the next event: an event in progress is let finish (a
  // command within its timeout), those not yet run are reported not run.
  // Idempotent; returns once the runner thread has ended.
  void Stop();

  // The outcomes of the events finished so far, in the order they ran; after
  // Stop(), every event's.
  std::vector<EventOutcome> Outcomes() const;

 private:
  void Run();
  bool WaitUntil(int64_t due_nanos);  // false: stopped first
  EventOutcome RunEvent(int index);
  EventOutcome RunCommand(int index);
  int64_t SinceStart() const;

  const std::vector<FaultEvent> events_;  // in time order
  const Clock& clock_;
  const int64_t run_start_nanos_;
  const EventRunnerOptions options_;

  mutable std::mutex mu_;
  std::condition_variable wake_;
  bool stopping_ = false;           // guarded by mu_
  std::vector<EventOutcome> done_;  // guarded by mu_
  std::once_flag stopped_;
  std::thread thread_;
};

}  // namespace aurigraph::loadgen
