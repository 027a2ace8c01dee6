#include "loadgen/runner/runner.h"

#include <sched.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <memory>
#include <optional>
#include <random>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/host/host.h"
#include "common/process/process_stats.h"
#include "common/units/units.h"
#include "common/version/version.h"
#include "loadgen/assemble/result_builder.h"
#include "loadgen/driver/stream_worker.h"
#include "loadgen/driver/worker.h"
#include "loadgen/finality/finality_tracker.h"
#include "loadgen/finality/subscriptions.h"
#include "loadgen/recorder/interval_timeline.h"
#include "loadgen/runner/operation_plan.h"
#include "loadgen/runner/timeline_collector.h"
#include "loadgen/runner/worker_plan.h"
#include "loadgen/schedule/load_profile.h"
#include "loadgen/transport/grpc_transport.h"
#include "loadgen/transport/grpc_transport_factory.h"
#include "loadgen/transport/http_transport_factory.h"

namespace aurigraph::loadgen {
namespace {

// Workers start together this long after set-up, so the schedule's first
// intended times are not already late.
constexpr int64_t kStartDelayNanos = 20'000'000;

const char* KindName(CallKind kind) {
  switch (kind) {
    case CallKind::kUnary:
      return "unary";
    case CallKind::kServerStreaming:
      return "server_streaming";
    case CallKind::kClientStreaming:
      return "client_streaming";
    case CallKind::kBidiStreaming:
      return "bidi_streaming";
  }
  return "unary";
}

std::string RandomRunId() {
  std::random_device device;
  const uint64_t value = (static_cast<uint64_t>(device()) << 32) ^ device();
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(value));
  return buf;
}

int AvailableCores() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof set, &set) != 0) return 1;
  return std::max(1, CPU_COUNT(&set));
}

// The pid of the target when it listens on this machine's loopback; 0 otherwise.
pid_t LocalTargetPid(const std::string& target) {
  const size_t colon = target.rfind(':');
  if (colon == std::string::npos) return 0;
  std::string host = target.substr(0, colon);
  if (absl::StartsWith(host, "ipv4:")) host = host.substr(5);
  if (host != "127.0.0.1" && host != "localhost" && host != "[::1]" && host != "0.0.0.0") return 0;
  int port = 0;
  if (!absl::SimpleAtoi(target.substr(colon + 1), &port)) return 0;
  return FindListeningPid(port);
}

pid_t WatchedPid(const RunOptions& options, const std::string& target) {
  if (options.watch_pid == 0) return LocalTargetPid(target);
  return options.watch_pid > 0 ? static_cast<pid_t>(options.watch_pid) : 0;
}

std::vector<ProfileCorner> ProfileCorners(const std::vector<LoadSegment>& profile) {
  std::vector<ProfileCorner> corners;
  int64_t offset = 0;
  for (const LoadSegment& segment : profile) {
    corners.push_back({static_cast<double>(offset) / 1e9, segment.from});
    offset += segment.duration_nanos;
    corners.push_back({static_cast<double>(offset) / 1e9, segment.to});
  }
  return corners;
}

