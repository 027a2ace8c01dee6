// StorageService (aurigraph.storage.v1): the versioned key-value store
// (storage/kv_store.h) over gRPC.
#pragma once

#include <grpcpp/impl/service_type.h>

#include <memory>

#include "reference-server/service/responder.h"
#include "reference-server/storage/kv_store.h"

namespace aurigraph::refserver {

std::unique_ptr<grpc::Service> MakeStorageService(KvStore& store, const Responder& responder);

}  // namespace aurigraph::refserver
