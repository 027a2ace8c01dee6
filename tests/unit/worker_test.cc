// The worker loop under a simulated clock and a scripted transport: rate
// control, coordinated-omission correction, warm-up and budgets, without
// sleeping. What a worker measured is read as the runner reads it: its
// timeline merged into the run's totals.
#include "loadgen/driver/worker.h"

#include <gtest/gtest.h>

#include <atomic>
#include <functional>
#include <map>
#include <string>
#include <tuple>
#include <utility>

#include "loadgen/recorder/run_totals.h"

namespace aurigraph::loadgen {
namespace {

constexpr int64_t kMs = 1'000'000;

// Completes each call after a service time chosen by `service_time(start_nanos)`,
// advancing the manual clock as the worker waits; the n-th completion (from 0)
// with the code and message `status(n)` gives (OK unless set).
class ScriptedTransport final : public Transport {
 public:
  ScriptedTransport(ManualClock& clock, std::function<int64_t(int64_t)> service_time)
      : clock_(clock), service_time_(std::move(service_time)) {}

  void Start(uint32_t slot, uint32_t operation, std::string_view request,
             std::span<const Header>) override {
    const int64_t now = clock_.NowNanos();
    pending_.emplace(now + service_time_(now), slot);
    clock_.Set(now + start_cost_(now));  // the generator's own time per send
    ++started_;
    last_request_ = std::string(request);
  }
  bool Next(int64_t timeout_nanos, Completion* completion) override {
    const int64_t now = clock_.NowNanos();
    if (timeout_nanos > 0) ++waits_;
    if (!pending_.empty() && pending_.begin()->first <= now + timeout_nanos) {
      clock_.Set(std::max(now, pending_.begin()->first));
      completion->completed_nanos = pending_.begin()->first;
      completion->slot = pending_.begin()->second;
      std::tie(completion->status_code, status_message_) =
          cancelled_ ? std::pair<int, std::string>(1, "") : status_(completed_++);
      completion->status_message = status_message_;
      pending_.erase(pending_.begin());
      return true;
    }
    if (timeout_nanos == 0) ++polls_;
    clock_.Set(now + timeout_nanos + (timeout_nanos > 0 ? wake_lateness_ : 0) + poll_cost_);
    return false;
  }
  void SleepThrough(int64_t nanos) override {
    ++sleeps_;
    clock_.Set(clock_.NowNanos() + nanos + (nanos > 0 ? wake_lateness_ : 0));
  }
  void CancelAll() override {
    cancelled_ = true;
    std::multimap<int64_t, uint32_t> now_done;
    for (const auto& [when, slot] : pending_) now_done.emplace(clock_.NowNanos(), slot);
    pending_ = std::move(now_done);
  }
  void set_start_cost(int64_t nanos) {
    start_cost_ = [nanos](int64_t) { return nanos; };
  }
  // The send started at `start_nanos` costs the generator `start_cost(start_nanos)`.
  void set_start_cost(std::function<int64_t(int64_t)> start_cost) {
    start_cost_ = std::move(start_cost);
  }
  // A look at the queue that finds nothing costs the generator this much.
  void set_poll_cost(int64_t nanos) { poll_cost_ = nanos; }
  // A wait that times out wakes this much after its time, as sleeping timers do.
  // A worker woken early then polls until its send: each look costs at least
  // 1 ns here, so that it gets there.
  void set_wake_lateness(int64_t nanos) {
    wake_lateness_ = nanos;
    poll_cost_ = std::max<int64_t>(poll_cost_, 1);
  }
  void set_status(std::function<std::pair<int, std::string>(int)> status) {
    status_ = std::move(status);
  }
  int started() const { return started_; }
  const std::string& last_request() const { return last_request_; }
  // How often the worker slept through completions, and waited for one (each
  // a wake-up of its thread in a real transport).
  int sleeps() const { return sleeps_; }
  int waits() const { return waits_; }
  // How often a look at the queue found nothing.
  int polls() const { return polls_; }

 private:
  ManualClock& clock_;
  std::function<int64_t(int64_t)> service_time_;
  std::multimap<int64_t, uint32_t> pending_;
  std::function<int64_t(int64_t)> start_cost_ = [](int64_t) { return int64_t{0}; };
  int64_t poll_cost_ = 0;
  int64_t wake_lateness_ = 0;
  int started_ = 0;
  int sleeps_ = 0;
  int waits_ = 0;
  int polls_ = 0;
  bool cancelled_ = false;
  std::function<std::pair<int, std::string>(int)> status_ = [](int) {
    return std::pair<int, std::string>(0, "");
  };
  int completed_ = 0;
  std::string status_message_;  // the last completion's, valid until Next()
  std::string last_request_;
};

class CountingSource final : public RequestSource {
 public:
  std::string_view Build(const RequestContext& context) override {
    text_ = std::to_string(context.sequence);
    return text_;
  }

