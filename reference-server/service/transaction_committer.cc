#include "reference-server/service/transaction_committer.h"

#include "reference-server/service/event_wiring.h"

namespace aurigraph::refserver {
namespace {

namespace tv1 = transaction::v1;

// Runs an accepted transaction's contract call, the sender its caller.
tv1::ContractReceipt RunContractCall(ContractEngine& contracts, const tv1::Transaction& tx) {
  contract::v1::ExecuteRequest call;
  call.set_address(tx.contract_call().address());
  call.set_function(tx.contract_call().function());
  *call.mutable_args() = tx.contract_call().args();
  call.set_gas_limit(tx.contract_call().gas_limit());
  call.set_caller(tx.sender());
  auto outcome = contracts.Execute(call);
  tv1::ContractReceipt receipt;
  receipt.set_code(static_cast<int32_t>(outcome.status().code()));
  if (outcome.ok()) {
    *receipt.mutable_result() = *std::move(outcome);
  } else {
    receipt.set_error(std::string(outcome.status().message()));
  }
  return receipt;
}

class LocalCommitter final : public TransactionCommitter {
 public:
  LocalCommitter(TransactionStore& store, const Streaming& streaming, ContractEngine& contracts)
      : store_(store), streaming_(streaming), contracts_(contracts) {}

  void Submit(const tv1::Transaction& tx, const std::string&,
              Done<tv1::TransactionResponse> done) override {
    auto outcome = store_.Submit(tx);
    if (outcome.ok()) {
      if (tx.has_contract_call()) *outcome->mutable_contract() = RunContractCall(contracts_, tx);
      PublishCommitted(streaming_, tx, 0);
    }
    done(std::move(outcome));
  }
  void SubmitBatch(const tv1::BatchRequest& batch, const std::string&,
                   Done<tv1::BatchResponse> done) override {
    auto outcome = store_.SubmitBatch(batch);
    if (outcome.ok()) {
      for (int i = 0; i < batch.transactions_size(); ++i) {
        const tv1::Transaction& tx = batch.transactions(i);
        if (tx.has_contract_call() &&
            outcome->results(i).status() == tv1::TRANSACTION_STATUS_ACCEPTED) {
          *outcome->mutable_results(i)->mutable_contract() = RunContractCall(contracts_, tx);
        }
      }
      PublishAccepted(streaming_, batch, *outcome, 0);
    }
    done(std::move(outcome));
  }
  std::optional<Position> position() const override { return std::nullopt; }

 private:
  TransactionStore& store_;
  Streaming streaming_;
  ContractEngine& contracts_;
};

}  // namespace

std::unique_ptr<TransactionCommitter> NewLocalCommitter(TransactionStore& store,
                                                        const Streaming& streaming,
                                                        ContractEngine& contracts) {
  return std::make_unique<LocalCommitter>(store, streaming, contracts);
}

}  // namespace aurigraph::refserver
