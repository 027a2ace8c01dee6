#include "reference-server/service/contract_service.h"

#include <functional>

#include "absl/strings/str_cat.h"
#include "aurigraph/contract/v1/contract.grpc.pb.h"
#include "reference-server/service/call_queue.h"
#include "reference-server/service/forwarding.h"
#include "reference-server/service/gated_service.h"

namespace aurigraph::refserver {
namespace {

namespace cv1 = contract::v1;

// A call whose client has gone by the time its turn comes is not run.
constexpr size_t kCallThreads = 2;
constexpr size_t kQueuedCalls = 1024;

class ContractServiceImpl final : public GatedService<cv1::ContractService::CallbackService> {
 public:
  ContractServiceImpl(ContractEngine& engine, ContractCommitter* replicated,
                      const Responder& responder, const Streaming& streaming)
      : GatedService(cv1::ContractService::service_full_name(), responder),
        engine_(engine),
        replicated_(replicated),
        responder_(responder),
        streaming_(streaming),
        calls_(kCallThreads, kQueuedCalls) {
    using Self = ContractServiceImpl;
    Unary("DeployContract", &Self::DeployContract);
    Unary("ExecuteFunction", &Self::ExecuteFunction);
    Unary("GetState", &Self::GetState);
    ServerStreaming("StreamStateChanges", &Self::StreamStateChanges);
  }

  grpc::ServerUnaryReactor* DeployContract(grpc::CallbackServerContext* context,
                                           const cv1::DeployRequest* request,
                                           cv1::DeployResponse* response) override {
    if (replicated_) {
      grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
      replicated_->Deploy(
          *request, ForwardedBy(*context), [this, context, reactor, response](auto outcome) {
            responder_.Complete(context, reactor, Assign(std::move(outcome), response));
          });
      return reactor;
    }
    return Queue(context, [this, context, request, response] {
      return Assign(engine_.Deploy(*request, [context] { return context->IsCancelled(); }),
                    response);
    });
  }
  grpc::ServerUnaryReactor* ExecuteFunction(grpc::CallbackServerContext* context,
                                            const cv1::ExecuteRequest* request,
                                            cv1::ExecuteResponse* response) override {
    if (replicated_) {
      grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
      replicated_->Execute(
          *request, ForwardedBy(*context), [this, context, reactor, response](auto outcome) {
            responder_.Complete(context, reactor, Assign(std::move(outcome), response));
          });
      return reactor;
    }
    return Queue(context, [this, context, request, response] {
      return Assign(engine_.Execute(*request, [context] { return context->IsCancelled(); }),
                    response);
    });
  }
  grpc::ServerUnaryReactor* GetState(grpc::CallbackServerContext* context,
                                     const cv1::StateRequest* request,
                                     cv1::StateResponse* response) override {
    return responder_.Finish(context, Assign(engine_.GetState(*request), response));
  }
  grpc::ServerWriteReactor<cv1::StateChange>* StreamStateChanges(
      grpc::CallbackServerContext*, const cv1::StateChangesRequest* request) override {
    const std::string address = request->address();
    if (!address.empty()) {
      if (auto ok = CheckContractAddress(address); !ok.ok()) {
        return new Refusal<grpc::ServerWriteReactor<cv1::StateChange>>(
            grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, std::string(ok.message())));
      }
    }
    const Clock& wall = streaming_.wall;
    return EventStream<cv1::StateChange, cv1::StateChange>::Open(
        engine_.changes(), streaming_.counters, streaming_.options.stream_queue_bound,
        [address](const cv1::StateChange& e) { return address.empty() || e.address() == address; },
        [&wall](const cv1::StateChange& e, cv1::StateChange* out) {
          *out = e;
          out->set_sent_at_unix_nanos(wall.NowNanos());
        });
  }

 private:
  // Runs `call` on the call queue and completes the RPC with its status.
  grpc::ServerUnaryReactor* Queue(grpc::CallbackServerContext* context,
                                  std::function<absl::Status()> call) {
    grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
    const bool queued = calls_.Push([this, context, reactor, call = std::move(call)](bool run) {
      if (!run) {
        responder_.Complete(context, reactor,
                            absl::UnavailableError("the server is shutting down"));
      } else if (context->IsCancelled()) {
        responder_.Complete(context, reactor,
                            absl::CancelledError("the client left before the call ran"));
      } else {
        responder_.Complete(context, reactor, call());
      }
    });
    if (!queued) {
      responder_.Complete(context, reactor,
                          absl::ResourceExhaustedError(absl::StrCat(
                              "contract calls: ", calls_.bound(), " already wait to run")));
    }
    return reactor;
  }

  ContractEngine& engine_;
  ContractCommitter* replicated_;
  const Responder& responder_;
  const Streaming& streaming_;
  CallQueue calls_;  // last: its threads stop before the rest goes
};

}  // namespace

std::unique_ptr<grpc::Service> MakeContractService(ContractEngine& engine,
                                                   ContractCommitter* replicated,
                                                   const Responder& responder,
                                                   const Streaming& streaming) {
  return std::make_unique<ContractServiceImpl>(engine, replicated, responder, streaming);
}

}  // namespace aurigraph::refserver