 private:
  std::string text_;
};

WorkerPlan OpenLoop(int64_t duration, uint32_t in_flight) {
  WorkerPlan plan;
  plan.model = LoadModel::kOpenLoop;
  plan.start_nanos = 0;
  plan.duration_nanos = duration;
  plan.max_in_flight = in_flight;
  plan.operation_weights = {1};
  return plan;
}

// A worker's only record, its timeline (100 ms intervals), and the run's
// totals merged from it as the runner merges them.
class Recorded {
 public:
  // Gives `plan` a recorder; the plan's start and warm-up place the intervals.
  Recorded(WorkerPlan& plan, size_t operations = 1)
      : timeline_(plan.start_nanos, 100 * kMs, operations, 1, plan.start_nanos + plan.warmup_nanos),
        recorder_(timeline_, 0, Ids(operations)),
        totals_(operations) {
    plan.intervals = &recorder_;
  }
  // The intervals the worker handed over, oldest first (taken once).
  std::vector<IntervalSlice> Slices() { return timeline_.TakeCompleted(); }
  // The run's figures (after the worker has run).
  const RunTotals& Totals() {
    for (const IntervalSlice& slice : timeline_.TakeCompleted()) {
      totals_.Add(slice, timeline_.IsMeasured(slice.index));
    }
    return totals_;
  }

