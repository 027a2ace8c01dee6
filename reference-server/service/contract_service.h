// ContractService (aurigraph.contract.v1): stack-language contracts
// (contract/contract_engine.h) deployed, called, read and watched over gRPC.
#pragma once

#include <grpcpp/impl/service_type.h>

#include <functional>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "aurigraph/contract/v1/contract.pb.h"
#include "reference-server/contract/contract_engine.h"
#include "reference-server/service/responder.h"
#include "reference-server/service/streaming.h"

namespace aurigraph::refserver {

// How a cluster commits deployments and calls: through consensus
// (replicated_transactions.h), so every node runs the same ones in the same
// order on the same state. An outcome may come later, on another thread.
class ContractCommitter {
 public:
  template <typename T>
  using Done = std::function<void(absl::StatusOr<T>)>;

  virtual ~ContractCommitter() = default;
  // `forwarded_by`: the node of the cluster the call came from (empty: from a client).
  virtual void Deploy(const contract::v1::DeployRequest& request, const std::string& forwarded_by,
                      Done<contract::v1::DeployResponse> done) = 0;
  virtual void Execute(const contract::v1::ExecuteRequest& request, const std::string& forwarded_by,
                       Done<contract::v1::ExecuteResponse> done) = 0;
};

// Deployments and calls go to `replicated` on a cluster; a single server
// (null) runs them on threads of the service's own. Reads are this node's.
std::unique_ptr<grpc::Service> MakeContractService(ContractEngine& engine,
                                                   ContractCommitter* replicated,
                                                   const Responder& responder,
                                                   const Streaming& streaming);

}  // namespace aurigraph::refserver
