#include "reference-server/service/replicated_transactions.h"

#include "absl/strings/str_cat.h"
#include "reference-server/service/event_wiring.h"
#include "reference-server/service/transaction_service.h"

namespace aurigraph::refserver {

namespace tv1 = transaction::v1;

namespace {

// A command: a kind byte, then the request. A result: a status code byte,
// then the response (OK) or the error message.
constexpr char kSubmit = 'T';
constexpr char kBatch = 'B';
constexpr int64_t kForwardDeadlineNanos = 10'000'000'000;

template <typename Response>
std::string EncodeResult(const absl::StatusOr<Response>& outcome) {
  std::string out(1, static_cast<char>(outcome.status().code()));
  out += outcome.ok() ? outcome->SerializeAsString() : std::string(outcome.status().message());
  return out;
}

template <typename Response>
absl::StatusOr<Response> DecodeResult(std::string_view result) {
  if (result.empty()) return absl::InternalError("an empty consensus result");
  const auto code = static_cast<absl::StatusCode>(static_cast<unsigned char>(result[0]));
  result.remove_prefix(1);
  if (code != absl::StatusCode::kOk) return absl::Status(code, std::string(result));
  Response response;
  if (!response.ParseFromArray(result.data(), static_cast<int>(result.size()))) {
    return absl::InternalError("a consensus result that cannot be read");
  }
  return response;
}

}  // namespace

std::string TransactionStateMachine::Apply(std::string_view command, uint64_t index) {
  if (command.empty())
    return EncodeResult<tv1::TransactionResponse>(absl::InternalError("empty command"));
  const char kind = command[0];
  command.remove_prefix(1);
  if (kind == kSubmit) {
    tv1::Transaction tx;
    if (!tx.ParseFromArray(command.data(), static_cast<int>(command.size()))) {
      return EncodeResult<tv1::TransactionResponse>(absl::InternalError("unreadable command"));
    }
    auto outcome = store_.Submit(tx);
    if (outcome.ok()) PublishCommitted(streaming_, tx, index);
    return EncodeResult(outcome);
  }
  if (kind == kBatch) {
    tv1::BatchRequest batch;
    if (!batch.ParseFromArray(command.data(), static_cast<int>(command.size()))) {
      return EncodeResult<tv1::BatchResponse>(absl::InternalError("unreadable command"));
    }
    auto outcome = store_.SubmitBatch(batch);
    if (outcome.ok()) PublishAccepted(streaming_, batch, *outcome, index);
    return EncodeResult(outcome);
  }
  return EncodeResult<tv1::TransactionResponse>(absl::InternalError("unknown command"));
}

ReplicatedCommitter::ReplicatedCommitter(consensus::ConsensusNode& node,
                                         const consensus::Membership& members,
                                         const consensus::GrpcPeerTransport& transport)
    : node_(node), members_(members), transport_(transport) {
  for (raft::NodeId id : members.ids()) {
    if (id != members.self())
      leaders_[id] = tv1::TransactionService::NewStub(transport.channel(id));
  }
}

template <typename Request, typename Response, typename Call>
void ReplicatedCommitter::Commit(char kind, const Request& request, const std::string& forwarded_by,
                                 Done<Response> done, Call call) {
  // A partition (fault injection) cuts forwarding too, both ways, as a real one would.
  if (const auto from = members_.IdOf(forwarded_by); from && transport_.Blocked(*from)) {
    done(absl::UnavailableError(absl::StrCat("node ", members_.name(members_.self()),
                                             " is partitioned from ", forwarded_by, "; retry")));
    return;
  }
  const raft::Status status = node_.status();
  if (status.role != raft::Role::kLeader) {
    // Forwarded once at most: the leader answers, or says it no longer leads.
    if (!forwarded_by.empty() || status.leader == raft::kNoNode) {
      done(absl::UnavailableError(absl::StrCat("node ", members_.name(members_.self()),
                                               " is not the leader and knows none; retry")));
      return;
    }
    if (transport_.Blocked(status.leader)) {
      done(absl::UnavailableError(absl::StrCat("node ", members_.name(members_.self()),
                                               " cannot reach the leader ",
                                               members_.name(status.leader), "; retry")));
      return;
    }
    auto context = std::make_shared<grpc::ClientContext>();
    context->AddMetadata(std::string(kForwardedHeader), members_.name(members_.self()));
    context->set_deadline(std::chrono::system_clock::now() +
                          std::chrono::nanoseconds(kForwardDeadlineNanos));
    auto copy = std::make_shared<Request>(request);
    auto response = std::make_shared<Response>();
    call(*leaders_.at(status.leader), context.get(), copy.get(), response.get(),
         [context, copy, response, done = std::move(done)](grpc::Status s) {
           if (s.ok()) {
             done(std::move(*response));
           } else {
             done(absl::Status(static_cast<absl::StatusCode>(s.error_code()), s.error_message()));
           }
         });
    return;
  }
  node_.Propose(kind + request.SerializeAsString(),
                [done = std::move(done)](absl::StatusOr<std::string> result) {
                  if (result.ok()) {
                    done(DecodeResult<Response>(*result));
                  } else if (result.status().code() == absl::StatusCode::kFailedPrecondition) {
                    done(absl::UnavailableError(
                        absl::StrCat("leadership changed before the transaction was proposed (",
                                     result.status().message(), "); retry")));
                  } else {
                    done(result.status());
                  }
                });
}

namespace {

// Contract state is each node's own, not replicated: a call committed through
// consensus would run against different states on different nodes.
absl::Status NoContractCalls() {
  return absl::FailedPreconditionError(
      "contract_call: transactions that call contracts are served by a single server; on a "
      "cluster contract state is not replicated");
}

}  // namespace

void ReplicatedCommitter::Submit(const tv1::Transaction& tx, const std::string& forwarded_by,
                                 Done<tv1::TransactionResponse> done) {
  if (tx.has_contract_call()) {
    done(NoContractCalls());
    return;
  }
  Commit(kSubmit, tx, forwarded_by, std::move(done),
         [](tv1::TransactionService::Stub& stub, grpc::ClientContext* context,
            const tv1::Transaction* request, tv1::TransactionResponse* response,
            std::function<void(grpc::Status)> finished) {
           stub.async()->SubmitTransaction(context, request, response, std::move(finished));
         });
}

void ReplicatedCommitter::SubmitBatch(const tv1::BatchRequest& batch,
                                      const std::string& forwarded_by,
                                      Done<tv1::BatchResponse> done) {
  for (const tv1::Transaction& tx : batch.transactions()) {
    if (tx.has_contract_call()) {
      done(NoContractCalls());
      return;
    }
  }
  Commit(kBatch, batch, forwarded_by, std::move(done),
         [](tv1::TransactionService::Stub& stub, grpc::ClientContext* context,
            const tv1::BatchRequest* request, tv1::BatchResponse* response,
            std::function<void(grpc::Status)> finished) {
           stub.async()->BatchSubmitTransactions(context, request, response, std::move(finished));
         });
}

std::optional<TransactionCommitter::Position> ReplicatedCommitter::position() const {
  return Position{members_.name(members_.self()), node_.status().applied};
}

}  // namespace aurigraph::refserver