 private:
  static std::vector<uint32_t> Ids(size_t operations) {
    std::vector<uint32_t> ids;
    for (uint32_t i = 0; i < operations; ++i) ids.push_back(i);
    return ids;
  }
  IntervalTimeline timeline_;
  IntervalRecorder recorder_;
  RunTotals totals_;
};

TEST(Worker, OpenLoopSendsOnScheduleAndMeasuresServiceTime) {
  ManualClock clock;
  ScriptedTransport transport(clock, [](int64_t) { return 2 * kMs; });
  CountingSource source;
  WorkerPlan plan = OpenLoop(1000 * kMs, 16);
  Recorded recorded(plan);
  Worker worker(clock, transport, {&source},
                std::make_unique<ArrivalSchedule>(1000, ArrivalProcess::kConstant, 0, 1, 1), plan);
  worker.Run();
  const RunTotals& totals = recorded.Totals();
  const IntervalOperation& op = totals.operation(0);
  EXPECT_EQ(totals.all().sent, 1000);
  EXPECT_EQ(op.completed(), 1000);
  EXPECT_EQ(op.codes[0], 1000);
  EXPECT_EQ(op.latency.ValueAtPercentile(100), 2000);
  EXPECT_EQ(op.uncorrected.ValueAtPercentile(100), 2000);
  EXPECT_EQ(totals.all().schedule_lag.Max(), 0);
  EXPECT_EQ(totals.all().generator.delayed_by_in_flight_bound, 0);
  EXPECT_EQ(transport.last_request(), "999");
}

// Open loop with a slot free: the worker sleeps until each send, not waking
// for the calls that end meanwhile, and records each at the time it ended (as
// the transport stamped it), not when it was seen at the next send.
TEST(Worker, OpenLoopWakesOncePerSendAndTimesEachCallByItsOwnEnd) {
  ManualClock clock;
  ScriptedTransport transport(clock, [](int64_t) { return kMs / 10; });
  CountingSource source;
  WorkerPlan plan = OpenLoop(1000 * kMs, 4);
  Recorded recorded(plan);
  Worker worker(clock, transport, {&source},
                std::make_unique<ArrivalSchedule>(1000, ArrivalProcess::kConstant, 0, 1, 1), plan);
  worker.Run();
  const RunTotals& totals = recorded.Totals();
  const IntervalOperation& op = totals.operation(0);
  ASSERT_EQ(op.completed(), 1000);
  EXPECT_EQ(op.latency.Min(), 100);
  EXPECT_EQ(op.latency.Max(), 100);
  // One sleep before each send after the first; the only wait for a
  // completion is the drain's.
  EXPECT_EQ(transport.sleeps(), 999);
  EXPECT_LE(transport.waits(), 2);
}

TEST(Worker, CorrectedLatencyShowsAStallThatUncorrectedHides) {
  ManualClock clock;
  // 0.5 ms service time, except the call started at t = 200 ms, which stalls 100 ms.
  ScriptedTransport transport(
      clock, [](int64_t start) { return start == 200 * kMs ? 100 * kMs : 1 * kMs / 2; });
  CountingSource source;
  WorkerPlan plan = OpenLoop(1000 * kMs, 1);
  Recorded recorded(plan);
  Worker worker(clock, transport, {&source},
                std::make_unique<ArrivalSchedule>(1000, ArrivalProcess::kConstant, 0, 1, 1), plan);
  worker.Run();
  const RunTotals& totals = recorded.Totals();
  const IntervalOperation& op = totals.operation(0);
  ASSERT_EQ(op.completed(), 1000);
  // Uncorrected: one slow call in a thousand; p99 never sees it.
  EXPECT_LE(op.uncorrected.ValueAtPercentile(99), 1000);
  EXPECT_GE(op.uncorrected.Max(), 100'000);
  // Corrected: the ~100 requests due during the stall waited for it, from ~100 ms down.
  EXPECT_GE(op.latency.ValueAtPercentile(99), 90'000);
  EXPECT_GE(op.latency.ValueAtPercentile(95), 50'000);
  EXPECT_GE(totals.all().generator.delayed_by_in_flight_bound, 99);
  // The generator itself was never late: every late send waited for the in-flight slot.
  EXPECT_EQ(totals.all().generator_lag.Max(), 0);
}

TEST(Worker, OnlyTheLagWhileASlotWasFreeIsTheGenerators) {
  ManualClock clock;
  // Two slots. The generator loses 6 ms at the send at 199 ms; the two calls it
  // then sends at 205 ms both stall 100 ms, so the requests due at 202-205 ms,
  // meant before the slots filled, go out at 305 ms.
  ScriptedTransport transport(clock, [](int64_t start) {
    return start >= 205 * kMs && start < 206 * kMs ? 100 * kMs : kMs / 2;
  });
  transport.set_start_cost([](int64_t start) { return start == 199 * kMs ? 6 * kMs : 0; });
  CountingSource source;
  WorkerPlan plan = OpenLoop(1000 * kMs, 2);
  Recorded recorded(plan);
  Worker worker(clock, transport, {&source},
                std::make_unique<ArrivalSchedule>(1000, ArrivalProcess::kConstant, 0, 1, 1), plan);
  worker.Run();
  const RunTotals& totals = recorded.Totals();
  EXPECT_GE(totals.all().schedule_lag.Max(), 100'000);
  // Of their ~100 ms lag, all but what the generator lost was spent waiting for a slot.
  EXPECT_GE(totals.all().generator_lag.Max(), 5'000);
  EXPECT_LE(totals.all().generator_lag.Max(), 6'000);
  EXPECT_GE(totals.all().generator.delayed_by_in_flight_bound, 99);
}

TEST(Worker, HandOversUnderASustainedOverloadAreNotTheGeneratorsLag) {
  ManualClock clock;
  // Four slots of 5 ms each serve 800/s; 1000/s are due for 2 s, so the
  // backlog grows to about 400. The generator takes 50 us between a completion
  // and the send that takes its slot.
  ScriptedTransport transport(clock, [](int64_t) { return 5 * kMs; });
  transport.set_poll_cost(50'000);
  CountingSource source;
  WorkerPlan plan = OpenLoop(2000 * kMs, 4);
  plan.end_grace_nanos = 10 * kMs;
  Recorded recorded(plan);
  Worker worker(clock, transport, {&source},
                std::make_unique<ArrivalSchedule>(1000, ArrivalProcess::kConstant, 0, 1, 1), plan);
  worker.Run();
  const RunTotals& totals = recorded.Totals();
  EXPECT_GE(totals.all().schedule_lag.Max(), 400'000);
  // Each waited behind hundreds of hand-overs; none of them was its own lag.
  EXPECT_LE(totals.all().generator_lag.Max(), 100);
  EXPECT_GT(totals.all().generator.not_sent_in_flight_bound, 300);
  EXPECT_EQ(totals.all().generator.not_sent_generator_behind, 0);
}

// Timers wake 70 us late; a look at the queue costs 1 us. 200 sends at 200/s,
// each call answered in 1 ms: the schedule lag's histogram (us).
Histogram ScheduleLagWithLateWakeUps(int64_t spin_nanos, int64_t* polls = nullptr) {
  ManualClock clock;
  ScriptedTransport transport(clock, [](int64_t) { return kMs; });
  transport.set_wake_lateness(70'000);
  transport.set_poll_cost(1'000);
  CountingSource source;
  WorkerPlan plan = OpenLoop(1000 * kMs, 4);
  plan.spin_nanos = spin_nanos;
  Recorded recorded(plan);
  Worker worker(clock, transport, {&source},
                std::make_unique<ArrivalSchedule>(200, ArrivalProcess::kConstant, 0, 1, 1), plan);
  worker.Run();
  EXPECT_EQ(worker.sent(), 200);
  if (polls != nullptr) *polls = transport.polls();
  return recorded.Totals().all().schedule_lag;
}

TEST(Worker, SpinningTheLastStretchBeforeASendBeatsALateWakeUp) {
  EXPECT_LE(ScheduleLagWithLateWakeUps(200'000).Max(), 1);  // within a look at the queue
  // A window shorter than the lateness does not help fully (the learned lead
  // takes over after a few sends).
  EXPECT_GE(ScheduleLagWithLateWakeUps(50'000).Max(), 20);
}

TEST(Worker, SleepingWakesAsEarlyAsItsWakeUpsAreLate) {
  int64_t polls = 0;
  const Histogram lag = ScheduleLagWithLateWakeUps(0, &polls);
  // The first sends are as late as their wake-ups, until the lead is learned...
  EXPECT_GE(lag.Max(), 70);
  // ...in a few sleeps: then each send is within a step of its time.
  EXPECT_LE(lag.ValueAtPercentile(90), 4);
  // At the cost of a few looks at the queue per send, not a spin.
  EXPECT_LE(polls, 200 * 8);
}

TEST(Worker, WhatAStallAtTheEndHeldBackIsNotBlamedOnTheGenerator) {
  ManualClock clock;
  // Two slots. The generator loses 6 ms at the send at 989 ms; the two calls it
  // then sends at 995 ms stall past the run's end (1 s, plus 10 ms of grace).
  ScriptedTransport transport(clock, [](int64_t start) {
    return start >= 995 * kMs && start < 996 * kMs ? 100 * kMs : kMs / 2;
  });
  transport.set_start_cost([](int64_t start) { return start == 989 * kMs ? 6 * kMs : 0; });
  CountingSource source;
  WorkerPlan plan = OpenLoop(1000 * kMs, 2);
  plan.end_grace_nanos = 10 * kMs;
  Recorded recorded(plan);
  Worker worker(clock, transport, {&source},
                std::make_unique<ArrivalSchedule>(1000, ArrivalProcess::kConstant, 0, 1, 1), plan);
  worker.Run();
  const GeneratorCounts& counts = recorded.Totals().all().generator;
  EXPECT_EQ(worker.sent(), 992);
  // Those meant at 992-994 ms were due before the slots filled, but of their
  // wait only the 6 ms lost was the generator's, within the grace.
  EXPECT_EQ(counts.not_sent_in_flight_bound, 8);
  EXPECT_EQ(counts.not_sent_generator_behind, 0);
}

TEST(Worker, TheLastCompletionIsTimedFromTheRunsStart) {
  ManualClock clock;
  ScriptedTransport transport(clock, [](int64_t) { return 2 * kMs; });
  CountingSource source;
  WorkerPlan plan = OpenLoop(0, 4);
  plan.start_nanos = 7'000 * kMs;  // the clock's time when the run starts
  plan.max_requests = 100;
  Recorded recorded(plan);
  Worker worker(clock, transport, {&source},
                std::make_unique<ArrivalSchedule>(1000, ArrivalProcess::kConstant, 0, 1, 1), plan);
  worker.Run();
  // The 100th request is meant at 99 ms and takes 2 ms: a request budget's
  // measured window ends there, not 7 s of clock later.
  EXPECT_EQ(recorded.Totals().all().generator.last_completion_nanos, 101 * kMs);
}

TEST(Worker, LagDuringWarmUpDoesNotJudgeTheGenerator) {
  ManualClock clock;
  ScriptedTransport transport(clock, [](int64_t) { return kMs / 2; });
  transport.set_start_cost([](int64_t start) { return start == 100 * kMs ? 50 * kMs : 0; });
  CountingSource source;
  WorkerPlan plan = OpenLoop(1000 * kMs, 16);
  plan.warmup_nanos = 300 * kMs;
  Recorded recorded(plan);
  Worker worker(clock, transport, {&source},
                std::make_unique<ArrivalSchedule>(1000, ArrivalProcess::kConstant, 0, 1, 1), plan);
  worker.Run();
  const RunTotals& totals = recorded.Totals();
  EXPECT_EQ(totals.all().sent, 1000);
  EXPECT_EQ(totals.all().schedule_lag.TotalCount(), 700);
  EXPECT_EQ(totals.all().schedule_lag.Max(), 0);
  EXPECT_EQ(totals.all().generator_lag.Max(), 0);
}

TEST(Worker, AGeneratorBehindItsScheduleStopsAtTheEndAndCountsWhatItDidNotSend) {
  ManualClock clock;
  ScriptedTransport transport(clock, [](int64_t) { return kMs; });
  transport.set_start_cost(2 * kMs);  // half the pace of the schedule
  CountingSource source;
  WorkerPlan plan = OpenLoop(1000 * kMs, 64);
  Recorded recorded(plan);
  Worker worker(clock, transport, {&source},
                std::make_unique<ArrivalSchedule>(1000, ArrivalProcess::kConstant, 0, 1, 1), plan);
  worker.Run();
  const RunTotals& totals = recorded.Totals();
  const GeneratorCounts& counts = totals.all().generator;
  const int64_t sent = totals.all().sent;
  EXPECT_NEAR(sent, 500, 2);
  EXPECT_EQ(worker.sent(), sent);
  EXPECT_EQ(sent + counts.not_sent_generator_behind + counts.not_sent_in_flight_bound, 1000);
  // Slots only ever filled for an instant, while finished calls waited to be collected.
  EXPECT_GT(counts.not_sent_generator_behind, 480);
  EXPECT_LT(counts.not_sent_in_flight_bound, 20);
  EXPECT_EQ(totals.operation(0).completed(), sent);
  // Nothing went out after the end: the run ends with the last call in flight.
  EXPECT_LE(counts.last_completion_nanos, 1003 * kMs);
  EXPECT_LE(clock.NowNanos(), 1003 * kMs);
}

TEST(Worker, ArrivalsHeldBackByTheInFlightBoundAreNotSentAfterTheEnd) {
  ManualClock clock;
  ScriptedTransport transport(clock, [](int64_t) { return 150 * kMs; });
  CountingSource source;
  WorkerPlan plan = OpenLoop(1000 * kMs, 1);
  Recorded recorded(plan);
  Worker worker(clock, transport, {&source},
                std::make_unique<ArrivalSchedule>(1000, ArrivalProcess::kConstant, 0, 1, 1), plan);
  worker.Run();
  const RunTotals& totals = recorded.Totals();
  EXPECT_EQ(totals.all().sent, 7);  // at 0, 150, ... 900 ms
  EXPECT_EQ(totals.all().generator.not_sent_in_flight_bound, 993);
  EXPECT_EQ(totals.all().generator.not_sent_generator_behind, 0);
  // The last call, in flight at the end, completes; nothing else is sent.
  EXPECT_EQ(totals.all().generator.last_completion_nanos, 1050 * kMs);
}

TEST(Worker, WarmupIsExcludedFromResults) {
  ManualClock clock;
  ScriptedTransport transport(clock, [](int64_t) { return kMs; });
  CountingSource source;
  WorkerPlan plan = OpenLoop(1000 * kMs, 8);
  plan.warmup_nanos = 250 * kMs;
  Recorded recorded(plan);
  Worker worker(clock, transport, {&source},
                std::make_unique<ArrivalSchedule>(100, ArrivalProcess::kConstant, 0, 1, 1), plan);
  worker.Run();
  const RunTotals& totals = recorded.Totals();
  EXPECT_EQ(totals.all().sent, 100);
  EXPECT_EQ(totals.all().generator.warmup_completions, 25);
  EXPECT_EQ(totals.operation(0).completed(), 75);
}

TEST(Worker, AWarmupRequestCompletingAfterWarmupIsNotMeasured) {
  ManualClock clock;
  // Every call takes 30 ms: those sent in the last 30 ms of warm-up complete after it.
  ScriptedTransport transport(clock, [](int64_t) { return 30 * kMs; });
  CountingSource source;
  WorkerPlan plan = OpenLoop(1000 * kMs, 8);
  plan.warmup_nanos = 250 * kMs;
  Recorded recorded(plan);
  Worker worker(clock, transport, {&source},
                std::make_unique<ArrivalSchedule>(100, ArrivalProcess::kConstant, 0, 1, 1), plan);
  worker.Run();
  const RunTotals& totals = recorded.Totals();
  EXPECT_EQ(totals.all().generator.warmup_completions, 25);
  EXPECT_EQ(totals.operation(0).completed(), 75);
  EXPECT_EQ(totals.operation(0).latency.TotalCount(), 75);
}

TEST(Worker, TimelineShowsAStallInTheIntervalItEnded) {
  ManualClock clock;
  // 0.1 ms service time, except the call started at t = 450 ms, which stalls 300 ms.
  ScriptedTransport transport(
      clock, [](int64_t start) { return start == 450 * kMs ? 300 * kMs : kMs / 10; });
  CountingSource source;
  WorkerPlan plan = OpenLoop(1000 * kMs, 1);
  plan.warmup_nanos = 100 * kMs;
  Recorded recorded(plan);
  Worker worker(clock, transport, {&source},
                std::make_unique<ArrivalSchedule>(1000, ArrivalProcess::kConstant, 0, 1, 1), plan);
  worker.Run();
  const std::vector<IntervalSlice> slices = recorded.Slices();
  // The run lasts its second: the eleventh interval begins as it ends, empty.
  ASSERT_EQ(slices.size(), 11u);
  EXPECT_EQ(slices[10].sent + slices[10].operations[0].count, 0);
  int64_t completions = 0, warmup = 0;
  for (size_t i = 0; i < slices.size(); ++i) {
    EXPECT_EQ(slices[i].index, static_cast<int64_t>(i));
    completions += slices[i].operations[0].count;
    warmup += slices[i].generator.warmup_completions;
  }
  // Warm-up included: every request is in exactly one interval.
  EXPECT_EQ(completions, 1000);
  EXPECT_EQ(warmup, 100);
  // Quiet intervals before the stall; the stall ends at 750 ms, in interval 7,
  // where the requests it held back complete late (corrected latency up to 300 ms).
  EXPECT_LE(slices[3].operations[0].latency.Max(), 1000);
  EXPECT_GE(slices[7].operations[0].latency.Max(), 299'000);
  EXPECT_GE(slices[7].operations[0].count, 300);
  EXPECT_EQ(slices[5].operations[0].count, 0);       // nothing completed while stalled
  EXPECT_EQ(slices[4].sent, 51);                     // sends stop when the slot is taken at 450 ms
  EXPECT_GE(slices[7].schedule_lag.Max(), 298'000);  // request 451, sent at 750 ms
  EXPECT_LE(slices[7].schedule_lag.Max(), 300'000);
}

TEST(Worker, ClosedLoopKeepsConcurrencyAndStopsAtTheBudget) {
  ManualClock clock;
  ScriptedTransport transport(clock, [](int64_t) { return 4 * kMs; });
  CountingSource source;
  WorkerPlan plan;
  plan.model = LoadModel::kClosedLoop;
  plan.max_requests = 400;
  plan.max_in_flight = 4;
  plan.operation_weights = {1};
  Recorded recorded(plan);
  Worker worker(clock, transport, {&source}, nullptr, plan);
  worker.Run();
  EXPECT_EQ(transport.started(), 400);
  const RunTotals& totals = recorded.Totals();
  EXPECT_EQ(totals.operation(0).completed(), 400);
  // 400 requests, 4 at a time, 4 ms each: 400 ms of simulated time.
  EXPECT_EQ(clock.NowNanos(), 400 * kMs);
  const Histogram& latency = totals.operation(0).latency;
  EXPECT_EQ(latency.Max(), latency.HighestEquivalent(4000));
}

// A concurrency profile: calls in flight follow the ramp, and a call is started
// at the moment the profile allows one more (no completion wakes the worker).
TEST(Worker, ClosedLoopFollowsAConcurrencyRampToTheNanosecond) {
  ManualClock clock;
  std::vector<int64_t> starts;
  ScriptedTransport transport(clock, [&](int64_t now) {
    starts.push_back(now);
    return 1000 * kMs;  // nothing completes before the run ends
  });
  CountingSource source;
  WorkerPlan plan;
  plan.model = LoadModel::kClosedLoop;
  plan.duration_nanos = 400 * kMs;
  plan.max_in_flight = 3;
  plan.concurrency_profile = {{1, 1, 100 * kMs}, {1, 3, 200 * kMs}, {3, 3, 100 * kMs}};
  plan.operation_weights = {1};
  Recorded recorded(plan);
  Worker worker(clock, transport, {&source}, nullptr, plan);
  worker.Run();
  EXPECT_EQ(starts, (std::vector<int64_t>{0, 200 * kMs, 300 * kMs}));
}

TEST(Worker, ClosedLoopSendsAtEachStepsConcurrency) {
  ManualClock clock;
  ScriptedTransport transport(clock, [](int64_t) { return 10 * kMs; });
  CountingSource source;
  WorkerPlan plan;
  plan.model = LoadModel::kClosedLoop;
  plan.duration_nanos = 600 * kMs;
  plan.max_in_flight = 4;
  // 1 in flight, then steps of one each 100 ms from 300 ms, then back to 1.
  plan.concurrency_profile = {
      {1, 1, 300 * kMs}, {2, 2, 100 * kMs}, {4, 4, 100 * kMs}, {1, 1, 100 * kMs}};
  plan.operation_weights = {1};
  Recorded recorded(plan);
  Worker worker(clock, transport, {&source}, nullptr, plan);
  worker.Run();
  std::vector<int64_t> sent;
  for (const IntervalSlice& slice : recorded.Slices()) sent.push_back(slice.sent);
  // 10 ms calls: 10 per interval per call in flight. Calls started at 4 in
  // flight finish before more start at 1; the last call ends in a 7th interval.
  EXPECT_EQ(sent, (std::vector<int64_t>{10, 10, 10, 20, 40, 10, 0}));
}

// A profile that ends in a pause still runs to its end (a recovery watched
// after the load), so its rate is over the whole window, not the busy part.
TEST(Worker, ARunLastsItsDurationThoughNothingIsDueAtItsEnd) {
  ManualClock clock;
  ScriptedTransport transport(clock, [](int64_t) { return kMs; });
  CountingSource source;
  WorkerPlan plan = OpenLoop(600 * kMs, 8);
  Recorded recorded(plan);
  Worker worker(
      clock, transport, {&source},
      std::make_unique<ArrivalSchedule>(LoadProfile({{100, 100, 200 * kMs}, {0, 0, 400 * kMs}}),
                                        ArrivalProcess::kConstant, 0, 1, 1),
      plan);
  worker.Run();
  EXPECT_EQ(transport.started(), 20);
  EXPECT_GE(clock.NowNanos(), 600 * kMs);
}

// A closed loop at a high concurrency starts its calls in slices, seeing
// `stop` between them, rather than in one burst it cannot leave.
TEST(Worker, ClosedLoopStartsABigConcurrencyInSlicesAndSeesStop) {
  ManualClock clock;
  std::atomic<bool> stop{false};
  int starts = 0;
  ScriptedTransport transport(clock, [&](int64_t) {
    if (++starts == 300) stop = true;
    return 1000 * kMs;
  });
  CountingSource source;
  WorkerPlan plan;
  plan.model = LoadModel::kClosedLoop;
  plan.duration_nanos = 2000 * kMs;
  plan.max_in_flight = 5000;
  plan.operation_weights = {1};
  Recorded recorded(plan);
  Worker worker(clock, transport, {&source}, nullptr, plan);
  worker.Run(&stop);
  EXPECT_GE(transport.started(), 300);
  EXPECT_LE(transport.started(), 512);  // the slice under way when stop came, no more
}

TEST(Worker, WeightedMixFollowsTheWeights) {
  ManualClock clock;
  ScriptedTransport transport(clock, [](int64_t) { return kMs; });
  CountingSource a, b;
  WorkerPlan plan = OpenLoop(10'000 * kMs, 64);
  plan.operation_weights = {3, 1};
  Recorded recorded(plan, 2);
  Worker worker(clock, transport, {&a, &b},
                std::make_unique<ArrivalSchedule>(2000, ArrivalProcess::kConstant, 0, 1, 1), plan);
  worker.Run();
  const RunTotals& totals = recorded.Totals();
  const double first = static_cast<double>(totals.operation(0).completed());
  const double second = static_cast<double>(totals.operation(1).completed());
  EXPECT_EQ(first + second, 20'000);
  EXPECT_NEAR(first / (first + second), 0.75, 0.01);
}

TEST(Worker, InFlightCallsAreCancelledAtTheDrainTimeout) {
  ManualClock clock;
  ScriptedTransport transport(clock,
                              [](int64_t start) { return start >= 90 * kMs ? 60'000 * kMs : kMs; });
  CountingSource source;
  WorkerPlan plan = OpenLoop(100 * kMs, 64);
  plan.drain_timeout_nanos = 500 * kMs;
  Recorded recorded(plan);
  Worker worker(clock, transport, {&source},
                std::make_unique<ArrivalSchedule>(100, ArrivalProcess::kConstant, 0, 1, 1), plan);
  worker.Run();
  const RunTotals& totals = recorded.Totals();
  EXPECT_EQ(totals.all().sent, 10);
  EXPECT_EQ(totals.all().generator.cancelled_at_drain, 1);
  EXPECT_EQ(totals.operation(0).codes[1], 1);  // CANCELLED
  EXPECT_LE(clock.NowNanos(), 700 * kMs);
}

// Fails to build every third request, as a template whose value outgrew its field.
class FailingSource final : public RequestSource {
 public:
  std::string_view Build(const RequestContext& context) override {
    return context.sequence % 3 == 2 ? std::string_view() : counting_.Build(context);
  }

 private:
  CountingSource counting_;
};

TEST(Worker, RequestsThatCannotBeBuiltAreNotSentButCountedAsInvalidArgument) {
  ManualClock clock;
  ScriptedTransport transport(clock, [](int64_t) { return 2 * kMs; });
  FailingSource source;
  WorkerPlan plan = OpenLoop(300 * kMs, 4);
  Recorded recorded(plan);
  Worker worker(clock, transport, {&source},
                std::make_unique<ArrivalSchedule>(1000, ArrivalProcess::kConstant, 0, 1, 1), plan);
  worker.Run();
  const RunTotals& totals = recorded.Totals();
  const IntervalOperation& op = totals.operation(0);
  EXPECT_EQ(transport.started(), 200);
  EXPECT_EQ(totals.all().generator.request_build_errors, 100);
  EXPECT_EQ(op.completed(), 300);
  EXPECT_EQ(op.codes[0], 200);
  EXPECT_EQ(op.codes[kRequestNotBuiltStatus], 100);
  ASSERT_TRUE(op.failed[kRequestNotBuiltStatus].has_value());
  EXPECT_EQ(op.failed[kRequestNotBuiltStatus]->Max(), 0);  // recorded when due, at once
  EXPECT_EQ(op.latency.Max(), 2000);                       // the calls sent
  // Their status message says the loadgen did not send them, unlike a target's INVALID_ARGUMENT.
  ASSERT_EQ(op.error_messages.Top(kRequestNotBuiltStatus).size(), 1u);
  EXPECT_EQ(op.error_messages.Top(kRequestNotBuiltStatus)[0].message,
            "not sent: the loadgen could not build the request");
  EXPECT_EQ(op.error_messages.total(kRequestNotBuiltStatus), 100);
}

TEST(Worker, FailedCallsKeepTheirStatusMessagesByCode) {
  ManualClock clock;
  ScriptedTransport transport(clock, [](int64_t) { return 2 * kMs; });
  transport.set_status([](int n) -> std::pair<int, std::string> {
    if (n % 20 == 3) return {14, "shard 1 down"};  // UNAVAILABLE
    if (n % 20 == 13) return {14, "shard 2 down"};
    if (n % 100 == 7) return {8, "quota: " + std::string(300, 'q')};  // RESOURCE_EXHAUSTED
    if (n % 250 == 9) return {13, "\xff bad\nline"};                  // INTERNAL
    if (n % 10 == 5) return {2, "request " + std::to_string(n)};      // UNKNOWN, all distinct
    return {0, ""};
  });
  CountingSource source;
  WorkerPlan plan = OpenLoop(1000 * kMs, 16);
  Recorded recorded(plan);
  Worker worker(clock, transport, {&source},
                std::make_unique<ArrivalSchedule>(1000, ArrivalProcess::kConstant, 0, 1, 1), plan);
  worker.Run();
  const IntervalOperation& op = recorded.Totals().operation(0);
  ASSERT_EQ(op.completed(), 1000);
  const ErrorMessages& kept = op.error_messages;
  // Equal counts in the order of their text.
  ASSERT_EQ(kept.Top(14).size(), 2u);
  EXPECT_EQ(kept.Top(14)[0].message, "shard 1 down");
  EXPECT_EQ(kept.Top(14)[0].count, 50);
  EXPECT_EQ(kept.Top(14)[1].message, "shard 2 down");
  EXPECT_EQ(kept.Top(14)[1].count, 50);
  // Cut to the bound at a character boundary; kept as UTF-8 on one line.
  ASSERT_EQ(kept.Top(8).size(), 1u);
  EXPECT_EQ(kept.Top(8)[0].message, "quota: " + std::string(190, 'q') + "\u2026");
  EXPECT_EQ(kept.Top(8)[0].count, 10);
  ASSERT_EQ(kept.Top(13).size(), 1u);
  EXPECT_EQ(kept.Top(13)[0].message, "\ufffd bad line");
  EXPECT_EQ(kept.Top(13)[0].count, 4);
  // A hundred distinct messages: ten kept (the smallest texts, all counted once), the rest other.
  ASSERT_EQ(kept.Top(2).size(), kMaxStatusMessagesPerCode);
  EXPECT_EQ(kept.Top(2).front().message, "request 105");
  EXPECT_EQ(kept.Top(2).back().message, "request 185");
  EXPECT_EQ(kept.other(2), 90);
  // Every failed call counted once, under its message or other.
  for (int code = 1; code < kStatusCodeCount; ++code) {
    EXPECT_EQ(kept.total(code), op.codes[code]) << StatusCodeName(code);
  }
}

}  // namespace
}  // namespace aurigraph::loadgen
