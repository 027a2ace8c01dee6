#include "loadgen/transport/grpc_transport.h"

#include <grpcpp/alarm.h>
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <optional>
#include <thread>

#include "absl/strings/str_cat.h"

namespace aurigraph::loadgen {
namespace {

gpr_timespec AfterNanos(int64_t nanos) {
  return gpr_time_add(gpr_now(GPR_CLOCK_MONOTONIC), gpr_time_from_nanos(nanos, GPR_TIMESPAN));
}

}  // namespace

struct GrpcTransport::Call {
  std::optional<grpc::ClientContext> context;
  grpc::ByteBuffer response;
  grpc::Status status;
  std::unique_ptr<grpc::GenericClientAsyncResponseReader> reader;
  bool busy = false;
};

// Wakes a completion queue at a precise time. A completion queue's own timeout
// is rounded to whole milliseconds, which would make every open-loop send up to
// 1 ms late; instead a helper thread sleeps on the steady clock (tens of us of
// slack) and then posts an already-expired alarm, which wakes the queue at once.
class QueueKicker {
 public:
  explicit QueueKicker(grpc::CompletionQueue& queue) : queue_(queue), thread_([this] { Loop(); }) {}
  ~QueueKicker() {
    {
      std::lock_guard lock(mutex_);
      stopping_ = true;
    }
    changed_.notify_one();
    thread_.join();
  }

  static void* Tag() { return reinterpret_cast<void*>(~uintptr_t{0}); }

  void ArmAt(std::chrono::steady_clock::time_point when) {
    {
      std::lock_guard lock(mutex_);
      armed_ = true;
      when_ = when;
    }
    changed_.notify_one();
  }
  void Disarm() {
    std::lock_guard lock(mutex_);
    armed_ = false;
  }
  // Called by the queue's owner when it took the kick off the queue.
  void Consumed() {
    std::lock_guard lock(mutex_);
    in_queue_ = false;
  }

 private:
  void Loop() {
    std::unique_lock lock(mutex_);
    while (!stopping_) {
      if (!armed_ || in_queue_) {
        changed_.wait(lock);
        continue;
      }
      if (std::chrono::steady_clock::now() < when_) {
        changed_.wait_until(lock, when_);
        continue;
      }
      armed_ = false;
      in_queue_ = true;
      alarm_.Set(&queue_, gpr_inf_past(GPR_CLOCK_MONOTONIC), Tag());
    }
  }

