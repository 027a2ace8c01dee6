#include "reference-server/service/contract_service.h"

#include "aurigraph/contract/v1/contract.grpc.pb.h"
#include "reference-server/service/gated_service.h"

namespace aurigraph::refserver {
namespace {

namespace cv1 = contract::v1;

class ContractServiceImpl final : public GatedService<cv1::ContractService::CallbackService> {
 public:
  ContractServiceImpl(ContractEngine& engine, const Responder& responder,
                      const Streaming& streaming)
      : GatedService(cv1::ContractService::service_full_name(), responder),
        engine_(engine),
        responder_(responder),
        streaming_(streaming) {
    using Self = ContractServiceImpl;
    Unary("DeployContract", &Self::DeployContract);
    Unary("ExecuteFunction", &Self::ExecuteFunction);
    Unary("GetState", &Self::GetState);
    ServerStreaming("StreamStateChanges", &Self::StreamStateChanges);
  }

  grpc::ServerUnaryReactor* DeployContract(grpc::CallbackServerContext* context,
                                           const cv1::DeployRequest* request,
                                           cv1::DeployResponse* response) override {
    return responder_.Finish(context, Assign(engine_.Deploy(*request), response));
  }
  grpc::ServerUnaryReactor* ExecuteFunction(grpc::CallbackServerContext* context,
                                            const cv1::ExecuteRequest* request,
                                            cv1::ExecuteResponse* response) override {
    return responder_.Finish(context, Assign(engine_.Execute(*request), response));
  }
  grpc::ServerUnaryReactor* GetState(grpc::CallbackServerContext* context,
                                     const cv1::StateRequest* request,
                                     cv1::StateResponse* response) override {
    return responder_.Finish(context, Assign(engine_.GetState(*request), response));
  }
  grpc::ServerWriteReactor<cv1::StateChange>* StreamStateChanges(
      grpc::CallbackServerContext*, const cv1::StateChangesRequest* request) override {
    const std::string address = request->address();
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
  ContractEngine& engine_;
  const Responder& responder_;
  const Streaming& streaming_;
};

}  // namespace

std::unique_ptr<grpc::Service> MakeContractService(ContractEngine& engine,
                                                   const Responder& responder,
                                                   const Streaming& streaming) {
  return std::make_unique<ContractServiceImpl>(engine, responder, streaming);
}

}  // namespace aurigraph::refserver
