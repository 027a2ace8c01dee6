#include "loadgen/coordinate/worker_session.h"

#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <chrono>
#include <iostream>
#include <limits>
#include <thread>

#include "absl/strings/str_cat.h"
#include "common/clock/clock.h"
#include "common/host/host.h"
#include "loadbench/coordination/v1/coordination.grpc.pb.h"
#include "loadgen/intervallog/interval_log.h"

namespace aurigraph::loadgen {
namespace {

namespace v1 = ::loadbench::coordination::v1;

// Round trips timed to find the clock offset; the fastest is the one least
// skewed by queueing.
constexpr int kClockSamples = 8;
constexpr auto kCallTimeout = std::chrono::seconds(10);

absl::Status FromGrpc(const grpc::Status& status, absl::string_view what) {
  return absl::Status(static_cast<absl::StatusCode>(status.error_code()),
                      absl::StrCat("coordinator: ", what, ": ", status.error_message()));
}

std::chrono::system_clock::time_point In(std::chrono::seconds timeout) {
  return std::chrono::system_clock::now() + timeout;
}

}  // namespace

class WorkerSession::Channel {
 public:
  explicit Channel(std::shared_ptr<grpc::Channel> channel)
      : channel_(std::move(channel)), stub_(v1::Coordinator::NewStub(channel_)) {}
  v1::Coordinator::Stub& stub() { return *stub_; }

  // The log stream: opened with the first chunk; once a write fails the run
  // goes on without it (its own logs are whole on its disk).
  void Send(const v1::LogChunk& chunk) {
    if (failed_) return;
    if (!writer_) writer_ = stub_->StreamLogs(&context_, &reply_);
    if (!writer_->Write(chunk)) {
      failed_ = true;
      std::cerr << "aurigraph-loadgen: warning: lost the coordinator; this worker's run goes on, "
                   "its logs are in its --out directory\n";
    }
  }
  void Close() {
    if (!writer_ || failed_) return;
    writer_->WritesDone();
    const grpc::Status status = writer_->Finish();
    if (!status.ok()) {
      std::cerr << "aurigraph-loadgen: warning: the coordinator did not take this worker's logs: "
                << status.error_message() << "\n";
    }
  }

 private:
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::Coordinator::Stub> stub_;
  grpc::ClientContext context_;
  v1::StreamLogsReply reply_;
  std::unique_ptr<grpc::ClientWriter<v1::LogChunk>> writer_;
  bool failed_ = false;
};

absl::StatusOr<std::unique_ptr<WorkerSession>> WorkerSession::Join(const std::string& address,
                                                                   int worker_index,
                                                                   const std::string& tool_version,
                                                                   int64_t timeout_nanos,
                                                                   const std::atomic<bool>& stop) {
  auto channel = grpc::CreateChannel(address, grpc::InsecureChannelCredentials());
  const auto give_up = std::chrono::system_clock::now() + std::chrono::nanoseconds(timeout_nanos);
  // Tried in short waits, so that a stop ends the wait.
  while (!channel->WaitForConnected(
      std::min(give_up, std::chrono::system_clock::now() + std::chrono::milliseconds(100)))) {
    if (stop.load()) return absl::AbortedError("stopped while joining the coordinator");
    if (std::chrono::system_clock::now() >= give_up) {
      return absl::UnavailableError(
          absl::StrCat("coordinator: cannot reach ", address, " (is `coordinate` running there?)"));
    }
  }
  auto session_channel = std::make_unique<Channel>(std::move(channel));
  v1::JoinRequest request;
  request.set_worker_index(worker_index);
  request.set_host(HostName());
  request.set_tool_version(tool_version);
  v1::JoinReply reply;
  grpc::ClientContext context;
  context.set_deadline(In(kCallTimeout));
  const grpc::Status joined = session_channel->stub().Join(&context, request, &reply);
  if (!joined.ok()) return FromGrpc(joined, "join refused");
  JoinedRun run{reply.worker_index(), reply.worker_count(), reply.scenario_json(), reply.target(),
                reply.run_id()};
  return std::unique_ptr<WorkerSession>(new WorkerSession(std::move(session_channel), run));
}

WorkerSession::WorkerSession(std::unique_ptr<Channel> channel, JoinedRun run)
    : channel_(std::move(channel)), run_(std::move(run)) {}

WorkerSession::~WorkerSession() = default;

absl::StatusOr<SharedStart> WorkerSession::AwaitStart(const std::atomic<bool>& stop) {
  const Clock& clock = WallClock::Instance();
  int64_t best_round_trip = std::numeric_limits<int64_t>::max();
  for (int i = 0; i < kClockSamples; ++i) {
    v1::ReadClockReply reply;
    grpc::ClientContext context;
    context.set_deadline(In(kCallTimeout));
    const int64_t sent = clock.NowNanos();
    const grpc::Status read = channel_->stub().ReadClock(&context, v1::ReadClockRequest(), &reply);
    const int64_t received = clock.NowNanos();
    if (!read.ok()) return FromGrpc(read, "reading its clock");
    if (received - sent < best_round_trip) {
      best_round_trip = received - sent;
      clock_offset_nanos_ = reply.unix_nanos() - (sent + (received - sent) / 2);
    }
  }
  clock_round_trip_nanos_ = best_round_trip;
  v1::AwaitStartRequest request;
  request.set_worker_index(run_.worker_index);
  request.set_clock_offset_nanos(clock_offset_nanos_);
  request.set_clock_round_trip_nanos(clock_round_trip_nanos_);
  v1::AwaitStartReply reply;
  grpc::ClientContext context;  // the coordinator's barrier bounds the wait
  // A stop cancels the wait.
  std::atomic<bool> answered{false};
  std::thread canceller([&] {
    while (!answered.load()) {
      if (stop.load()) {
        context.TryCancel();
        return;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  });
  const grpc::Status started = channel_->stub().AwaitStart(&context, request, &reply);
  answered.store(true);
  canceller.join();
  if (!started.ok()) return FromGrpc(started, "no start");
  return SharedStart{reply.start_unix_nanos(), reply.start_unix_nanos() - clock_offset_nanos_};
}

void WorkerSession::Forward(const IntervalLogText& text, bool final) {
  v1::LogChunk chunk;
  chunk.set_worker_index(run_.worker_index);
  chunk.set_intervals(text.intervals);
  chunk.set_histograms(text.histograms);
  chunk.set_final(final);
  channel_->Send(chunk);
  if (final) channel_->Close();
}

void WorkerSession::OnRunStart(const RunDescription& run) { Forward(formatter_.Start(run), false); }

void WorkerSession::OnInterval(const IntervalSlice& slice, const TimelinePoint& point) {
  Forward(formatter_.Interval(slice, point), false);
}

void WorkerSession::OnRunEnd(const RunEnd& end) { Forward(formatter_.End(end), true); }

}  // namespace aurigraph::loadgen
