#include "loadgen/coordinate/coordinator.h"

#include <grpcpp/grpcpp.h>

#include <chrono>
#include <cmath>
#include <condition_variable>
#include <filesystem>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "common/units/units.h"
#include "loadbench/coordination/v1/coordination.grpc.pb.h"
#include "loadgen/histogram/histogram_codec.h"
#include "loadgen/histogram/latency.h"
#include "loadgen/intervallog/interval_log.h"
#include "loadgen/result/run_result.h"

namespace aurigraph::loadgen {
namespace {

namespace v1 = ::loadbench::coordination::v1;

// Chunks hold one interval's histograms; a run of many operations can make them large.
constexpr int kMaxChunkBytes = 64 << 20;
constexpr auto kPoll = std::chrono::milliseconds(100);
constexpr int64_t kStreamGrace = 10'000'000'000;

// One interval's merged figures while workers' parts of it arrive.
struct PendingInterval {
  IntervalProgress progress;
  Histogram latency = MakeLatencyHistogram();
};

}  // namespace

class Coordinator::Service final : public v1::Coordinator::Service {
 public:
  explicit Service(CoordinatorOptions options) : options_(std::move(options)) {
    workers_.resize(static_cast<size_t>(options_.workers));
    for (int k = 0; k < options_.workers; ++k) workers_[k].index = k;
  }

  ~Service() override {
    {
      std::lock_guard<std::mutex> lock(mu_);
      shutting_down_ = true;
    }
    cv_.notify_all();
    if (server_) server_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(1));
  }

  absl::Status Listen() {
    grpc::ServerBuilder builder;
    builder.AddListeningPort(options_.listen, grpc::InsecureServerCredentials(), &port_);
    builder.RegisterService(this);
    builder.SetMaxReceiveMessageSize(kMaxChunkBytes);
    server_ = builder.BuildAndStart();
    if (server_ == nullptr || port_ == 0) {
      return absl::UnavailableError(
          absl::StrCat("coordinator: cannot listen on ", options_.listen));
    }
    return absl::OkStatus();
  }

  int port() const { return port_; }

  std::string WorkerDir(int index) const {
    return (std::filesystem::path(options_.out_dir) / absl::StrCat("worker-", index)).string();
  }

