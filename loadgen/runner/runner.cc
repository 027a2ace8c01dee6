#include "loadgen/runner/runner.h"

#include <sched.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <limits>
#include <memory>
#include <mutex>
#include <random>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/host/host.h"
#include "common/process/process_stats.h"
#include "common/units/units.h"
#include "common/version/version.h"
#include "loadgen/catalog/catalog.h"
#include "loadgen/driver/stream_worker.h"
#include "loadgen/driver/worker.h"
#include "loadgen/gates/gates.h"
#include "loadgen/payload/message_fields.h"
#include "loadgen/payload/request_template.h"
#include "loadgen/recorder/interval_timeline.h"
#include "loadgen/recorder/operation_stats.h"
#include "loadgen/transport/grpc_stream_transport.h"
#include "loadgen/transport/grpc_transport.h"
#include "loadgen/transport/reflection.h"
#include "loadgen/webhook/webhook_session.h"

namespace aurigraph::loadgen {
namespace {

struct PreparedOperation {
  size_t index = 0;  // in the scenario
  CallKind kind = CallKind::kUnary;
  GrpcMethod method;
  RequestTemplate request_template;
  std::unique_ptr<ResponseCounter> counter;     // unary with count_field
  std::unique_ptr<MessageInspector> inspector;  // streams
};

StreamMode ModeOf(CallKind kind) {
  switch (kind) {
    case CallKind::kClientStreaming:
      return StreamMode::kClientStream;
    case CallKind::kBidiStreaming:
      return StreamMode::kBidi;
    default:
      return StreamMode::kServerStream;
  }
}

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

absl::StatusOr<PreparedOperation> PrepareOperation(const Scenario& scenario,
                                                   const MethodCatalog& catalog, size_t index) {
  const OperationSpec& op = scenario.operations[index];
  const std::string where = absl::StrCat("operation '", op.name, "': ");
  const auto fail = [&](absl::string_view what) {
    return absl::InvalidArgumentError(absl::StrCat(where, what));
  };
  auto method = catalog.Find(op.rpc);
  if (!method.ok()) return fail(method.status().message());
  TemplateInputs inputs{op.metadata, nullptr};
  if (!op.data_file.empty()) {
    auto data = DataFile::Load(
        op.data_file, op.data_random ? DataFile::Order::kRandom : DataFile::Order::kSequential);
    if (!data.ok()) return fail(data.status().message());
    inputs.data = *std::move(data);
  }
  auto compiled = RequestTemplate::Compile(*method->request_type, op.request_json, inputs);
  if (!compiled.ok()) return fail(compiled.status().message());
  PreparedOperation prepared{
      index,   method->kind, GrpcMethod{method->path, op.deadline_nanos}, *std::move(compiled),
      nullptr, nullptr};
  if (method->kind == CallKind::kUnary) {
    if (op.has_stream) return fail(absl::StrCat(op.rpc, " is unary: 'stream:' does not apply"));
    if (!op.count_field.empty()) {
      auto counter = CompileResponseCounter(*method->response_type, op.count_field);
      if (!counter.ok()) return fail(absl::StrCat("count_field: ", counter.status().message()));
      prepared.counter = *std::move(counter);
      prepared.method.keep_response = true;
    }
    return prepared;
  }
  if (!op.count_field.empty()) return fail("count_field applies to unary operations only");
  if (scenario.duration_nanos <= 0 || scenario.requests > 0) {
    return fail("streaming operations need a run 'duration' (not a request count)");
  }
  const StreamSpec& spec = op.stream;
  if (method->kind != CallKind::kBidiStreaming && !spec.match_request.empty()) {
    return fail("match applies to bidi streaming operations only");
  }
  if (method->kind == CallKind::kServerStreaming && spec.send_rate > 0) {
    return fail(
        "send_rate applies to client and bidi streaming; a server stream sends one request");
  }
  InspectorSpec fields{spec.match_request, spec.match_response, spec.timestamp_field,
                       spec.status_field,  spec.phase_from,     spec.phase_when,
                       spec.phase_equals};
  auto inspector = CompileInspector(*method->request_type, *method->response_type, fields);
  if (!inspector.ok()) return fail(inspector.status().message());
  prepared.inspector = *std::move(inspector);
  return prepared;
}

// Splits `total` into `parts` shares that differ by at most one.
int64_t Share(int64_t total, int parts, int index) {
  return total / parts + (index < total % parts ? 1 : 0);
}

std::string RandomRunId() {
  std::random_device device;
  const uint64_t value = (static_cast<uint64_t>(device()) << 32) ^ device();
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(value));
  return buf;
}

// Above this share of its cores the generator itself is the bottleneck.
constexpr double kMaxCpuShare = 0.95;

int AvailableCores() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof set, &set) != 0) return 1;
  return std::max(1, CPU_COUNT(&set));
}

