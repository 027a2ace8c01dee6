// CryptoService (aurigraph.crypto.v1): signatures, key rotation and key
// derivation on the server's key store (crypto/key_store.h).
#pragma once

#include <grpcpp/impl/service_type.h>

#include <memory>

#include "reference-server/crypto/key_store.h"
#include "reference-server/service/responder.h"

namespace aurigraph::refserver {

std::unique_ptr<grpc::Service> MakeCryptoService(KeyStore& keys, const Responder& responder);

}  // namespace aurigraph::refserver
