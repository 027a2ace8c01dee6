#include "reference-server/service/storage_service.h"

#include "aurigraph/storage/v1/storage.grpc.pb.h"
#include "reference-server/service/gated_service.h"

namespace aurigraph::refserver {
namespace {

namespace sv1 = storage::v1;

class StorageServiceImpl final : public GatedService<sv1::StorageService::CallbackService> {
 public:
  StorageServiceImpl(KvStore& store, const Responder& responder)
      : GatedService(sv1::StorageService::service_full_name(), responder),
        store_(store),
        responder_(responder) {
    using Self = StorageServiceImpl;
    Unary("Put", &Self::Put);
    Unary("Get", &Self::Get);
    Unary("Delete", &Self::Delete);
    Unary("Scan", &Self::Scan);
    Unary("GetVersion", &Self::GetVersion);
  }

  grpc::ServerUnaryReactor* Put(grpc::CallbackServerContext* context,
                                const sv1::PutRequest* request,
                                sv1::PutResponse* response) override {
    return responder_.Finish(context, Assign(store_.Put(*request), response));
  }
  grpc::ServerUnaryReactor* Get(grpc::CallbackServerContext* context,
                                const sv1::GetRequest* request, sv1::Entry* response) override {
    return responder_.Finish(context, Assign(store_.Get(*request), response));
  }
  grpc::ServerUnaryReactor* Delete(grpc::CallbackServerContext* context,
                                   const sv1::DeleteRequest* request,
                                   sv1::DeleteResponse* response) override {
    return responder_.Finish(context, Assign(store_.Delete(*request), response));
  }
  grpc::ServerUnaryReactor* Scan(grpc::CallbackServerContext* context,
                                 const sv1::ScanRequest* request,
                                 sv1::ScanResponse* response) override {
    return responder_.Finish(context, Assign(store_.Scan(*request), response));
  }
  grpc::ServerUnaryReactor* GetVersion(grpc::CallbackServerContext* context,
                                       const sv1::VersionRequest* request,
                                       sv1::VersionResponse* response) override {
    return responder_.Finish(context, Assign(store_.GetVersion(*request), response));
  }

 private:
  KvStore& store_;
  const Responder& responder_;
};

}  // namespace

std::unique_ptr<grpc::Service> MakeStorageService(KvStore& store, const Responder& responder) {
  return std::make_unique<StorageServiceImpl>(store, responder);
}

}  // namespace aurigraph::refserver
