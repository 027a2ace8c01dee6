// ContractService (aurigraph.contract.v1): stack-language contracts
// (contract/contract_engine.h) deployed, called, read and watched over gRPC.
#pragma once

#include <grpcpp/impl/service_type.h>

#include <memory>

#include "reference-server/contract/contract_engine.h"
#include "reference-server/service/responder.h"
#include "reference-server/service/streaming.h"

namespace aurigraph::refserver {

std::unique_ptr<grpc::Service> MakeContractService(ContractEngine& engine,
                                                   const Responder& responder,
                                                   const Streaming& streaming);

}  // namespace aurigraph::refserver
