// One load-generating worker: decides when each request is sent (open loop from
// an arrival schedule, or closed loop at fixed concurrency), starts it through a
// Transport, and records its latency. Single-threaded and lock-free: each worker
// owns its transport and schedule, and records into its own IntervalRecorder.
#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <random>
#include <string_view>
#include <vector>

#include "common/clock/clock.h"
#include "loadgen/driver/wake_lead.h"
#include "loadgen/faults/recovery.h"
#include "loadgen/histogram/histogram.h"
#include "loadgen/histogram/latency.h"
#include "loadgen/interfaces/load_model.h"
#include "loadgen/interfaces/request_tracker.h"
#include "loadgen/interfaces/transport.h"
#include "loadgen/recorder/interval_timeline.h"
#include "loadgen/schedule/arrival_schedule.h"
#include "loadgen/schedule/load_profile.h"

namespace aurigraph::loadgen {

struct WorkerPlan {
  LoadModel model = LoadModel::kOpenLoop;
  int64_t start_nanos = 0;     // clock time of the run's start
  int64_t warmup_nanos = 0;    // requests intended before start + warmup are not recorded
  int64_t duration_nanos = 0;  // no request is intended at or after start + duration; 0 = none
  int64_t max_requests = 0;    // this worker's share of a request budget; 0 = none
  uint32_t max_in_flight = 1;  // open loop: bound; closed loop: the concurrency (its highest)
  // Closed loop: the concurrency of all workers over the run (this worker keeps
  // its WorkerShare of it in flight); empty: max_in_flight throughout.
  std::vector<LoadSegment> concurrency_profile;
  int64_t drain_timeout_nanos = 5'000'000'000;
  // Open loop: a request due within the duration may still go out this long
  // after its end (a late wake-up at the very end is not "behind"); what is
  // still due after that is counted as not sent.
  int64_t end_grace_nanos = 0;
  // Open loop: sleep only until this long before a send, then poll for
  // completions without sleeping until it is due (precision: spin); 0: sleep
  // until the send.
  int64_t spin_nanos = 0;
  std::vector<double> operation_weights;  // one per operation, > 0
  // One per operation (or empty): counts the items of each OK response; null = none.
  std::vector<const ResponseCounter*> response_counters;
  // One per operation (or empty): told of each request sent and of how its
  // call ended, for requests that finish later; null = none.
  std::vector<RequestTracker*> trackers;
  // Told of each successful call, for recovery figures; null = none.
  SuccessRecorder* successes = nullptr;
  uint64_t seed = 1;
  int worker_index = 0;
  int worker_count = 1;
  // Required: where everything is recorded, by interval (operation i is local
  // operation i): calls, latency, schedule and generator lag, what was not sent.
  IntervalRecorder* intervals = nullptr;
};

class Worker {
 public:
  // `sources[i]` builds requests for operation i; `schedule` is required in open loop.
  Worker(const Clock& clock, Transport& transport, std::vector<RequestSource*> sources,
         std::unique_ptr<ArrivalSchedule> schedule, WorkerPlan plan);

  // Runs until the duration or request budget is spent and every call has
  // completed (or been cancelled at the drain timeout). Nothing is sent at or
  // after the end of the duration, however far behind the schedule is: what was
  // due and not sent is counted. `stop` ends sending early.
  void Run(const std::atomic<bool>* stop = nullptr);
  int64_t sent() const { return sent_; }

 private:
  struct Slot {
    int64_t intended_nanos = 0;
    int64_t sent_nanos = 0;
    uint32_t operation = 0;
    TrackedRequest tracked;  // count 0: not tracked
  };
  bool MaySend(int64_t intended_nanos) const;
  // Whether every slot was busy at `intended_nanos`; asked in schedule order.
  bool DueWhileSlotsBusy(int64_t intended_nanos);
  // How long every slot was busy, in all, before clock time `t`; `t` is not
  // before the oldest period still kept (see busy_periods_).
  int64_t BusyNanosBefore(int64_t t) const;
  // The same up to `now`, which no busy period starts after.
  int64_t BusyNanosUntil(int64_t now) const;
  // Counts the arrivals from `next_intended` on that were due within the run
  // and not sent by `now`, its end.
  void CountNotSent(int64_t next_intended, int64_t now);
  // Closed loop: how many calls may be in flight at `now`, and when that next rises.
  uint32_t AllowedInFlight(int64_t now) const;
  int64_t NextRiseOfConcurrency(int64_t now) const;
  uint32_t PickOperation();
  void StartCall(int64_t intended_nanos, int64_t now);
  // Records `completion` as ended when the transport saw it end, or now.
  void Complete(const Transport::Completion& completion);
  // Records the call in `slot` as completed with `status_code` (and, failed,
  // `status_message`) at `now`.
  void Record(const Slot& slot, int status_code, std::string_view status_message, int64_t items,
              int64_t now);

  const Clock& clock_;
  Transport& transport_;
  std::vector<RequestSource*> sources_;
  std::unique_ptr<ArrivalSchedule> schedule_;
  WorkerPlan plan_;
  LoadProfile concurrency_;  // closed loop, of all workers
  std::vector<double> cumulative_weights_;
  std::mt19937_64 rng_;
  std::vector<Slot> slots_;
  std::vector<uint32_t> free_slots_;
  // Open loop: the periods in which every slot was busy, oldest first; the last
  // one is open (end = INT64_MAX) while it lasts. A request due in one of them
  // waited for the target, not for the generator. Older periods are dropped as
  // the schedule passes them, so this holds only what the backlog spans.
  struct BusyPeriod {
    int64_t start;
    int64_t end;
    int64_t busy_before;  // the busy time of every earlier period
  };
  std::deque<BusyPeriod> busy_periods_;
  int64_t busy_nanos_closed_ = 0;  // the busy time of every ended period
  uint64_t next_sequence_;
  int64_t sent_ = 0;
  // Open loop: whether the worker sleeps through completions until each send
  // (Transport::SleepThrough), from the first wait of kSleepThroughNanos or
  // more on. With shorter waits, calls are mostly still in flight at the next
  // send, and waiting for them on this thread costs less than the wake-ups of
  // the transport's own thread that sleeping through them takes (at 10,000/s:
  // 65 us of CPU per request against 67-70; at 2,000/s it is the other way:
  // 105-129 against 125-183). Once started, the transport's thread takes every completion, so
  // sleeping through them stays the cheaper way.
  static constexpr int64_t kSleepThroughNanos = 300'000;
  bool sleeping_through_ = false;
  // Sleeping through, how much earlier than a send to ask to be woken, and
  // the send the last sleep was for (once woken, the rest is polled).
  WakeLead wake_lead_;
  int64_t woken_early_for_ = -1;
};

}  // namespace aurigraph::loadgen
