// Transactions and contracts through consensus: the transaction store and the
// contracts as the Raft state machine (every node applies the same commands
// in the same order, so every node validates, accepts and rejects alike, and
// runs the same contract calls on the same state), and the committer that
// proposes on the leader and forwards from a follower to the leader. A call
// answers only once it is committed on a majority and applied here.
//
// The contracts' store is the state machine's alone (nothing else writes
// it), so the state a call sees depends on the log only; a snapshot carries
// it whole, versions and history included.
#pragma once

#include <grpcpp/grpcpp.h>

#include <map>
#include <memory>

#include "aurigraph/contract/v1/contract.grpc.pb.h"
#include "aurigraph/transaction/v1/transaction.grpc.pb.h"
#include "reference-server/consensus/cluster/membership.h"
#include "reference-server/consensus/node/consensus_node.h"
#include "reference-server/consensus/transport/grpc_peer_transport.h"
#include "reference-server/contract/contract_engine.h"
#include "reference-server/service/contract_service.h"
#include "reference-server/service/streaming.h"
#include "reference-server/service/transaction_committer.h"
#include "reference-server/storage/kv_store.h"
#include "reference-server/transaction/transaction_store.h"

namespace aurigraph::refserver {

class ReplicatedStateMachine final : public consensus::StateMachine {
 public:
  // `contracts` keeps its state in `contract_store`.
  ReplicatedStateMachine(TransactionStore& store, ContractEngine& contracts,
                         KvStore& contract_store, const Streaming& streaming)
      : store_(store),
        contracts_(contracts),
        contract_store_(contract_store),
        streaming_(streaming) {}
  std::string Apply(std::string_view command, uint64_t index) override;
  std::string Snapshot() const override;
  absl::Status Restore(std::string_view data) override;

 private:
  TransactionStore& store_;
  ContractEngine& contracts_;
  KvStore& contract_store_;
  Streaming streaming_;
};

class ReplicatedCommitter final : public TransactionCommitter, public ContractCommitter {
 public:
  // Calls are forwarded on the channels Raft uses to reach each peer.
  ReplicatedCommitter(consensus::ConsensusNode& node, const consensus::Membership& members,
                      const consensus::GrpcPeerTransport& transport);

  void Submit(const transaction::v1::Transaction& tx, const std::string& forwarded_by,
              TransactionCommitter::Done<transaction::v1::TransactionResponse> done) override;
  void SubmitBatch(const transaction::v1::BatchRequest& batch, const std::string& forwarded_by,
                   TransactionCommitter::Done<transaction::v1::BatchResponse> done) override;
  std::optional<Position> position() const override;
  void Deploy(const contract::v1::DeployRequest& request, const std::string& forwarded_by,
              ContractCommitter::Done<contract::v1::DeployResponse> done) override;
  void Execute(const contract::v1::ExecuteRequest& request, const std::string& forwarded_by,
               ContractCommitter::Done<contract::v1::ExecuteResponse> done) override;

 private:
  struct Leader {
    std::unique_ptr<transaction::v1::TransactionService::Stub> transactions;
    std::unique_ptr<contract::v1::ContractService::Stub> contracts;
  };
  // Proposes `request` here (the leader), or forwards it to the leader with `call`.
  template <typename Request, typename Response, typename Call>
  void Commit(char kind, const Request& request, const std::string& forwarded_by,
              std::function<void(absl::StatusOr<Response>)> done, Call call);

  consensus::ConsensusNode& node_;
  const consensus::Membership& members_;
  const consensus::GrpcPeerTransport& transport_;
  std::map<raft::NodeId, Leader> leaders_;
};

}  // namespace aurigraph::refserver
