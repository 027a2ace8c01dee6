// ApprovalService (aurigraph.approval.v1): approval requests and validator
// votes on the approval store, the server's health check, the two approval
// watch streams, and votes sent by client stream and by bidi stream.
#pragma once

#include <grpcpp/impl/service_type.h>

#include <cstdint>
#include <memory>

#include "reference-server/approval/approval_store.h"
#include "reference-server/service/responder.h"
#include "reference-server/service/streaming.h"

namespace aurigraph::refserver {

// `started_unix_nanos`: when the server started, for CheckHealth's uptime.
std::unique_ptr<grpc::Service> MakeApprovalService(ApprovalStore& store, const Responder& responder,
                                                   const Streaming& streaming,
                                                   int64_t started_unix_nanos);

}  // namespace aurigraph::refserver