  grpc::Status Join(grpc::ServerContext*, const v1::JoinRequest* request,
                    v1::JoinReply* reply) override {
    std::lock_guard<std::mutex> lock(mu_);
    if (start_ || barrier_failure_) {
      return grpc::Status(grpc::StatusCode::FAILED_PRECONDITION,
                          "the run has started (or ended) without this worker");
    }
    if (request->tool_version() != options_.tool_version) {
      return grpc::Status(
          grpc::StatusCode::FAILED_PRECONDITION,
          absl::StrCat("this worker runs aurigraph-loadgen ", request->tool_version(),
                       ", the coordinator ", options_.tool_version, ": run the same version"));
    }
    int index = request->worker_index();
    if (index == -1) {
      for (const WorkerStatus& w : workers_) {
        if (!w.joined) {
          index = w.index;
          break;
        }
      }
      if (index == -1) {
        return grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED,
                            absl::StrCat("all ", options_.workers, " workers have joined"));
      }
    }
    if (index < 0 || index >= options_.workers) {
      return grpc::Status(
          grpc::StatusCode::OUT_OF_RANGE,
          absl::StrCat("worker index ", index, " is not within 0 to ", options_.workers - 1));
    }
    WorkerStatus& w = workers_[index];
    if (w.joined) {
      return grpc::Status(
          grpc::StatusCode::ALREADY_EXISTS,
          absl::StrCat("worker ", index, " has joined already (from ", w.host, ")"));
    }
    w.joined = true;
    w.host = request->host();
    reply->set_worker_index(index);
    reply->set_worker_count(options_.workers);
    reply->set_scenario_json(options_.scenario_json);
    reply->set_target(options_.target);
    reply->set_run_id(options_.run_id);
    return grpc::Status::OK;
  }

  grpc::Status ReadClock(grpc::ServerContext*, const v1::ReadClockRequest*,
                         v1::ReadClockReply* reply) override {
    reply->set_unix_nanos(options_.wall_clock->NowNanos());
    return grpc::Status::OK;
  }

  grpc::Status AwaitStart(grpc::ServerContext* context, const v1::AwaitStartRequest* request,
                          v1::AwaitStartReply* reply) override {
    std::unique_lock<std::mutex> lock(mu_);
    const int index = request->worker_index();
    if (index < 0 || index >= options_.workers || !workers_[index].joined) {
      return grpc::Status(grpc::StatusCode::FAILED_PRECONDITION, "join first");
    }
    WorkerStatus& w = workers_[index];
    w.ready = true;
    w.clock_offset_nanos = request->clock_offset_nanos();
    w.clock_round_trip_nanos = request->clock_round_trip_nanos();
    cv_.notify_all();
    while (!start_ && !barrier_failure_ && !shutting_down_ && !context->IsCancelled()) {
      cv_.wait_for(lock, kPoll);
    }
    if (start_) {
      reply->set_start_unix_nanos(*start_);
      return grpc::Status::OK;
    }
    w.ready = false;  // it left the barrier
    if (barrier_failure_) return *barrier_failure_;
    return grpc::Status(grpc::StatusCode::ABORTED, "the coordinator is shutting down");
  }

  grpc::Status StreamLogs(grpc::ServerContext*, grpc::ServerReader<v1::LogChunk>* reader,
                          v1::StreamLogsReply*) override {
    v1::LogChunk chunk;
    if (!reader->Read(&chunk)) return grpc::Status::OK;
    const int index = chunk.worker_index();
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (index < 0 || index >= options_.workers || !workers_[index].joined ||
          workers_[index].streaming || workers_[index].finished) {
        return grpc::Status(grpc::StatusCode::FAILED_PRECONDITION,
                            "logs from a worker that has not joined, or twice");
      }
      workers_[index].streaming = true;
    }
    auto files = IntervalLogFiles::Create(WorkerDir(index));
    if (!files.ok()) {
      MarkEnded(index, /*finished=*/false);
      return grpc::Status(grpc::StatusCode::INTERNAL, std::string(files.status().message()));
    }
    bool finished = false;
    do {
      (*files)->Append(IntervalLogText{chunk.intervals(), chunk.histograms()});
      Observe(index, chunk);
      finished = chunk.final();
    } while (!finished && reader->Read(&chunk));
    MarkEnded(index, finished);
    return grpc::Status::OK;
  }

  absl::StatusOr<int64_t> Barrier(const std::atomic<bool>& stop) {
    const auto deadline =
        std::chrono::steady_clock::now() + std::chrono::nanoseconds(options_.barrier_timeout_nanos);
    std::unique_lock<std::mutex> lock(mu_);
    for (;;) {
      int ready = 0;
      std::vector<int> missing;
      for (const WorkerStatus& w : workers_) {
        if (w.ready) {
          ++ready;
        } else if (missing.size() < 10) {
          missing.push_back(w.index);
        }
      }
      if (ready == options_.workers) {
        start_ = options_.wall_clock->NowNanos() + options_.start_delay_nanos;
        cv_.notify_all();
        return *start_;
      }
      const bool timed_out = std::chrono::steady_clock::now() >= deadline;
      if (timed_out || stop.load()) {
        const std::string why =
            timed_out
                ? absl::StrCat(
                      "barrier timed out after ", FormatDuration(options_.barrier_timeout_nanos),
                      ": ", ready, " of ", options_.workers,
                      " workers arrived (missing: ", absl::StrJoin(missing, ", "),
                      missing.size() < static_cast<size_t>(options_.workers - ready) ? ", ..." : "",
                      ")")
                : absl::StrCat("stopped before the start: ", ready, " of ", options_.workers,
                               " workers had arrived");
        barrier_failure_ = grpc::Status(
            timed_out ? grpc::StatusCode::DEADLINE_EXCEEDED : grpc::StatusCode::ABORTED, why);
        cv_.notify_all();
        return timed_out ? absl::DeadlineExceededError(why) : absl::AbortedError(why);
      }
      cv_.wait_for(lock, kPoll);
    }
  }

  void AwaitEnd(const std::atomic<bool>& stop,
                const std::function<void(const IntervalProgress&)>& on_interval) {
    for (bool done = false; !done;) {
      std::vector<IntervalProgress> complete;
      {
        std::unique_lock<std::mutex> lock(mu_);
        cv_.wait_for(lock, kPoll);
        // A worker opens its log stream before the start: one that has not
        // well after it never will (it died between the barrier and its run).
        const bool overdue = start_ && options_.wall_clock->NowNanos() > *start_ + kStreamGrace;
        for (WorkerStatus& w : workers_) {
          if (overdue && !w.streaming && !w.finished) w.lost = true;
        }
        done =
            stop.load() || std::all_of(workers_.begin(), workers_.end(),
                                       [](const WorkerStatus& w) { return w.finished || w.lost; });
        // An interval is complete once every worker that may still send it has.
        for (auto it = pending_.begin(); it != pending_.end();) {
          const double offset = it->second.progress.offset_seconds;
          const int expected = static_cast<int>(
              std::count_if(workers_.begin(), workers_.end(), [&](const WorkerStatus& w) {
                return !w.lost && !(w.finished && w.logged_seconds <= offset);
              }));
          if (!done && it->second.progress.reporting < expected) break;
          IntervalProgress p = it->second.progress;
          if (it->second.latency.TotalCount() > 0)
            p.p99_us = it->second.latency.ValueAtPercentile(99);
          complete.push_back(p);
          it = pending_.erase(it);
        }
      }
      for (const IntervalProgress& p : complete) on_interval(p);
    }
  }

  std::vector<WorkerStatus> Workers() const {
    std::lock_guard<std::mutex> lock(mu_);
    return workers_;
  }

  const CoordinatorOptions& options() const { return options_; }

 private:
  void MarkEnded(int index, bool finished) {
    std::lock_guard<std::mutex> lock(mu_);
    workers_[index].streaming = false;
    workers_[index].finished = finished;
    workers_[index].lost = !finished;
    cv_.notify_all();
  }

  // Progress from a chunk: each interval's counts and its operations' latency.
  void Observe(int index, const v1::LogChunk& chunk) {
    std::vector<TimelinePoint> points;
    for (absl::string_view line : absl::StrSplit(chunk.intervals(), '\n', absl::SkipEmpty())) {
      const nlohmann::json j = nlohmann::json::parse(line, nullptr, false);
      if (!j.is_object()) continue;
      if (j.contains("operations") && j.contains("schema")) {  // the run's description
        std::lock_guard<std::mutex> lock(mu_);
        if (tags_.empty()) {
          for (const auto& op : j["operations"]) {
            if (op.is_object() && op.contains("tag") && op["tag"].is_string()) {
              tags_.insert(op["tag"].get<std::string>());
            }
          }
        }
        continue;
      }
      if (!j.contains("counts")) continue;
      auto point = TimelinePointFromJson(std::string(line));
      if (point.ok()) points.push_back(*std::move(point));
    }
    std::lock_guard<std::mutex> lock(mu_);
    for (const TimelinePoint& point : points) {
      PendingInterval& pending = pending_[OffsetKey(point.offset_seconds)];
      IntervalProgress& p = pending.progress;
      p.offset_seconds = point.offset_seconds;
      p.seconds = std::max(p.seconds, point.seconds);
      for (const TimelineOperation& op : point.operations) {
        p.completed += op.count;
        p.errors += op.errors;
      }
      ++p.reporting;
      workers_[index].logged_seconds = point.offset_seconds + point.seconds;
    }
    for (absl::string_view line : absl::StrSplit(chunk.histograms(), '\n', absl::SkipEmpty())) {
      if (!absl::ConsumePrefix(&line, "Tag=")) continue;
      const std::vector<absl::string_view> fields = absl::StrSplit(line, ',');
      double start = 0;
      if (fields.size() != 5 || !tags_.count(std::string(fields[0])) ||
          !absl::SimpleAtod(fields[1], &start)) {
        continue;
      }
      auto h = DecodeBase64(std::string(fields[4]));
      if (h.ok()) pending_[OffsetKey(start)].latency.Add(**h);
    }
  }

  const CoordinatorOptions options_;
  std::unique_ptr<grpc::Server> server_;
  int port_ = 0;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::vector<WorkerStatus> workers_;
  std::optional<int64_t> start_;
  std::optional<grpc::Status> barrier_failure_;
  bool shutting_down_ = false;
  std::set<std::string> tags_;                  // the operations' latency histograms in the .hlog
  std::map<int64_t, PendingInterval> pending_;  // by interval start, ms
};

