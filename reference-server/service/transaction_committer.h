// How TransactionService commits what clients submit: on this node alone (a
// single server), or through consensus across a cluster
// (replicated_transactions.h). An outcome may come later, on another thread.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "aurigraph/transaction/v1/transaction.pb.h"
#include "reference-server/contract/contract_engine.h"
#include "reference-server/service/streaming.h"
#include "reference-server/transaction/transaction_store.h"

namespace aurigraph::refserver {

class TransactionCommitter {
 public:
  template <typename T>
  using Done = std::function<void(absl::StatusOr<T>)>;

  virtual ~TransactionCommitter() = default;
  // `forwarded_by`: the node of the cluster the call came from (empty: from a
  // client); a forwarded call is not forwarded again.
  virtual void Submit(const transaction::v1::Transaction& tx, const std::string& forwarded_by,
                      Done<transaction::v1::TransactionResponse> done) = 0;
  virtual void SubmitBatch(const transaction::v1::BatchRequest& batch,
                           const std::string& forwarded_by,
                           Done<transaction::v1::BatchResponse> done) = 0;
  // The node that answers reads and how far it has applied the log (a cluster only).
  struct Position {
    std::string node;
    uint64_t applied_index = 0;
  };
  virtual std::optional<Position> position() const = 0;
};

// Runs an accepted transaction's contract call, the sender its caller.
transaction::v1::ContractReceipt RunContractCall(ContractEngine& contracts,
                                                 const transaction::v1::Transaction& tx);
// Runs the contract calls of a batch's accepted transactions, in order, each
// receipt in its result.
void RunContractCalls(ContractEngine& contracts, const transaction::v1::BatchRequest& batch,
                      transaction::v1::BatchResponse& outcome);
bool HasContractCall(const transaction::v1::BatchRequest& batch);

// Commits on this node: the store decides, accepted transactions run their
// contract calls (their receipts in the response) and are published at once.
std::unique_ptr<TransactionCommitter> NewLocalCommitter(TransactionStore& store,
                                                        const Streaming& streaming,
                                                        ContractEngine& contracts);

}  // namespace aurigraph::refserver
