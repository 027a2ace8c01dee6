#include "reference-server/service/transaction_service.h"

#include <string>

#include "aurigraph/transaction/v1/transaction.grpc.pb.h"
#include "reference-server/service/event_wiring.h"
#include "reference-server/service/gated_service.h"
#include "reference-server/streams/event_stream.h"
#include "reference-server/streams/reply_stream.h"

namespace aurigraph::refserver {
namespace {

namespace tv1 = transaction::v1;

class TransactionServiceImpl final : public GatedService<tv1::TransactionService::CallbackService> {
 public:
  TransactionServiceImpl(TransactionStore& store, const Responder& responder, Streaming streaming)
      : GatedService(tv1::TransactionService::service_full_name(), responder),
        store_(store),
        responder_(responder),
        streaming_(streaming) {
    using Self = TransactionServiceImpl;
    Unary("SubmitTransaction", &Self::SubmitTransaction);
    Unary("BatchSubmitTransactions", &Self::BatchSubmitTransactions);
    Unary("GetTransaction", &Self::GetTransaction);
    ServerStreaming("StreamTransactions", &Self::StreamTransactions);
    Bidi("SubmitTransactionStream", &Self::OpenSubmitTransactionStream);
  }

  grpc::ServerUnaryReactor* SubmitTransaction(grpc::CallbackServerContext* context,
                                              const tv1::Transaction* request,
                                              tv1::TransactionResponse* response) override {
    const absl::Status status = Assign(store_.Submit(*request), response);
    if (status.ok()) PublishCommitted(streaming_, *request);
    return responder_.Finish(context, status);
  }
  grpc::ServerUnaryReactor* BatchSubmitTransactions(grpc::CallbackServerContext* context,
                                                    const tv1::BatchRequest* request,
                                                    tv1::BatchResponse* response) override {
    const absl::Status status = Assign(store_.SubmitBatch(*request), response);
    if (status.ok()) {
      for (int i = 0; i < response->results_size(); ++i) {
        if (response->results(i).status() == tv1::TRANSACTION_STATUS_ACCEPTED) {
          PublishCommitted(streaming_, request->transactions(i));
        }
      }
    }
    return responder_.Finish(context, status);
  }
  grpc::ServerWriteReactor<tv1::CommittedTransaction>* StreamTransactions(
      grpc::CallbackServerContext* context, const tv1::StreamRequest* request) override {
    const std::string account = request->account();
    const Clock& wall = streaming_.wall;
    return EventStream<tv1::CommittedTransaction, tv1::CommittedTransaction>::Open(
        streaming_.transaction_events, streaming_.counters, streaming_.options.stream_queue_bound,
        [account](const tv1::CommittedTransaction& e) {
          return account.empty() || e.transaction().sender() == account ||
                 e.transaction().receiver() == account;
        },
        [&wall](const tv1::CommittedTransaction& e, tv1::CommittedTransaction* out) {
          *out = e;
          out->set_sent_at_unix_nanos(wall.NowNanos());
        });
  }
  grpc::ServerBidiReactor<Decoded<tv1::Transaction>, tv1::TransactionResponse>*
  OpenSubmitTransactionStream(grpc::CallbackServerContext* context) {
    TransactionStore& store = store_;
    const Streaming& streaming = streaming_;
    return ReplyStream<tv1::Transaction, tv1::TransactionResponse>::Open(
        [&store, &streaming](const tv1::Transaction& tx, tv1::TransactionResponse* reply) {
          auto outcome = store.Submit(tx);
          if (outcome.ok()) {
            *reply = *std::move(outcome);
            PublishCommitted(streaming, tx);
            return;
          }
          reply->set_id(tx.id());
          reply->set_status(tv1::TRANSACTION_STATUS_REJECTED);
          reply->set_code(static_cast<int32_t>(outcome.status().code()));
          reply->set_error(std::string(outcome.status().message()));
        },
        streaming_.faults, streaming_.delays, streaming_.counters, streaming_.options.reply_window);
  }
  grpc::ServerUnaryReactor* GetTransaction(grpc::CallbackServerContext* context,
                                           const tv1::GetTransactionRequest* request,
                                           tv1::Transaction* response) override {
    return responder_.Finish(context, Assign(store_.Get(request->id()), response));
  }

 private:
  TransactionStore& store_;
  const Responder& responder_;
  Streaming streaming_;
};

}  // namespace

std::unique_ptr<grpc::Service> MakeTransactionService(TransactionStore& store,
                                                      const Responder& responder,
                                                      const Streaming& streaming) {
  return std::make_unique<TransactionServiceImpl>(store, responder, streaming);
}

}  // namespace aurigraph::refserver
