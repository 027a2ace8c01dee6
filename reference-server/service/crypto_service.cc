#include "reference-server/service/crypto_service.h"

#include "aurigraph/crypto/v1/crypto.grpc.pb.h"
#include "reference-server/service/gated_service.h"

namespace aurigraph::refserver {
namespace {

namespace cv1 = crypto::v1;

class CryptoServiceImpl final : public GatedService<cv1::CryptoService::CallbackService> {
 public:
  CryptoServiceImpl(KeyStore& keys, const Responder& responder)
      : GatedService(cv1::CryptoService::service_full_name(), responder),
        keys_(keys),
        responder_(responder) {
    using Self = CryptoServiceImpl;
    Unary("SignData", &Self::SignData);
    Unary("VerifySignature", &Self::VerifySignature);
    Unary("RotateKeys", &Self::RotateKeys);
    Unary("DeriveKey", &Self::DeriveKey);
  }

  grpc::ServerUnaryReactor* SignData(grpc::CallbackServerContext* context,
                                     const cv1::SignRequest* request,
                                     cv1::SignResponse* response) override {
    return responder_.Finish(context, Assign(keys_.Sign(*request), response));
  }
  grpc::ServerUnaryReactor* VerifySignature(grpc::CallbackServerContext* context,
                                            const cv1::VerifyRequest* request,
                                            cv1::VerifyResponse* response) override {
    return responder_.Finish(context, Assign(keys_.Verify(*request), response));
  }
  grpc::ServerUnaryReactor* RotateKeys(grpc::CallbackServerContext* context,
                                       const cv1::RotateRequest* request,
                                       cv1::RotateResponse* response) override {
    return responder_.Finish(context, Assign(keys_.Rotate(*request), response));
  }
  grpc::ServerUnaryReactor* DeriveKey(grpc::CallbackServerContext* context,
                                      const cv1::DeriveRequest* request,
                                      cv1::DeriveResponse* response) override {
    return responder_.Finish(context, Assign(keys_.Derive(*request), response));
  }

 private:
  KeyStore& keys_;
  const Responder& responder_;
};

}  // namespace

std::unique_ptr<grpc::Service> MakeCryptoService(KeyStore& keys, const Responder& responder) {
  return std::make_unique<CryptoServiceImpl>(keys, responder);
}

}  // namespace aurigraph::refserver