// The target's memory, as its CheckHealth reports it (the bundled reference server does).
void ProbeServerMemory(const std::shared_ptr<grpc::Channel>& channel, Resources* resources) {
  auto method = FindBundledMethod("aurigraph.approval.v1.ApprovalService/CheckHealth");
  if (!method.ok()) return;
  auto response = CallUnary(channel, method->path, "", 2'000'000'000);
  if (!response.ok()) return;
  for (auto [field, out] :
       {std::pair{"peak_resident_memory_bytes", &resources->server_peak_rss_bytes},
        std::pair{"resident_memory_bytes", &resources->server_rss_bytes}}) {
    auto path = FieldPath::Resolve(*method->response_type, field);
    if (!path.ok()) continue;
    const auto value = path->ReadInt(*response);
    if (value && *value > 0) *out = *value;
  }
}

std::map<std::string, int64_t> CodeCounts(const std::array<int64_t, kStatusCodeCount>& codes) {
  std::map<std::string, int64_t> out;
  for (int code = 0; code < kStatusCodeCount; ++code) {
    if (codes[code] > 0) out[StatusCodeName(code)] = codes[code];
  }
  return out;
}

OperationResult ToStreamOperationResult(const StreamStats& stats, const OperationSpec& spec,
                                        CallKind kind, double seconds) {
  OperationResult r;
  r.name = spec.name;
  r.rpc = spec.rpc;
  r.kind = KindName(kind);
  r.corrected = std::make_shared<Histogram>(stats.message_latency);
  r.uncorrected = std::make_shared<Histogram>(stats.message_latency_uncorrected);
  r.requests = stats.streams_completed + stats.streams_failed + stats.streams_ended_early +
               stats.streams_failed_to_open;
  r.ok = stats.streams_completed;
  r.status_codes = CodeCounts(stats.close_codes);
  auto s = std::make_shared<StreamResult>();
  s->mode = r.kind;
  s->streams_target = spec.stream.streams;
  s->streams_opened = stats.streams_opened;
  s->streams_completed = stats.streams_completed;
  s->streams_failed = stats.streams_failed;
  s->streams_ended_early = stats.streams_ended_early;
  s->streams_failed_to_open = stats.streams_failed_to_open;
  s->min_open_streams = stats.min_open_streams;
  s->max_open_streams = stats.max_open_streams;
  s->messages_sent = stats.messages_sent;
  s->messages_received = stats.messages_received;
  s->measured_sent = stats.measured_sent;
  s->measured_received = stats.measured_received;
  s->unmatched_replies = stats.unmatched_replies;
  s->delayed_sends = stats.delayed_sends;
  s->sent_rate = seconds > 0 ? static_cast<double>(stats.measured_sent) / seconds : 0;
  s->received_rate = seconds > 0 ? static_cast<double>(stats.measured_received) / seconds : 0;
  s->message_codes = CodeCounts(stats.message_codes);
  s->phase_name = spec.stream.phase_name;
  s->histograms = {{"first_message", std::make_shared<Histogram>(stats.first_message)},
                   {"inter_arrival", std::make_shared<Histogram>(stats.inter_arrival)},
                   {"send_lag", std::make_shared<Histogram>(stats.send_lag)},
                   {"close_latency", std::make_shared<Histogram>(stats.close_latency)},
                   {"phase", std::make_shared<Histogram>(stats.phase)}};
  r.achieved_rate = s->received_rate;
  r.stream = std::move(s);
  return r;
}

OperationResult ToOperationResult(const OperationStats& stats, const std::string& name,
                                  const std::string& rpc, double seconds, double target_rate) {
  OperationResult r;
  r.name = name;
  r.rpc = rpc;
  r.corrected = std::make_shared<Histogram>(stats.corrected());
  r.uncorrected = std::make_shared<Histogram>(stats.uncorrected());
  r.requests = stats.completed();
  r.ok = stats.codes()[0];
  r.status_codes = CodeCounts(stats.codes());
  for (int code = 1; code < kStatusCodeCount; ++code) {
    if (const Histogram* failed = stats.failed(code)) {
      r.failed[StatusCodeName(code)] = std::make_shared<Histogram>(*failed);
    }
  }
  r.achieved_rate = seconds > 0 ? static_cast<double>(r.requests) / seconds : 0;
  r.target_rate = target_rate;
  r.items = stats.items();
  r.items_rate = seconds > 0 ? static_cast<double>(r.items) / seconds : 0;
  return r;
}

// How many intervals each point of result.json's timeline merges: one, unless
// the run is long enough to need more than about 1,800 points.
int64_t IntervalsPerResultPoint(const Scenario& scenario, int64_t interval_nanos) {
  constexpr int64_t kMaxPoints = 1800;
  const int64_t intervals = (scenario.duration_nanos + interval_nanos - 1) / interval_nanos;
  return std::max<int64_t>(1, (intervals + kMaxPoints - 1) / kMaxPoints);
}

// The figures of `slice`, which covers [begin, end) of the run.
TimelinePoint SummarizeInterval(const IntervalSlice& slice, int64_t run_start_nanos, int64_t begin,
                                int64_t end, int64_t measured_start_nanos) {
  TimelinePoint p;
  p.offset_seconds = static_cast<double>(begin - run_start_nanos) / 1e9;
  p.seconds = static_cast<double>(end - begin) / 1e9;
  p.warmup = end <= measured_start_nanos;
  p.sent = slice.sent;
  p.schedule_lag_p99_us = slice.schedule_lag.ValueAtPercentile(99);
  p.schedule_lag_max_us = slice.schedule_lag.Max();
  for (const IntervalOperation& op : slice.operations) {
    TimelineOperation o;
    o.count = op.count;
    o.codes = CodeCounts(op.codes);
    for (int code = 1; code < kStatusCodeCount; ++code) o.errors += op.codes[code];
    o.items = op.items;
    o.timed = op.latency.TotalCount();
    if (o.timed > 0) {
      o.p50 = op.latency.ValueAtPercentile(50);
      o.p90 = op.latency.ValueAtPercentile(90);
      o.p99 = op.latency.ValueAtPercentile(99);
      o.p99_9 = op.latency.ValueAtPercentile(99.9);
      o.max = op.latency.Max();
    }
    p.operations.push_back(std::move(o));
  }
  return p;
}

// Takes finished intervals off the timeline while the run goes on and keeps
// only their figures, so interval histograms never pile up over a long run;
// samples this process and the target's as each interval is taken, and tells
// the observers.
class TimelineCollector {
 public:
  TimelineCollector(IntervalTimeline& timeline, const Clock& clock, int64_t measured_start_nanos,
                    int64_t intervals_per_point, pid_t target_pid,
                    std::vector<IntervalObserver*> observers)
      : timeline_(timeline),
        measured_start_nanos_(measured_start_nanos),
        intervals_per_point_(intervals_per_point),
        target_pid_(target_pid),
        observers_(std::move(observers)),
        merged_(timeline.operation_count()) {
    thread_ = std::thread([this, &clock] {
      std::unique_lock<std::mutex> lock(mu_);
      while (!done_) {
        cv_.wait_for(lock, std::chrono::nanoseconds(timeline_.interval_nanos()));
        // Only intervals that have ended: none of them is cut short by the run's end.
        Summarize(timeline_.IndexAt(clock.NowNanos()), std::numeric_limits<int64_t>::max());
      }
    });
  }

  // After every worker has finished: the whole timeline.
  std::vector<TimelinePoint> Finish(int64_t run_end_nanos) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      done_ = true;
    }
    cv_.notify_all();
    thread_.join();
    Summarize(std::numeric_limits<int64_t>::max(), run_end_nanos);
    if (merged_count_ > 0) EmitMerged();
    return std::move(points_);
  }

 private:
  void Sample(TimelinePoint& point) const {
    if (const std::optional<ProcessStats> own = ReadProcessStats()) {
      point.loadgen_rss_bytes = own->resident_bytes;
    }
    if (target_pid_ <= 0) return;
    if (const std::optional<ProcessStats> target = ReadProcessStats(target_pid_)) {
      point.target_rss_bytes = target->resident_bytes;
      point.target_cpu_seconds = target->cpu_seconds;
      point.target_open_fds = target->open_fds;
    }
  }

  void Summarize(int64_t end_index, int64_t run_end_nanos) {
    const int64_t start = timeline_.start_nanos(), length = timeline_.interval_nanos();
    for (const IntervalSlice& slice : timeline_.TakeCompleted(end_index)) {
      const int64_t begin = start + slice.index * length;
      const int64_t end = std::min(begin + length, std::max(begin, run_end_nanos));
      TimelinePoint point = SummarizeInterval(slice, start, begin, end, measured_start_nanos_);
      Sample(point);
      for (IntervalObserver* observer : observers_) observer->OnInterval(slice, point);
      // result.json's point: this interval, or several merged exactly.
      if (merged_count_ == 0) merged_begin_ = begin;
      merged_.Merge(slice);
      merged_end_ = end;
      merged_sample_ = point;
      if (++merged_count_ == intervals_per_point_) EmitMerged();
    }
  }

  void EmitMerged() {
    TimelinePoint point = SummarizeInterval(merged_, timeline_.start_nanos(), merged_begin_,
                                            merged_end_, measured_start_nanos_);
    point.loadgen_rss_bytes = merged_sample_.loadgen_rss_bytes;
    point.target_rss_bytes = merged_sample_.target_rss_bytes;
    point.target_cpu_seconds = merged_sample_.target_cpu_seconds;
    point.target_open_fds = merged_sample_.target_open_fds;
    points_.push_back(std::move(point));
    merged_.Reset();
    merged_count_ = 0;
  }

  IntervalTimeline& timeline_;
  const int64_t measured_start_nanos_;
  const int64_t intervals_per_point_;
  const pid_t target_pid_;
  const std::vector<IntervalObserver*> observers_;
  IntervalSlice merged_;
  int64_t merged_count_ = 0;
  int64_t merged_begin_ = 0;
  int64_t merged_end_ = 0;
  TimelinePoint merged_sample_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool done_ = false;
  std::vector<TimelinePoint> points_;
  std::thread thread_;
};