// What is known of the run before it starts; its operations in the scenario's order.
RunDescription DescribeRun(const Scenario& scenario, const OperationsPlan& operations,
                           const std::string& target, int64_t start_unix_nanos, pid_t watched,
                           Partition partition, size_t subscriptions) {
  RunDescription run;
  run.tool_version = kVersion;
  run.host = HostName();
  run.scenario_name = scenario.name;
  run.scenario_json = scenario.effective_json;
  run.target = target;
  run.reflection = operations.reflection;
  const bool open_loop = scenario.has_load && scenario.model == LoadModel::kOpenLoop;
  // Without unary calls the load (if any) paces stream messages (PlanOperations).
  run.load_model = operations.unary.empty() ? "streams" : open_loop ? "open" : "closed";
  if (open_loop) {
    // A profile's target is its mean over the measured window (a request
    // budget's runs have no profile).
    run.target_rate = scenario.profile.empty()
                          ? scenario.rate
                          : LoadProfile(scenario.profile)
                                .MeanOver(scenario.warmup_nanos, scenario.duration_nanos);
  }
  run.load_profile = ProfileCorners(scenario.profile);
  // A process of a split open-loop run is sent 1 / count of the arrivals: its
  // share of the target (the merge adds the shares up again).
  if (open_loop && partition.count > 1) {
    run.target_rate /= partition.count;
    for (ProfileCorner& corner : run.load_profile) corner.value /= partition.count;
  }
  run.start_unix_nanos = start_unix_nanos;
  run.interval_nanos = scenario.interval_nanos;
  run.duration_nanos = scenario.duration_nanos;
  run.warmup_nanos = scenario.warmup_nanos;
  run.request_budget = scenario.requests > 0;
  run.max_generator_lag_p99_us = scenario.max_generator_lag_nanos / 1000;
  run.watched_pid = watched;
  run.partition_index = partition.index;
  run.partition_count = partition.count;
  double weight_sum = 0;
  for (const PlannedOperation& op : operations.unary) {
    weight_sum += scenario.operations[op.index].weight;
  }
  for (const OperationSpec& op : scenario.operations) {
    run.operations.push_back(OperationDescription{op.name, op.rpc, "unary",
                                                  run.target_rate * op.weight / weight_sum, 0, ""});
  }
  for (const PlannedOperation& op : operations.streaming) {
    OperationDescription& d = run.operations[op.index];
    const StreamSpec& spec = scenario.operations[op.index].stream;
    d.kind = KindName(op.kind);
    d.target_rate = 0;
    d.streams_target = spec.streams;
    d.phase_name = spec.phase_name;
  }
  // After the scenario's operations: the finality of each that has one.
  for (const PlannedOperation* op : InTrackerOrder(operations)) {
    if (!op->finality_keys) continue;
    OperationDescription d;
    d.name = FinalityOperationName(scenario.operations[op->index].name);
    d.rpc = operations.finality->rpc;
    d.kind = "finality";
    d.streams_target = static_cast<int64_t>(subscriptions);
    d.tracks = scenario.operations[op->index].name;
    d.finality_timeout_nanos = operations.finality->timeout_nanos;
    run.operations.push_back(std::move(d));
  }
  return run;
}

// What the workers measured, and what the run's end knows.
struct Execution {
  Timeline timeline;
  RunTotals totals{0};
  RunEnd end;
  // With events: how each ran, the periods without a successful call (from
  // the start), and per event the first success after it (-1: none); these
  // only when there were calls to measure recovery by (not streams only).
  std::vector<EventOutcome> events;
  bool calls_measured = false;
  std::vector<Window> no_success;
  std::vector<int64_t> first_success_after;
};

// Gaps between successful calls shorter than this are not kept: the longest
// no-success window is measured when it is at least this long.
constexpr int64_t kSuccessGapNanos = 10'000'000;

EventResult ToEventResult(const EventOutcome& outcome, const EventSpec& spec) {
  EventResult e;
  e.name = outcome.name;
  e.action = DescribeEventAction(spec);
  e.at_seconds = static_cast<double>(outcome.at_nanos) / 1e9;
  e.started_seconds =
      outcome.started_nanos < 0 ? -1 : static_cast<double>(outcome.started_nanos) / 1e9;
  e.finished_seconds =
      outcome.finished_nanos < 0 ? -1 : static_cast<double>(outcome.finished_nanos) / 1e9;
  e.ok = outcome.ok;
  e.exit_code = outcome.exit_code;
  e.output = outcome.output;
  e.error = outcome.error;
  return e;
}

// The events as they ran, each with the target's recovery from it.
std::vector<EventResult> EventResults(const Scenario& scenario, const Execution& executed,
                                      const RunResult& result) {
  std::vector<RecoveryInterval> intervals;
  for (const TimelinePoint& point : result.timeline.points) {
    RecoveryInterval interval{point.offset_seconds, point.seconds, point.warmup};
    // The calls' figures (not streams', not finality's): their p99 is the
    // highest of the operations' (exact with one).
    for (size_t i = 0; i < point.operations.size() && i < result.operations.size(); ++i) {
      const OperationResult& op = result.operations[i];
      if (op.stream || op.finality) continue;
      const TimelineOperation& o = point.operations[i];
      interval.ok += o.count - o.errors;
      interval.p99_us = std::max(interval.p99_us, static_cast<double>(o.p99));
      for (const auto& [code, count] : o.codes) {
        if (code != "OK") interval.failed_by_code[code] += count;
      }
    }
    intervals.push_back(std::move(interval));
  }
  std::vector<EventResult> events;
  for (size_t k = 0; k < executed.events.size(); ++k) {
    const EventOutcome& outcome = executed.events[k];
    EventResult e = ToEventResult(outcome, scenario.events[k]);
    if (!executed.calls_measured) {
      events.push_back(std::move(e));
      continue;
    }
    const RecoveryFigures figures = ComputeRecovery(
        RecoveryEvent{outcome.name, outcome.at_nanos, executed.first_success_after[k]}, intervals,
        executed.no_success);
    e.recovery_measured = true;
    e.first_success_after_seconds = figures.first_success_after_seconds;
    e.unavailable_max_seconds = figures.unavailable_max_seconds;
    e.recovered_seconds = figures.recovered_seconds;
    e.failed_by_code = figures.failed_by_code;
    e.baseline_p99_us = figures.baseline_p99_us;
    e.baseline_rate = figures.baseline_rate;
    e.recovery_note = figures.note;
    events.push_back(std::move(e));
  }
  return events;
}

