#include "reference-server/service/reference_server.h"

#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/grpcpp.h>
#include <grpcpp/health_check_service_interface.h>

#include <condition_variable>
#include <mutex>
#include <queue>
#include <thread>
#include <tuple>

#include "absl/strings/str_cat.h"
#include "aurigraph/approval/v1/approval.grpc.pb.h"
#include "aurigraph/transaction/v1/transaction.grpc.pb.h"
#include "common/version/version.h"

namespace aurigraph::refserver {
namespace {

namespace av1 = approval::v1;
namespace tv1 = transaction::v1;
namespace cv1 = common::v1;

// Finishes held responses at their release time. gRPC's own timers (grpc::Alarm)
// fire on a millisecond grid, too coarse for ground truth measured in
// microseconds; a condition variable on the steady clock wakes within tens of us.
class DelayedFinisher {
 public:
  explicit DelayedFinisher(const Clock& clock) : clock_(clock), thread_([this] { Loop(); }) {}
  ~DelayedFinisher() {
    {
      std::lock_guard lock(mutex_);
      stopping_ = true;
    }
    wake_.notify_one();
    thread_.join();
  }

  void Schedule(int64_t release_at_nanos, grpc::ServerUnaryReactor* reactor, grpc::Status status) {
    {
      std::lock_guard lock(mutex_);
      pending_.push(Held{release_at_nanos, sequence_++, reactor, std::move(status)});
    }
    wake_.notify_one();
  }

 private:
  struct Held {
    int64_t release_at_nanos;
    uint64_t sequence;
    grpc::ServerUnaryReactor* reactor;
    grpc::Status status;
    bool operator>(const Held& other) const {
      return std::tie(release_at_nanos, sequence) >
             std::tie(other.release_at_nanos, other.sequence);
    }
  };

  void Loop() {
    std::unique_lock lock(mutex_);
    for (;;) {
      if (pending_.empty()) {
        if (stopping_) return;
        wake_.wait(lock);
        continue;
      }
      const int64_t wait = pending_.top().release_at_nanos - clock_.NowNanos();
      if (wait > 0 && !stopping_) {
        wake_.wait_for(lock, std::chrono::nanoseconds(wait));
        continue;
      }
      Held held = pending_.top();
      pending_.pop();
      lock.unlock();
      held.reactor->Finish(held.status);
      lock.lock();
    }
  }

  const Clock& clock_;
  std::mutex mutex_;
  std::condition_variable wake_;
  std::priority_queue<Held, std::vector<Held>, std::greater<>> pending_;
  uint64_t sequence_ = 0;
  bool stopping_ = false;
  std::thread thread_;
};

// Finishes unary calls, holding each response as the fault injector decides.
class Responder {
 public:
  Responder(const FaultInjector& faults, HandledCounters& handled, DelayedFinisher& delayed)
      : faults_(faults), handled_(handled), delayed_(delayed) {}

  grpc::ServerUnaryReactor* Finish(grpc::CallbackServerContext* context,
                                   const absl::Status& status) const {
    grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
    grpc::Status reply(static_cast<grpc::StatusCode>(status.code()), std::string(status.message()));
    if (!faults_.config().active()) {
      Count(reply);
      reactor->Finish(reply);
      return reactor;
    }
    const FaultInjector::Decision decision = faults_.Decide();
    if (decision.error_code != 0) {
      reply = grpc::Status(static_cast<grpc::StatusCode>(decision.error_code), "injected fault");
    }
    Count(reply);
    const int64_t wait = decision.release_at_nanos - faults_.clock().NowNanos();
    if (wait <= 0) {
      reactor->Finish(reply);
      return reactor;
    }
    delayed_.Schedule(decision.release_at_nanos, reactor, std::move(reply));
    return reactor;
  }

 private:
  void Count(const grpc::Status& status) const {
    handled_.by_code[status.error_code()].fetch_add(1, std::memory_order_relaxed);
  }
  const FaultInjector& faults_;
  HandledCounters& handled_;
  DelayedFinisher& delayed_;
};

template <typename T>
absl::Status Assign(absl::StatusOr<T> outcome, T* response) {
  if (!outcome.ok()) return outcome.status();
  *response = *std::move(outcome);
  return absl::OkStatus();
}

class ApprovalServiceImpl final : public av1::ApprovalService::CallbackService {
 public:
  ApprovalServiceImpl(ApprovalStore& store, const Responder& responder, const Clock& wall,
                      int64_t started)
      : store_(store), responder_(responder), wall_(wall), started_(started) {}

  grpc::ServerUnaryReactor* SubmitApprovalRequest(grpc::CallbackServerContext* context,
                                                  const av1::ApprovalRequest* request,
                                                  av1::ApprovalState* response) override {
    return responder_.Finish(context, Assign(store_.Submit(*request), response));
  }
  grpc::ServerUnaryReactor* GetApprovalStatus(grpc::CallbackServerContext* context,
                                              const av1::GetApprovalStatusRequest* request,
                                              av1::ApprovalState* response) override {
    return responder_.Finish(
        context, Assign(store_.Get(request->approval_id(), request->include_votes()), response));
  }
  grpc::ServerUnaryReactor* SubmitValidatorResponse(grpc::CallbackServerContext* context,
                                                    const av1::ValidatorResponse* request,
                                                    av1::ApprovalState* response) override {
    return responder_.Finish(context, Assign(store_.Vote(*request), response));
  }
  grpc::ServerUnaryReactor* CheckHealth(grpc::CallbackServerContext* context,
                                        const cv1::HealthRequest* request,
                                        cv1::HealthResponse* response) override {
    const int64_t now = wall_.NowNanos();
    response->set_status(cv1::SERVING_STATUS_SERVING);
    response->set_uptime_ms((now - started_) / 1'000'000);
    response->set_server_time_unix_nanos(now);
    response->set_version(kVersion);
    return responder_.Finish(context, absl::OkStatus());
  }