  grpc::CompletionQueue& queue_;
  grpc::Alarm alarm_;
  std::mutex mutex_;
  std::condition_variable changed_;
  bool armed_ = false;
  bool in_queue_ = false;
  bool stopping_ = false;
  std::chrono::steady_clock::time_point when_;
  std::thread thread_;
};

struct GrpcTransport::Impl {
  std::vector<std::shared_ptr<grpc::Channel>> channels;
  std::vector<std::unique_ptr<grpc::GenericStub>> stubs;
  std::vector<GrpcMethod> methods;
  std::vector<Call> calls;
  grpc::CompletionQueue queue;
  std::optional<QueueKicker> kicker;
  size_t next_stub = 0;
};

std::vector<std::shared_ptr<grpc::Channel>> CreateChannels(const std::string& target, int count) {
  std::vector<std::shared_ptr<grpc::Channel>> channels;
  for (int i = 0; i < count; ++i) {
    grpc::ChannelArguments args;
    // Channels with identical arguments share one TCP connection; a local
    // subchannel pool and a distinct argument give each channel its own.
    args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
    args.SetInt("aurigraph.loadgen.channel", i);
    args.SetMaxReceiveMessageSize(64 * 1024 * 1024);
    channels.push_back(grpc::CreateCustomChannel(target, grpc::InsecureChannelCredentials(), args));
  }
  return channels;
}

absl::Status WaitForConnection(const std::vector<std::shared_ptr<grpc::Channel>>& channels,
                               const std::string& target, int64_t timeout_nanos) {
  const gpr_timespec deadline = AfterNanos(timeout_nanos);
  for (const auto& channel : channels) {
    if (!channel->WaitForConnected(deadline)) {
      return absl::UnavailableError(absl::StrCat("target ", target,
                                                 " unreachable: no connection within ",
                                                 timeout_nanos / 1'000'000, " ms"));
    }
  }
  return absl::OkStatus();
}

GrpcTransport::GrpcTransport(std::vector<std::shared_ptr<grpc::Channel>> channels,
                             std::vector<GrpcMethod> methods, uint32_t slots)
    : impl_(std::make_unique<Impl>()) {
  impl_->channels = std::move(channels);
  for (const auto& channel : impl_->channels) {
    impl_->stubs.push_back(std::make_unique<grpc::GenericStub>(channel));
  }
  impl_->methods = std::move(methods);
  impl_->calls = std::vector<Call>(slots);
  impl_->kicker.emplace(impl_->queue);
}

GrpcTransport::~GrpcTransport() {
  CancelAll();
  Completion ignored;
  while (
      std::any_of(impl_->calls.begin(), impl_->calls.end(), [](const Call& c) { return c.busy; })) {
    if (!Next(1'000'000'000, &ignored)) break;
  }
  impl_->kicker.reset();
  impl_->queue.Shutdown();
  void* tag;
  bool ok;
  while (impl_->queue.Next(&tag, &ok)) {
  }
}

void GrpcTransport::Start(uint32_t slot, uint32_t operation, std::string_view request) {
  Call& call = impl_->calls[slot];
  const GrpcMethod& method = impl_->methods[operation];
  call.context.emplace();
  if (method.deadline_nanos > 0) {
    call.context->set_deadline(std::chrono::system_clock::now() +
                               std::chrono::nanoseconds(method.deadline_nanos));
  }
  grpc::Slice slice(request.data(), request.size());
  grpc::ByteBuffer buffer(&slice, 1);
  grpc::GenericStub& stub = *impl_->stubs[impl_->next_stub];
  impl_->next_stub = (impl_->next_stub + 1) % impl_->stubs.size();
  call.reader = stub.PrepareUnaryCall(&*call.context, method.path, buffer, &impl_->queue);
  call.busy = true;
  call.reader->StartCall();
  call.reader->Finish(&call.response, &call.status,
                      reinterpret_cast<void*>(static_cast<uintptr_t>(slot) + 1));
}

bool GrpcTransport::Next(int64_t timeout_nanos, Completion* completion) {
  void* tag = nullptr;
  bool ok = false;
  gpr_timespec deadline = gpr_inf_past(GPR_CLOCK_MONOTONIC);
  if (timeout_nanos > 0) {
    impl_->kicker->ArmAt(std::chrono::steady_clock::now() +
                         std::chrono::nanoseconds(timeout_nanos));
    // The queue's own timeout only backs up the kicker.
    deadline = AfterNanos(timeout_nanos + 5'000'000);
  }
  const auto outcome = impl_->queue.AsyncNext(&tag, &ok, deadline);
  if (timeout_nanos > 0) impl_->kicker->Disarm();
  if (outcome != grpc::CompletionQueue::GOT_EVENT) return false;
  if (tag == QueueKicker::Tag()) {
    impl_->kicker->Consumed();
    return false;
  }
  const auto slot = static_cast<uint32_t>(reinterpret_cast<uintptr_t>(tag) - 1);
  Call& call = impl_->calls[slot];
  completion->slot = slot;
  completion->status_code = ok ? call.status.error_code() : grpc::StatusCode::CANCELLED;
  call.busy = false;
  call.reader.reset();
  call.response.Clear();
  return true;
}

void GrpcTransport::CancelAll() {
  for (Call& call : impl_->calls) {
    if (call.busy) call.context->TryCancel();
  }
}

}  // namespace aurigraph::loadgen
