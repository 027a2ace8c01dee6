#include "reference-server/service/traceability_service.h"

#include "aurigraph/traceability/v1/traceability.grpc.pb.h"
#include "reference-server/service/gated_service.h"

namespace aurigraph::refserver {
namespace {

namespace tv1 = traceability::v1;

class TraceabilityServiceImpl final
    : public GatedService<tv1::TraceabilityService::CallbackService> {
 public:
  TraceabilityServiceImpl(LinkLog& log, const Responder& responder)
      : GatedService(tv1::TraceabilityService::service_full_name(), responder),
        log_(log),
        responder_(responder) {
    using Self = TraceabilityServiceImpl;
    Unary("LinkContractToAsset", &Self::LinkContractToAsset);
    Unary("GetAssetsByContract", &Self::GetAssetsByContract);
    Unary("GetContractsByAsset", &Self::GetContractsByAsset);
    Unary("GetCompleteLineage", &Self::GetCompleteLineage);
    Unary("SearchLinks", &Self::SearchLinks);
  }

  grpc::ServerUnaryReactor* LinkContractToAsset(grpc::CallbackServerContext* context,
                                                const tv1::LinkRequest* request,
                                                tv1::LinksResponse* response) override {
    return responder_.Finish(context, Assign(log_.Link(*request), response));
  }
  grpc::ServerUnaryReactor* GetAssetsByContract(grpc::CallbackServerContext* context,
                                                const tv1::ContractRequest* request,
                                                tv1::LinksResponse* response) override {
    return responder_.Finish(context, Assign(log_.ByContract(*request), response));
  }
  grpc::ServerUnaryReactor* GetContractsByAsset(grpc::CallbackServerContext* context,
                                                const tv1::AssetRequest* request,
                                                tv1::LinksResponse* response) override {
    return responder_.Finish(context, Assign(log_.ByAsset(*request), response));
  }
  grpc::ServerUnaryReactor* GetCompleteLineage(grpc::CallbackServerContext* context,
                                               const tv1::LineageRequest* request,
                                               tv1::LinksResponse* response) override {
    return responder_.Finish(context, Assign(log_.Lineage(*request), response));
  }
  grpc::ServerUnaryReactor* SearchLinks(grpc::CallbackServerContext* context,
                                        const tv1::SearchRequest* request,
                                        tv1::LinksResponse* response) override {
    return responder_.Finish(context, Assign(log_.Search(*request), response));
  }

 private:
  LinkLog& log_;
  const Responder& responder_;
};

}  // namespace

std::unique_ptr<grpc::Service> MakeTraceabilityService(LinkLog& log, const Responder& responder) {
  return std::make_unique<TraceabilityServiceImpl>(log, responder);
}

}  // namespace aurigraph::refserver