 private:
  ApprovalStore& store_;
  const Responder& responder_;
  const Clock& wall_;
  int64_t started_;
};

class TransactionServiceImpl final : public tv1::TransactionService::CallbackService {
 public:
  TransactionServiceImpl(TransactionStore& store, const Responder& responder)
      : store_(store), responder_(responder) {}

  grpc::ServerUnaryReactor* SubmitTransaction(grpc::CallbackServerContext* context,
                                              const tv1::Transaction* request,
                                              tv1::TransactionResponse* response) override {
    return responder_.Finish(context, Assign(store_.Submit(*request), response));
  }
  grpc::ServerUnaryReactor* BatchSubmitTransactions(grpc::CallbackServerContext* context,
                                                    const tv1::BatchRequest* request,
                                                    tv1::BatchResponse* response) override {
    return responder_.Finish(context, Assign(store_.SubmitBatch(*request), response));
  }
  grpc::ServerUnaryReactor* GetTransaction(grpc::CallbackServerContext* context,
                                           const tv1::GetTransactionRequest* request,
                                           tv1::Transaction* response) override {
    return responder_.Finish(context, Assign(store_.Get(request->id()), response));
  }

 private:
  TransactionStore& store_;
  const Responder& responder_;
};

}  // namespace

int64_t HandledCounters::total() const {
  int64_t sum = 0;
  for (const auto& count : by_code) sum += count.load(std::memory_order_relaxed);
  return sum;
}

struct ReferenceServer::Impl {
  explicit Impl(const ServerOptions& o)
      : options(o),
        faults(o.faults, *o.monotonic_clock),
        approval_store(*o.wall_clock, o.approvals),
        transaction_store(*o.wall_clock, o.transactions),
        delayed(*o.monotonic_clock),
        responder(faults, handled, delayed),
        approval_service(approval_store, responder, *o.wall_clock, o.wall_clock->NowNanos()),
        transaction_service(transaction_store, responder) {}

  ServerOptions options;
  FaultInjector faults;
  ApprovalStore approval_store;
  TransactionStore transaction_store;
  HandledCounters handled;
  DelayedFinisher delayed;
  Responder responder;
  ApprovalServiceImpl approval_service;
  TransactionServiceImpl transaction_service;
  std::unique_ptr<grpc::Server> server;
  std::string host;
  int port = 0;
  std::thread sweeper;
  std::mutex mutex;
  std::condition_variable stop_changed;
  bool stopping = false;
};

absl::StatusOr<std::unique_ptr<ReferenceServer>> ReferenceServer::Start(
    const ServerOptions& options) {
  auto impl = std::make_unique<Impl>(options);
  const size_t colon = options.listen.rfind(':');
  if (colon == std::string::npos) {
    return absl::InvalidArgumentError(
        absl::StrCat("--listen ", options.listen, ": expected HOST:PORT"));
  }
  impl->host = options.listen.substr(0, colon);
  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ServerBuilder builder;
  builder.AddListeningPort(options.listen, grpc::InsecureServerCredentials(), &impl->port);
  builder.RegisterService(&impl->approval_service);
  builder.RegisterService(&impl->transaction_service);
  builder.SetMaxReceiveMessageSize(64 * 1024 * 1024);
  // Without this, gRPC sets SO_REUSEPORT and a second server on a busy port
  // would silently share it instead of failing.
  builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
  impl->server = builder.BuildAndStart();
  if (impl->server == nullptr || impl->port == 0) {
    return absl::UnavailableError(absl::StrCat("cannot listen on ", options.listen));
  }
  Impl* raw = impl.get();
  impl->sweeper = std::thread([raw] {
    std::unique_lock lock(raw->mutex);
    while (!raw->stopping) {
      raw->stop_changed.wait_for(lock, std::chrono::nanoseconds(raw->options.sweep_interval_nanos));
      if (raw->stopping) break;
      lock.unlock();
      raw->approval_store.Sweep();
      lock.lock();
    }
  });
  return std::unique_ptr<ReferenceServer>(new ReferenceServer(std::move(impl)));
}

ReferenceServer::ReferenceServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

ReferenceServer::~ReferenceServer() { Shutdown(); }

std::string ReferenceServer::address() const { return absl::StrCat(impl_->host, ":", impl_->port); }
int ReferenceServer::port() const { return impl_->port; }

void ReferenceServer::Shutdown(int64_t grace_nanos) {
  {
    std::lock_guard lock(impl_->mutex);
    if (impl_->stopping) return;
    impl_->stopping = true;
  }
  impl_->stop_changed.notify_all();
  impl_->server->Shutdown(std::chrono::system_clock::now() + std::chrono::nanoseconds(grace_nanos));
  if (impl_->sweeper.joinable()) impl_->sweeper.join();
}

void ReferenceServer::Wait() { impl_->server->Wait(); }

const HandledCounters& ReferenceServer::handled() const { return impl_->handled; }
const ApprovalStore& ReferenceServer::approvals() const { return impl_->approval_store; }
const TransactionStore& ReferenceServer::transactions() const { return impl_->transaction_store; }

}  // namespace aurigraph::refserver
