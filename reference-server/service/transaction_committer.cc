#include "reference-server/service/transaction_committer.h"

#include "absl/strings/str_cat.h"
#include "reference-server/service/call_queue.h"
#include "reference-server/service/event_wiring.h"

namespace aurigraph::refserver {

namespace tv1 = transaction::v1;

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

void RunContractCalls(ContractEngine& contracts, const tv1::BatchRequest& batch,
                      tv1::BatchResponse& outcome) {
  for (int i = 0; i < batch.transactions_size(); ++i) {
    const tv1::Transaction& tx = batch.transactions(i);
    if (tx.has_contract_call() && outcome.results(i).status() == tv1::TRANSACTION_STATUS_ACCEPTED) {
      *outcome.mutable_results(i)->mutable_contract() = RunContractCall(contracts, tx);
    }
  }
}

bool HasContractCall(const tv1::BatchRequest& batch) {
  for (const tv1::Transaction& tx : batch.transactions()) {
    if (tx.has_contract_call()) return true;
  }
  return false;
}

namespace {

// Transactions with contract calls are accepted, run and published one at a
// time on a thread of their own, so calls run in the order their transactions
// were accepted, and a long call never holds one of gRPC's threads.
constexpr size_t kQueuedContractTransactions = 1024;

class LocalCommitter final : public TransactionCommitter {
 public:
  LocalCommitter(TransactionStore& store, const Streaming& streaming, ContractEngine& contracts)
      : store_(store),
        streaming_(streaming),
        contracts_(contracts),
        calls_(1, kQueuedContractTransactions) {}

  void Submit(const tv1::Transaction& tx, const std::string&,
              Done<tv1::TransactionResponse> done) override {
    if (!tx.has_contract_call()) {
      auto outcome = store_.Submit(tx);
      if (outcome.ok()) PublishCommitted(streaming_, tx, 0);
      done(std::move(outcome));
      return;
    }
    // A copy: a stream's message is reused once it has been read.
    Queue(
        [this, tx](Done<tv1::TransactionResponse>& answer) {
          auto outcome = store_.Submit(tx);
          if (outcome.ok()) {
            *outcome->mutable_contract() = RunContractCall(contracts_, tx);
            PublishCommitted(streaming_, tx, 0);
          }
          answer(std::move(outcome));
        },
        std::move(done));
  }
  void SubmitBatch(const tv1::BatchRequest& batch, const std::string&,
                   Done<tv1::BatchResponse> done) override {
    if (!HasContractCall(batch)) {
      auto outcome = store_.SubmitBatch(batch);
      if (outcome.ok()) PublishAccepted(streaming_, batch, *outcome, 0);
      done(std::move(outcome));
      return;
    }
    Queue(
        [this, batch](Done<tv1::BatchResponse>& answer) {
          auto outcome = store_.SubmitBatch(batch);
          if (outcome.ok()) {
            RunContractCalls(contracts_, batch, *outcome);
            PublishAccepted(streaming_, batch, *outcome, 0);
          }
          answer(std::move(outcome));
        },
        std::move(done));
  }
  std::optional<Position> position() const override { return std::nullopt; }

 private:
  // Runs `commit` on the queue; `done` answers when the queue is full or closing.
  template <typename Response, typename Commit>
  void Queue(Commit commit, Done<Response> done) {
    auto answer = std::make_shared<Done<Response>>(std::move(done));
    const bool queued = calls_.Push([answer, commit = std::move(commit)](bool run) mutable {
      if (run) {
        commit(*answer);
      } else {
        (*answer)(absl::UnavailableError("the server is shutting down"));
      }
    });
    if (!queued) {
      (*answer)(absl::ResourceExhaustedError(absl::StrCat(
          "transactions with contract calls: ", calls_.bound(), " already wait to run")));
    }
  }

  TransactionStore& store_;
  Streaming streaming_;
  ContractEngine& contracts_;
  CallQueue calls_;  // last: its thread stops before the rest goes
};

}  // namespace

std::unique_ptr<TransactionCommitter> NewLocalCommitter(TransactionStore& store,
                                                        const Streaming& streaming,
                                                        ContractEngine& contracts) {
  return std::make_unique<LocalCommitter>(store, streaming, contracts);
}

}  // namespace aurigraph::refserver
