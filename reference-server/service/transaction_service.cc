#include "reference-server/service/transaction_service.h"

#include <string>

#include "aurigraph/transaction/v1/transaction.grpc.pb.h"
#include "reference-server/service/forwarding.h"
#include "reference-server/service/gated_service.h"
#include "reference-server/streams/encoded_event.h"
#include "reference-server/streams/event_stream.h"
#include "reference-server/streams/reply_stream.h"

namespace aurigraph::refserver {
namespace {

namespace tv1 = transaction::v1;

class TransactionServiceImpl final : public GatedService<tv1::TransactionService::CallbackService> {
 public:
  TransactionServiceImpl(TransactionStore& store, TransactionCommitter& committer,
                         const Responder& responder, Streaming streaming)
      : GatedService(tv1::TransactionService::service_full_name(), responder),
        store_(store),
        committer_(committer),
        responder_(responder),
        streaming_(streaming) {
    using Self = TransactionServiceImpl;
    Unary("SubmitTransaction", &Self::SubmitTransaction);
    Unary("BatchSubmitTransactions", &Self::BatchSubmitTransactions);
    Unary("GetTransaction", &Self::GetTransaction);
    ServerStreaming("StreamTransactions", &Self::StreamCommitted);
    Bidi("SubmitTransactionStream", &Self::OpenSubmitTransactionStream);
  }

  grpc::ServerUnaryReactor* SubmitTransaction(grpc::CallbackServerContext* context,
                                              const tv1::Transaction* request,
                                              tv1::TransactionResponse* response) override {
    grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
    committer_.Submit(*request, ForwardedBy(*context),
                      [this, context, reactor, response](auto outcome) {
                        responder_.Complete(context, reactor, Assign(std::move(outcome), response));
                      });
    return reactor;
  }
  grpc::ServerUnaryReactor* BatchSubmitTransactions(grpc::CallbackServerContext* context,
                                                    const tv1::BatchRequest* request,
                                                    tv1::BatchResponse* response) override {
    grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
    committer_.SubmitBatch(
        *request, ForwardedBy(*context), [this, context, reactor, response](auto outcome) {
          responder_.Complete(context, reactor, Assign(std::move(outcome), response));
        });
    return reactor;
  }
  // Each event is serialized once for every subscriber; a write adds its
  // sent_at_unix_nanos to the bytes (encoded_event.h).
  grpc::ServerWriteReactor<grpc::ByteBuffer>* StreamCommitted(grpc::CallbackServerContext* context,
                                                              const tv1::StreamRequest* request) {
    const std::string account = request->account();
    const Clock& wall = streaming_.wall;
    return EventStream<CommittedEvent, grpc::ByteBuffer>::Open(
        streaming_.transaction_events, streaming_.counters, streaming_.options.stream_queue_bound,
        [account](const CommittedEvent& e) { return e.Concerns(account); },
        [&wall](const CommittedEvent& e, grpc::ByteBuffer* out) {
          WithInt64Field(e.bytes, tv1::CommittedTransaction::kSentAtUnixNanosFieldNumber,
                         wall.NowNanos(), out);
        });
  }
  grpc::ServerBidiReactor<Decoded<tv1::Transaction>, tv1::TransactionResponse>*
  OpenSubmitTransactionStream(grpc::CallbackServerContext* context) {
    TransactionCommitter& committer = committer_;
    std::string forwarded_by = ForwardedBy(*context);
    return ReplyStream<tv1::Transaction, tv1::TransactionResponse>::Open(
        [&committer, forwarded_by = std::move(forwarded_by)](
            const tv1::Transaction& tx, std::function<void(tv1::TransactionResponse)> done) {
          committer.Submit(tx, forwarded_by, [id = tx.id(), done = std::move(done)](auto outcome) {
            if (outcome.ok()) {
              done(*std::move(outcome));
              return;
            }
            tv1::TransactionResponse reply;
            reply.set_id(id);
            reply.set_status(tv1::TRANSACTION_STATUS_REJECTED);
            reply.set_code(static_cast<int32_t>(outcome.status().code()));
            reply.set_error(std::string(outcome.status().message()));
            done(std::move(reply));
          });
        },
        streaming_.faults, streaming_.delays, streaming_.counters, streaming_.options.reply_window);
  }
  grpc::ServerUnaryReactor* GetTransaction(grpc::CallbackServerContext* context,
                                           const tv1::GetTransactionRequest* request,
                                           tv1::Transaction* response) override {
    // On a cluster, reads are this node's: say which node answered and how far it has applied.
    if (const auto position = committer_.position()) {
      context->AddInitialMetadata(std::string(kNodeHeader), position->node);
      context->AddInitialMetadata(std::string(kAppliedIndexHeader),
                                  std::to_string(position->applied_index));
    }
    return responder_.Finish(context, Assign(store_.Get(request->id()), response));
  }

 private:
  TransactionStore& store_;
  TransactionCommitter& committer_;
  const Responder& responder_;
  Streaming streaming_;
};

}  // namespace

std::unique_ptr<grpc::Service> MakeTransactionService(TransactionStore& store,
                                                      TransactionCommitter& committer,
                                                      const Responder& responder,
                                                      const Streaming& streaming) {
  return std::make_unique<TransactionServiceImpl>(store, committer, responder, streaming);
}

}  // namespace aurigraph::refserver