// The scenario's channels to `target`, once every one is connected.
absl::StatusOr<std::vector<std::shared_ptr<grpc::Channel>>> Connect(const Scenario& scenario,
                                                                    const std::string& target) {
  auto channels = CreateChannels(target, scenario.connections, scenario.channel);
  if (!channels.ok()) return channels.status();
  if (auto connected = WaitForConnection(*channels, target, scenario.connect_timeout_nanos);
      !connected.ok()) {
    return connected;
  }
  return channels;
}

// The services of the scenario's operations, described by the target itself.
absl::StatusOr<std::unique_ptr<MethodCatalog>> CatalogFromReflection(
    const Scenario& scenario, const std::shared_ptr<grpc::Channel>& channel,
    const std::string& target) {
  std::vector<std::string> services, files;
  for (const OperationSpec& op : scenario.operations) {
    const std::string service = op.rpc.substr(0, op.rpc.find('/'));
    if (std::find(services.begin(), services.end(), service) != services.end()) continue;
    services.push_back(service);
    auto fetched = FetchServiceFiles(channel, service, scenario.connect_timeout_nanos);
    if (!fetched.ok()) {
      return absl::Status(fetched.status().code(), absl::StrCat(target, ": service ", service, ": ",
                                                                fetched.status().message()));
    }
    files.insert(files.end(), fetched->begin(), fetched->end());
  }
  return MethodCatalog::FromFileDescriptors(files,
                                            absl::StrCat("the server reflection of ", target));
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

}  // namespace

