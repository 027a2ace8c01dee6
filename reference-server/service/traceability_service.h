// TraceabilityService (aurigraph.traceability.v1): contract-to-asset links
// with Merkle inclusion proofs (traceability/link_log.h) over gRPC.
#pragma once

#include <grpcpp/impl/service_type.h>

#include <memory>

#include "reference-server/service/responder.h"
#include "reference-server/traceability/link_log.h"

namespace aurigraph::refserver {

std::unique_ptr<grpc::Service> MakeTraceabilityService(LinkLog& log, const Responder& responder);

}  // namespace aurigraph::refserver
