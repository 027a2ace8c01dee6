#include "reference-server/service/transaction_committer.h"

#include "reference-server/service/event_wiring.h"

namespace aurigraph::refserver {
namespace {

namespace tv1 = transaction::v1;

class LocalCommitter final : public TransactionCommitter {
 public:
  LocalCommitter(TransactionStore& store, const Streaming& streaming)
      : store_(store), streaming_(streaming) {}

  void Submit(const tv1::Transaction& tx, const std::string&,
              Done<tv1::TransactionResponse> done) override {
    auto outcome = store_.Submit(tx);
    if (outcome.ok()) PublishCommitted(streaming_, tx, 0);
    done(std::move(outcome));
  }
  void SubmitBatch(const tv1::BatchRequest& batch, const std::string&,
                   Done<tv1::BatchResponse> done) override {
    auto outcome = store_.SubmitBatch(batch);
    if (outcome.ok()) PublishAccepted(streaming_, batch, *outcome, 0);
    done(std::move(outcome));
  }
  std::optional<Position> position() const override { return std::nullopt; }

 private:
  TransactionStore& store_;
  Streaming streaming_;
};

}  // namespace

std::unique_ptr<TransactionCommitter> NewLocalCommitter(TransactionStore& store,
                                                        const Streaming& streaming) {
  return std::make_unique<LocalCommitter>(store, streaming);
}

}  // namespace aurigraph::refserver