// Runs every worker on its own thread and collects the timeline as it goes;
// with `subscriptions` (open), tracks finality until every request is final
// or past its timeout.
Execution Execute(const Scenario& scenario, const OperationsPlan& operations,
                  TransportFactory& wire, const RunOptions& options, const RunDescription& run,
                  int64_t start, pid_t watched, FinalitySubscriptions* subscriptions,
                  std::vector<FaultEvent> events) {
  const Clock& clock = *options.clock;
  std::vector<WorkerAssignment> assignments =
      PlanWorkers(scenario, operations, start, options.partition);
  const int workers = scenario.workers;
  const int run_workers = options.partition.RunWorkers(workers);
  // The timeline's operations are the run's: the scenario's in order, then
  // finality ones. Each worker has one contributor for its calls and one for
  // its streams; the finality tracker is the last.
  const int contributors = 2 * workers + (subscriptions != nullptr ? 1 : 0);
  IntervalTimeline timeline(start, scenario.interval_nanos, run.operations.size(), contributors,
                            start + scenario.warmup_nanos);
  std::vector<uint32_t> unary_ids, stream_ids, finality_ids;
  std::vector<UnaryMethod> methods;
  std::vector<const ResponseCounter*> counters;
  std::vector<const KeyReader*> finality_keys;
  uint32_t next_finality_id = static_cast<uint32_t>(scenario.operations.size());
  for (const PlannedOperation& op : operations.unary) {
    unary_ids.push_back(static_cast<uint32_t>(op.index));
    methods.push_back(op.method);
    counters.push_back(op.counter.get());
  }
  for (const PlannedOperation* op : InTrackerOrder(operations)) {
    finality_keys.push_back(op->finality_keys.get());
    finality_ids.push_back(op->finality_keys ? next_finality_id++ : 0);
  }
  // Untracked operations' ids are never recorded to; the first tracked one's
  // takes what belongs to no operation (unmatched events).
  std::optional<IntervalRecorder> finality_intervals;
  std::optional<FinalityTracker> tracker;
  std::vector<RequestTracker*> trackers;
  if (subscriptions != nullptr) {
    for (uint32_t& id : finality_ids) {
      if (id == 0) id = static_cast<uint32_t>(scenario.operations.size());
    }
    finality_intervals.emplace(timeline, contributors - 1, finality_ids);
    tracker.emplace(finality_keys, *operations.finality->event_keys, *finality_intervals,
                    FinalityTrackerOptions{operations.finality->timeout_nanos});
    for (size_t i = 0; i < operations.unary.size(); ++i) {
      trackers.push_back(finality_keys[i] != nullptr ? &*tracker : nullptr);
    }
  }
  std::vector<std::string> stream_paths;
  for (const PlannedOperation& op : operations.streaming) {
    stream_ids.push_back(static_cast<uint32_t>(op.index));
    stream_paths.push_back(op.method.path);
  }

  const std::string run_id = options.run_id.empty() ? RandomRunId() : options.run_id;
  struct WorkerParts {
    std::unique_ptr<IntervalRecorder> intervals;
    std::unique_ptr<IntervalRecorder> stream_intervals;
    std::vector<std::unique_ptr<TemplateRequestSource>> sources;
    std::unique_ptr<Transport> transport;
    std::unique_ptr<Worker> worker;
    std::unique_ptr<StreamTransport> stream_transport;
    std::unique_ptr<StreamWorker> stream_worker;
    std::optional<SuccessRecorder> successes;
  };
  std::vector<int64_t> event_at;
  for (const FaultEvent& event : events) event_at.push_back(start + event.at_nanos);
  std::vector<WorkerParts> parts(workers);
  for (int w = 0; w < workers; ++w) {
    WorkerParts& p = parts[w];
    WorkerAssignment& assigned = assignments[w];
    const int run_worker = options.partition.RunWorker(w);
    const auto source_for = [&](const PlannedOperation& op) {
      p.sources.push_back(std::make_unique<TemplateRequestSource>(op.request_template, run_worker,
                                                                  scenario.seed, run_id));
      return p.sources.back().get();
    };
    if (assigned.calls) {
      WorkerPlan& plan = *assigned.calls;
      plan.response_counters = counters;
      plan.trackers = trackers;
      if (!events.empty()) {
        p.successes.emplace(kSuccessGapNanos, event_at);
        plan.successes = &*p.successes;
      }
      p.intervals = std::make_unique<IntervalRecorder>(timeline, 2 * w, unary_ids);
      plan.intervals = p.intervals.get();
      p.transport = wire.MakeTransport(w, workers, methods, plan.max_in_flight);
      std::vector<RequestSource*> sources;
      for (const PlannedOperation& op : operations.unary) sources.push_back(source_for(op));
      std::unique_ptr<ArrivalSchedule> schedule;
      if (scenario.model == LoadModel::kOpenLoop) {
        schedule = std::make_unique<ArrivalSchedule>(
            scenario.profile.empty() ? LoadProfile::Constant(scenario.rate)
                                     : LoadProfile(scenario.profile),
            scenario.arrival, run_worker, run_workers, scenario.seed);
      }
      p.worker = std::make_unique<Worker>(clock, *p.transport, std::move(sources),
                                          std::move(schedule), plan);
    } else {
      timeline.Finish(2 * w);  // contributes nothing
    }
    if (assigned.streams) {
      StreamWorkerPlan& plan = *assigned.streams;
      uint32_t slots = 0;
      for (size_t i = 0; i < operations.streaming.size(); ++i) {
        plan.operations[i].source = source_for(operations.streaming[i]);
        plan.operations[i].inspector = operations.streaming[i].inspector.get();
        // Streams follow the unary operations in the tracker's numbering.
        const size_t tracked = operations.unary.size() + i;
        if (tracker && finality_keys[tracked] != nullptr) {
          plan.operations[i].tracker = &*tracker;
          plan.operations[i].tracked_operation = static_cast<uint32_t>(tracked);
        }
        slots += plan.operations[i].streams;
      }
      p.stream_intervals = std::make_unique<IntervalRecorder>(timeline, 2 * w + 1, stream_ids);
      plan.intervals = p.stream_intervals.get();
      p.stream_transport = wire.MakeStreamTransport(w, workers, stream_paths, slots);
      p.stream_worker = std::make_unique<StreamWorker>(clock, *options.wall_clock,
                                                       *p.stream_transport, std::move(plan));
    } else {
      timeline.Finish(2 * w + 1);
    }
  }

  for (IntervalObserver* observer : options.interval_observers) observer->OnRunStart(run);
  const double cpu_at_start = OwnCpuSeconds();
  TimelineCollector collector(
      timeline, clock, IntervalsPerResultPoint(scenario.duration_nanos, scenario.interval_nanos),
      watched, options.interval_observers);
  std::optional<EventRunner> event_runner;
  if (!events.empty()) {
    // On the runner's thread as each starts and ends; marked in the logs by the collector.
    std::vector<EventSpec> specs = scenario.events;
    EventRunnerOptions event_options;
    event_options.output_dir = options.events_dir;
    event_options.on_event = [&collector, specs](const EventOutcome& outcome) {
      for (const EventSpec& spec : specs) {
        if (spec.name == outcome.name) collector.Post(ToEventResult(outcome, spec));
      }
    };
    event_runner.emplace(std::move(events), clock, start, std::move(event_options));
    event_runner->Start();
  }
  std::thread following;
  if (subscriptions != nullptr) following = std::thread([&] { subscriptions->Run(*tracker); });
  wire.MarkConnectionBytes();
  std::vector<std::thread> threads;
  for (WorkerParts& p : parts) {
    if (p.worker) threads.emplace_back([&p, &options] { p.worker->Run(options.stop); });
    if (p.stream_worker) {
      threads.emplace_back([&p, &options] { p.stream_worker->Run(options.stop); });
    }
  }
  for (std::thread& t : threads) t.join();
  Execution executed;
  // What the transports counted on the wire, per operation, all workers together.
  std::vector<std::optional<WireTotals>> counted(run.operations.size());
  const auto add_counts = [&counted](const std::vector<WireTotals>& counts,
                                     const std::vector<uint32_t>& ids) {
    for (size_t k = 0; k < counts.size() && k < ids.size(); ++k) {
      std::optional<WireTotals>& into = counted[ids[k]];
      if (!into) {
        into = counts[k];
      } else {
        AddWireTotals(counts[k], *into);
      }
    }
  };
  for (const WorkerParts& p : parts) {
    if (p.transport) add_counts(p.transport->CountsByOperation(), unary_ids);
    if (p.stream_transport) add_counts(p.stream_transport->CountsByOperation(), stream_ids);
  }
  // A wire that cannot count whole bytes per operation (gRPC's): what its
  // connections carried over the run is the operation's, when there is one
  // and nothing else of the run talks to the target (fault events' calls,
  // finality subscriptions and the leader finder have connections of their own).
  if (const std::optional<ConnectionBytes> carried = wire.ConnectionBytesSinceMark();
      carried && counted.size() == 1 && counted[0] && counted[0]->request_bytes < 0 &&
      !event_runner && subscriptions == nullptr) {
    counted[0]->request_bytes = carried->sent;
    counted[0]->response_bytes = carried->received;
  }
  if (std::any_of(counted.begin(), counted.end(), [](const auto& w) { return w.has_value(); })) {
    executed.end.wire = std::move(counted);
  }
  if (event_runner) {
    event_runner->Stop();
    executed.events = event_runner->Outcomes();
    std::vector<const SuccessGaps*> gaps;
    executed.first_success_after.assign(executed.events.size(), -1);
    for (const WorkerParts& p : parts) {
      if (!p.successes) continue;
      gaps.push_back(&p.successes->gaps());
      for (size_t k = 0; k < executed.first_success_after.size(); ++k) {
        const int64_t first = p.successes->first_success()[k];
        int64_t& best = executed.first_success_after[k];
        if (first >= 0 && (best < 0 || first - start < best)) best = first - start;
      }
    }
    executed.calls_measured = !gaps.empty();
    executed.no_success = SuccessGaps::Merge(gaps, start, clock.NowNanos());
  }
  if (subscriptions != nullptr) {
    // Every request was sent by now: each is final, or past its timeout, by then.
    const int64_t give_up = clock.NowNanos() + operations.finality->timeout_nanos;
    while (tracker->Pending() > 0 && clock.NowNanos() < give_up &&
           (options.stop == nullptr || !options.stop->load())) {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    subscriptions->Stop();
    following.join();
    tracker->Finish(clock.NowNanos());
  }
  // A process of a split run may have nothing to send: its run still spans from the start.
  const int64_t end = std::max(clock.NowNanos(), start);
  TimelineCollector::Collected collected = collector.Finish(end);
  RunEnd run_end;
  run_end.end_offset_nanos = end - start;
  run_end.cpu_seconds = OwnCpuSeconds() - cpu_at_start;
  run_end.cpu_cores = AvailableCores();
  run_end.wire = std::move(executed.end.wire);
  executed.timeline = std::move(collected.timeline);
  executed.totals = std::move(collected.totals);
  executed.end = run_end;
  return executed;
}

}  // namespace