absl::StatusOr<std::unique_ptr<Coordinator>> Coordinator::Start(CoordinatorOptions options) {
  for (int k = 0; k < options.workers; ++k) {
    std::error_code ec;
    const auto dir = std::filesystem::path(options.out_dir) / absl::StrCat("worker-", k);
    std::filesystem::create_directories(dir, ec);
    if (ec) {
      return absl::PermissionDeniedError(
          absl::StrCat(dir.string(), ": cannot create directory: ", ec.message()));
    }
  }
  auto service = std::make_unique<Service>(std::move(options));
  if (absl::Status listening = service->Listen(); !listening.ok()) return listening;
  return std::unique_ptr<Coordinator>(new Coordinator(std::move(service)));
}

Coordinator::Coordinator(std::unique_ptr<Service> service) : service_(std::move(service)) {}
Coordinator::~Coordinator() = default;

int Coordinator::port() const { return service_->port(); }

absl::StatusOr<int64_t> Coordinator::AwaitStart(const std::atomic<bool>& stop) {
  return service_->Barrier(stop);
}

void Coordinator::AwaitEnd(const std::atomic<bool>& stop,
                           const std::function<void(const IntervalProgress&)>& on_interval) {
  service_->AwaitEnd(stop, on_interval);
}

std::vector<WorkerStatus> Coordinator::workers() const { return service_->Workers(); }

std::vector<std::string> Coordinator::worker_dirs() const {
  std::vector<std::string> dirs;
  for (int k = 0; k < service_->options().workers; ++k) dirs.push_back(service_->WorkerDir(k));
  return dirs;
}

}  // namespace aurigraph::loadgen
