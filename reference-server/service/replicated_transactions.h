// Transactions through consensus: the transaction store as the Raft state
// machine (every node applies the same commands in the same order, so every
// node validates, accepts and rejects alike), and the committer that proposes
// on the leader and forwards from a follower to the leader. A call answers
// only once its transactions are committed on a majority and applied here.
#pragma once

#include <grpcpp/grpcpp.h>

#include <map>
#include <memory>

#include "aurigraph/transaction/v1/transaction.grpc.pb.h"
#include "reference-server/consensus/cluster/membership.h"
#include "reference-server/consensus/node/consensus_node.h"
#include "reference-server/consensus/transport/grpc_peer_transport.h"
#include "reference-server/service/streaming.h"
#include "reference-server/service/transaction_committer.h"
#include "reference-server/transaction/transaction_store.h"

namespace aurigraph::refserver {

class TransactionStateMachine final : public consensus::StateMachine {
 public:
  TransactionStateMachine(TransactionStore& store, const Streaming& streaming)
      : store_(store), streaming_(streaming) {}
  std::string Apply(std::string_view command, uint64_t index) override;
  std::string Snapshot() const override { return store_.Serialize(); }
  absl::Status Restore(std::string_view data) override { return store_.Restore(data); }

 private:
  TransactionStore& store_;
  Streaming streaming_;
};

class ReplicatedCommitter final : public TransactionCommitter {
 public:
  // Calls are forwarded on the channels Raft uses to reach each peer.
  ReplicatedCommitter(consensus::ConsensusNode& node, const consensus::Membership& members,
                      const consensus::GrpcPeerTransport& transport);

  void Submit(const transaction::v1::Transaction& tx, const std::string& forwarded_by,
              Done<transaction::v1::TransactionResponse> done) override;
  void SubmitBatch(const transaction::v1::BatchRequest& batch, const std::string& forwarded_by,
                   Done<transaction::v1::BatchResponse> done) override;
  std::optional<Position> position() const override;

 private:
  // Proposes `request` here (the leader), or forwards it to the leader with `call`.
  template <typename Request, typename Response, typename Call>
  void Commit(char kind, const Request& request, const std::string& forwarded_by,
              Done<Response> done, Call call);

  consensus::ConsensusNode& node_;
  const consensus::Membership& members_;
  const consensus::GrpcPeerTransport& transport_;
  std::map<raft::NodeId, std::unique_ptr<transaction::v1::TransactionService::Stub>> leaders_;
};

}  // namespace aurigraph::refserver