absl::StatusOr<std::string> ResolveTarget(const Scenario& scenario, const std::string& override) {
  const std::string target = override.empty() ? scenario.target : override;
  if (target.empty()) {
    return absl::InvalidArgumentError(
        "no target: give --target HOST:PORT or 'target:' in the scenario");
  }
  if (absl::Status valid = ValidateTarget(target); !valid.ok()) return valid;
  return target;
}

std::unique_ptr<TransportFactory> MakeTransportFactory(const Scenario& scenario,
                                                       const std::string& target) {
  if (IsHttpScenario(scenario)) {
    return std::make_unique<HttpTransportFactory>(target, scenario.connections, scenario.channel,
                                                  scenario.connect_timeout_nanos);
  }
  return std::make_unique<GrpcTransportFactory>(target, scenario.connections, scenario.channel,
                                                scenario.connect_timeout_nanos);
}

absl::StatusOr<RunResult> RunScenario(const Scenario& scenario, const RunOptions& options) {
  auto target = ResolveTarget(scenario, options.target);
  if (!target.ok()) return target.status();
  auto gates = GatesFromScenario(scenario);
  if (!gates.ok()) return gates.status();
  std::unique_ptr<TransportFactory> own_wire;
  TransportFactory* wire = options.transport;
  if (wire == nullptr) {
    own_wire = MakeTransportFactory(scenario, *target);
    wire = own_wire.get();
  }

  // Bad input is found before connecting, unless only the target can describe its methods.
  const bool reflect = NeedsReflection(scenario);
  if (reflect) {
    if (absl::Status connected = wire->Connect(); !connected.ok()) return connected;
  }
  auto operations = PlanOperations(scenario, *wire, *target);
  if (!operations.ok()) return operations.status();
  if (!reflect) {
    if (absl::Status connected = wire->Connect(); !connected.ok()) return connected;
  }
  for (RunHook* hook : options.hooks) {
    if (absl::Status ready = hook->BeforeLoad(); !ready.ok()) return ready;
  }
  // Events are checked, and their calls made ready, before the run.
  EventWiring event_wiring{
      operations->catalog ? operations->catalog.get() : &MethodCatalog::Bundled(),
      wire->Addresses(), scenario.channel, options.find_leader};
  auto events = MakeFaultEvents(scenario, event_wiring);
  if (!events.ok()) return events.status();
  // Finality is followed from before the first request.
  std::unique_ptr<StreamTransport> subscription_wire;
  std::optional<FinalitySubscriptions> subscriptions;
  if (operations->finality) {
    const PlannedFinality& finality = *operations->finality;
    subscription_wire = wire->MakeTransportPerAddress(finality.path);
    subscriptions.emplace(*options.clock, *subscription_wire, wire->Addresses(), finality.request,
                          finality.headers);
    if (absl::Status open = subscriptions->Open(scenario.connect_timeout_nanos); !open.ok()) {
      return open;
    }
  }

  int64_t start_delay = kStartDelayNanos;
  SharedStart start_at{options.start_unix_nanos, options.start_unix_nanos};
  if (options.await_start) {
    auto started = options.await_start();
    if (!started.ok()) return started.status();
    start_at = *started;
  }
  if (start_at.unix_nanos > 0) {
    start_delay = start_at.local_unix_nanos - options.wall_clock->NowNanos();
    if (start_delay < 0) {
      return absl::FailedPreconditionError(absl::StrCat(
          "the run's start time passed ", FormatDuration(-start_delay),
          " before this process was ready (connecting and planning took longer): start later"));
    }
  }
  const int64_t start = options.clock->NowNanos() + start_delay;
  const int64_t start_unix =
      start_at.unix_nanos > 0 ? start_at.unix_nanos : options.wall_clock->NowNanos() + start_delay;
  // A start far ahead (a split run's) is waited for here, where a stop ends the wait.
  if (start_at.unix_nanos > 0) {
    while (options.clock->NowNanos() < start - kStartDelayNanos) {
      if (options.stop != nullptr && options.stop->load()) {
        return absl::AbortedError("stopped before the run's start");
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }
  const pid_t watched = WatchedPid(options, *target);
  const RunDescription run = DescribeRun(scenario, *operations, *target, start_unix, watched,
                                         options.partition, wire->Addresses().size());
  Execution executed = Execute(scenario, *operations, *wire, options, run, start, watched,
                               subscriptions ? &*subscriptions : nullptr, *std::move(events));

  for (RunHook* hook : options.hooks) hook->AfterLoad(executed.end);
  executed.end.loadgen_peak_rss_bytes = OwnPeakResidentBytes();
  for (IntervalObserver* observer : options.interval_observers) observer->OnRunEnd(executed.end);
  RunResult result =
      BuildRunResult(run, executed.totals, std::move(executed.timeline), executed.end);
  result.events = EventResults(scenario, executed, result);
  for (RunHook* hook : options.hooks) hook->OnResult(result);
  JudgeGenerator(result);
  auto gate_results = EvaluateGates(*gates, result);
  if (!gate_results.ok()) return gate_results.status();
  result.gates = *std::move(gate_results);
  return result;
}

}  // namespace aurigraph::loadgen