absl::StatusOr<RunResult> RunScenario(const Scenario& scenario, const RunOptions& options) {
  const std::string target = options.target.empty() ? scenario.target : options.target;
  if (target.empty()) {
    return absl::InvalidArgumentError(
        "no target: give --target HOST:PORT or 'target:' in the scenario");
  }
  if (absl::Status valid = ValidateTarget(target); !valid.ok()) return valid;
  std::vector<Gate> gates;
  for (const GateSpec& spec : scenario.gates) {
    auto gate = ParseGate(spec.expression, spec.operation);
    if (!gate.ok()) return gate.status();
    if (!spec.operation.empty() &&
        std::none_of(scenario.operations.begin(), scenario.operations.end(),
                     [&](const OperationSpec& op) { return op.name == spec.operation; })) {
      return absl::InvalidArgumentError(absl::StrCat(
          "gate '", spec.expression, "' names unknown operation '", spec.operation, "'"));
    }
    gates.push_back(*std::move(gate));
  }
  // Descriptors from runtime-loaded .proto files (or from the target's
  // reflection) live as long as this catalog.
  std::unique_ptr<MethodCatalog> loaded;
  std::vector<std::shared_ptr<grpc::Channel>> channels;
  if (!scenario.proto_files.empty()) {
    auto catalog = MethodCatalog::FromProtoFiles(scenario.proto_files, scenario.import_paths);
    if (!catalog.ok()) return catalog.status();
    loaded = *std::move(catalog);
  } else if (scenario.reflection) {
    // Reflection needs the target before anything else can be checked.
    auto connected = Connect(scenario, target);
    if (!connected.ok()) return connected.status();
    channels = *std::move(connected);
    auto catalog = CatalogFromReflection(scenario, channels.front(), target);
    if (!catalog.ok()) return catalog.status();
    loaded = *std::move(catalog);
  }
  const MethodCatalog& catalog = loaded ? *loaded : MethodCatalog::Bundled();
  std::vector<PreparedOperation> unary, streaming;
  for (size_t i = 0; i < scenario.operations.size(); ++i) {
    auto prepared = PrepareOperation(scenario, catalog, i);
    if (!prepared.ok()) return prepared.status();
    (prepared->kind == CallKind::kUnary ? unary : streaming).push_back(*std::move(prepared));
  }
  if (!unary.empty() && !scenario.has_load) {
    return absl::InvalidArgumentError(
        "load: required for unary operations (model: open with a rate, or closed with a "
        "concurrency)");
  }

  if (channels.empty()) {
    auto connected = Connect(scenario, target);
    if (!connected.ok()) return connected.status();
    channels = *std::move(connected);
  }

  // The webhook registered now, so the run's events are delivered to the sink.
  std::unique_ptr<WebhookSession> webhook_session;
  if (scenario.webhook_sink.enabled) {
    const WebhookSinkSpec& w = scenario.webhook_sink;
    WebhookSessionSpec spec;
    spec.sink.listen = w.listen;
    spec.sink.fail_ratio = w.fail_ratio;
    spec.sink.delay_nanos = w.delay_nanos;
    spec.sink.timestamp_window_seconds = w.timestamp_window_nanos / 1'000'000'000;
    spec.sink.seed = scenario.seed;
    spec.events = w.events;
    spec.max_attempts = w.max_attempts;
    spec.timeout_nanos = w.timeout_nanos;
    spec.drain_nanos = w.drain_nanos;
    auto session = WebhookSession::Start(spec, channels.front(), WallClock::Instance());
    if (!session.ok()) return session.status();
    webhook_session = *std::move(session);
  }

  const int workers = scenario.workers;
  std::vector<GrpcMethod> methods;
  std::vector<double> weights;
  std::vector<const ResponseCounter*> counters;
  double weight_sum = 0;
  for (const PreparedOperation& op : unary) {
    methods.push_back(op.method);
    weights.push_back(scenario.operations[op.index].weight);
    counters.push_back(op.counter.get());
    weight_sum += scenario.operations[op.index].weight;
  }
  std::vector<std::string> stream_paths;
  for (const PreparedOperation& op : streaming) stream_paths.push_back(op.method.path);

  const Clock& clock = *options.clock;
  // Workers start together a little after set-up, so the schedule's first
  // intended times are not already late.
  const int64_t start = clock.NowNanos() + 20'000'000;
  const int64_t start_unix = UnixNanosNow() + 20'000'000;
  const std::string run_id = RandomRunId();

  // The timeline's operations are the scenario's, in order; each worker has
  // one contributor for its unary worker and one for its stream worker.
  IntervalTimeline timeline(start, scenario.interval_nanos, scenario.operations.size(),
                            2 * workers);
  std::vector<uint32_t> unary_ids, stream_ids;
  for (const PreparedOperation& op : unary) unary_ids.push_back(static_cast<uint32_t>(op.index));
  for (const PreparedOperation& op : streaming) {
    stream_ids.push_back(static_cast<uint32_t>(op.index));
  }

  struct WorkerParts {
    std::unique_ptr<IntervalRecorder> intervals;
    std::unique_ptr<IntervalRecorder> stream_intervals;
    std::vector<std::unique_ptr<TemplateRequestSource>> sources;
    std::unique_ptr<GrpcTransport> transport;
    std::unique_ptr<Worker> worker;
    std::unique_ptr<GrpcStreamTransport> stream_transport;
    std::unique_ptr<StreamWorker> stream_worker;
  };
  std::vector<WorkerParts> parts(workers);
  for (int w = 0; w < workers; ++w) {
    std::vector<std::shared_ptr<grpc::Channel>> own;
    for (size_t c = 0; c < channels.size(); ++c) {
      if (static_cast<int>(c % workers) == w) own.push_back(channels[c]);
    }
    if (own.empty()) own.push_back(channels[w % channels.size()]);
    WorkerParts& p = parts[w];
    const auto source_for = [&](const PreparedOperation& op) {
      p.sources.push_back(
          std::make_unique<TemplateRequestSource>(op.request_template, w, scenario.seed, run_id));
      return p.sources.back().get();
    };

    if (!unary.empty()) {
      WorkerPlan plan;
      plan.model = scenario.model;
      plan.start_nanos = start;
      plan.warmup_nanos = scenario.warmup_nanos;
      plan.duration_nanos = scenario.duration_nanos;
      plan.max_requests = scenario.requests > 0 ? Share(scenario.requests, workers, w) : 0;
      plan.max_in_flight = static_cast<uint32_t>(scenario.model == LoadModel::kClosedLoop
                                                     ? Share(scenario.concurrency, workers, w)
                                                     : scenario.max_in_flight);
      plan.drain_timeout_nanos = scenario.drain_timeout_nanos;
      plan.end_grace_nanos = scenario.max_generator_lag_nanos;
      plan.operation_weights = weights;
      plan.response_counters = counters;
      plan.seed = scenario.seed;
      plan.worker_index = w;
      plan.worker_count = workers;
      p.intervals = std::make_unique<IntervalRecorder>(timeline, 2 * w, unary_ids);
      plan.intervals = p.intervals.get();
      const bool idle =
          (scenario.requests > 0 && plan.max_requests == 0) || plan.max_in_flight == 0;
      if (!idle) {
        p.transport = std::make_unique<GrpcTransport>(own, methods, plan.max_in_flight);
        std::vector<RequestSource*> sources;
        for (const PreparedOperation& op : unary) sources.push_back(source_for(op));
        std::unique_ptr<ArrivalSchedule> schedule;
        if (scenario.model == LoadModel::kOpenLoop) {
          schedule = std::make_unique<ArrivalSchedule>(scenario.rate, scenario.arrival, w, workers,
                                                       scenario.seed);
        }
        p.worker = std::make_unique<Worker>(clock, *p.transport, std::move(sources),
                                            std::move(schedule), plan);
      }
    }

    if (!streaming.empty()) {
      StreamWorkerPlan plan;
      plan.start_nanos = start;
      plan.warmup_nanos = scenario.warmup_nanos;
      plan.duration_nanos = scenario.duration_nanos;
      plan.drain_timeout_nanos = scenario.drain_timeout_nanos;
      plan.worker_index = w;
      plan.worker_count = workers;
      plan.seed = scenario.seed;
      p.stream_intervals = std::make_unique<IntervalRecorder>(timeline, 2 * w + 1, stream_ids);
      plan.intervals = p.stream_intervals.get();
      uint32_t slots = 0;
      for (const PreparedOperation& op : streaming) {
        const StreamSpec& spec = scenario.operations[op.index].stream;
        StreamOperationPlan o;
        o.mode = ModeOf(op.kind);
        o.streams = static_cast<uint32_t>(Share(spec.streams, workers, w));
        o.messages = spec.messages;
        o.lifetime_nanos = spec.lifetime_nanos;
        o.open_rate =
            spec.open_rate * static_cast<double>(o.streams) / static_cast<double>(spec.streams);
        o.send_rate = spec.send_rate;
        o.delay_nanos = spec.delay_nanos;
        o.max_outstanding = static_cast<uint32_t>(spec.max_outstanding);
        o.reopen_backoff_nanos = spec.reopen_backoff_nanos;
        o.reopen_backoff_max_nanos = spec.reopen_backoff_max_nanos;
        o.source = source_for(op);
        o.inspector = op.inspector.get();
        slots += o.streams;
        plan.operations.push_back(o);
      }
      if (slots > 0) {
        p.stream_transport = std::make_unique<GrpcStreamTransport>(own, stream_paths, slots);
        p.stream_worker = std::make_unique<StreamWorker>(clock, WallClock::Instance(),
                                                         *p.stream_transport, std::move(plan));
      }
    }
  }

  IntervalRunInfo run_info{
      start_unix,
      timeline.interval_nanos(),
      scenario.duration_nanos,
      scenario.has_load && scenario.model == LoadModel::kOpenLoop ? scenario.rate : 0,
      {}};
  for (const OperationSpec& op : scenario.operations) {
    run_info.operations.push_back(IntervalOperationInfo{op.name, op.rpc, false, "unary"});
  }
  for (const PreparedOperation& op : streaming) {
    run_info.operations[op.index].streaming = true;
    run_info.operations[op.index].kind = KindName(op.kind);
  }
  for (IntervalObserver* observer : options.interval_observers) observer->OnRunStart(run_info);
  RunResult result;
  const pid_t target_pid = options.watch_pid == 0  ? LocalTargetPid(target)
                           : options.watch_pid > 0 ? static_cast<pid_t>(options.watch_pid)
                                                   : 0;
  result.resources.watched_pid = target_pid;
  // A worker that will not run contributes nothing to the timeline.
  for (int w = 0; w < workers; ++w) {
    if (!parts[w].worker) timeline.Finish(2 * w);
    if (!parts[w].stream_worker) timeline.Finish(2 * w + 1);
  }
  const double cpu_at_start = OwnCpuSeconds();
  const int64_t intervals_per_point = IntervalsPerResultPoint(scenario, timeline.interval_nanos());
  TimelineCollector collector(timeline, clock, start + scenario.warmup_nanos, intervals_per_point,
                              target_pid, options.interval_observers);
  std::vector<std::thread> threads;
  for (WorkerParts& p : parts) {
    if (p.worker) threads.emplace_back([&p, &options] { p.worker->Run(options.stop); });
    if (p.stream_worker) {
      threads.emplace_back([&p, &options] { p.stream_worker->Run(options.stop); });
    }
  }
  for (std::thread& t : threads) t.join();
  const int64_t end = clock.NowNanos();
  result.timeline.interval_seconds =
      static_cast<double>(timeline.interval_nanos() * intervals_per_point) / 1e9;
  result.timeline.points = collector.Finish(end);

  WorkerStats merged;
  merged.operations.resize(unary.size());
  std::vector<StreamStats> stream_stats(streaming.size());
  for (const WorkerParts& p : parts) {
    if (p.worker) merged.Merge(p.worker->stats());
    if (p.stream_worker) {
      for (size_t i = 0; i < streaming.size(); ++i) {
        stream_stats[i].MergeConcurrent(p.stream_worker->stats()[i]);
      }
    }
  }

  result.tool_version = kVersion;
  result.host = HostName();
  result.scenario_name = scenario.name;
  result.scenario_json = scenario.effective_json;
  result.target = target;
  result.load_model = !scenario.has_load                       ? "streams"
                      : scenario.model == LoadModel::kOpenLoop ? "open"
                                                               : "closed";
  result.target_rate =
      scenario.has_load && scenario.model == LoadModel::kOpenLoop ? scenario.rate : 0;
  result.start_unix_nanos = start_unix;
  result.end_unix_nanos = start_unix + (end - start);

  // Rates are over the measured window: from the end of warm-up to the end of
  // the schedule (or, for a request budget or an early stop, the last completion).
  const int64_t measured_start = start + scenario.warmup_nanos;
  int64_t measured_end = merged.last_completion_nanos;
  if (scenario.duration_nanos > 0 && scenario.requests == 0) {
    measured_end = std::min(start + scenario.duration_nanos, std::max(end, measured_start));
    if (options.stop != nullptr && options.stop->load()) measured_end = std::min(measured_end, end);
  }
  result.measured_seconds =
      std::max<double>(0, static_cast<double>(measured_end - measured_start) / 1e9);

  // Operations in scenario order; the total covers the unary ones (streams
  // measure messages, not requests, and have their own figures).
  OperationStats all;
  size_t next_unary = 0, next_stream = 0;
  for (const OperationSpec& spec : scenario.operations) {
    const bool is_unary =
        next_unary < unary.size() && &scenario.operations[unary[next_unary].index] == &spec;
    if (is_unary) {
      const double share = result.target_rate * spec.weight / weight_sum;
      result.operations.push_back(ToOperationResult(merged.operations[next_unary], spec.name,
                                                    spec.rpc, result.measured_seconds, share));
      all.Merge(merged.operations[next_unary]);
      ++next_unary;
    } else {
      result.operations.push_back(ToStreamOperationResult(
          stream_stats[next_stream], spec, streaming[next_stream].kind, result.measured_seconds));
      ++next_stream;
    }
  }
  result.total = ToOperationResult(all, "total", "*", result.measured_seconds, result.target_rate);

  GeneratorHealth& g = result.generator;
  g.schedule_lag = std::make_shared<Histogram>(merged.schedule_lag);
  g.generator_lag = std::make_shared<Histogram>(merged.generator_lag);
  g.max_generator_lag_p99_us = scenario.max_generator_lag_nanos / 1000;
  g.sent = merged.sent;
  g.delayed_by_in_flight_bound = merged.delayed_by_in_flight_bound;
  g.not_sent_generator_behind = merged.not_sent_generator_behind;
  g.not_sent_in_flight_bound = merged.not_sent_in_flight_bound;
  g.cancelled_at_drain = merged.cancelled_at_drain;
  g.warmup_completions = merged.warmup_completions;
  g.cpu_seconds = OwnCpuSeconds() - cpu_at_start;
  g.cpu_cores = AvailableCores();
  const double wall_seconds = static_cast<double>(end - start) / 1e9;
  const double cpu_share = wall_seconds > 0 ? g.cpu_seconds / (wall_seconds * g.cpu_cores) : 0;
  const int64_t own_lag_p99 = g.generator_lag->ValueAtPercentile(99);
  if (g.not_sent_generator_behind > 0) {
    g.kept_up = false;
    g.verdict =
        absl::StrCat("the generator fell behind its schedule: ", g.not_sent_generator_behind,
                     " requests due within the run were not sent by its end (p99 of its "
                     "own send lag ",
                     FormatDuration(own_lag_p99 * 1000),
                     "); latency figures describe the generator, not the target");
  } else if (!unary.empty() && scenario.model == LoadModel::kOpenLoop &&
             own_lag_p99 > g.max_generator_lag_p99_us) {
    g.kept_up = false;
    g.verdict = absl::StrCat("the generator fell behind its schedule: p99 of its own send lag is ",
                             FormatDuration(own_lag_p99 * 1000), " (bound ",
                             FormatDuration(scenario.max_generator_lag_nanos),
                             "); latency figures describe the generator, not the target");
  } else if (wall_seconds >= 1 && cpu_share > kMaxCpuShare) {
    g.kept_up = false;
    g.verdict = absl::StrCat("the generator used ", static_cast<int>(cpu_share * 100), "% of the ",
                             g.cpu_cores,
                             " CPU cores it may run on: it, not the target, set the pace; "
                             "give it more cores or less load");
  }

  if (webhook_session) {
    auto webhooks = webhook_session->Finish();
    result.webhooks =
        std::make_shared<WebhookResult>(webhooks.ok() ? *std::move(webhooks) : WebhookResult{});
    if (!webhooks.ok()) result.webhooks->error = std::string(webhooks.status().message());
  }
  result.resources.loadgen_peak_rss_bytes = OwnPeakResidentBytes();
  if (scenario.report_server_memory) ProbeServerMemory(channels.front(), &result.resources);

  auto gate_results = EvaluateGates(gates, result);
  if (!gate_results.ok()) return gate_results.status();
  result.gates = *std::move(gate_results);
  return result;
}

}  // namespace aurigraph::loadgen
