#include "reference-server/service/replicated_transactions.h"

#include <cstdlib>
#include <iostream>

#include "absl/strings/str_cat.h"
#include "reference-server/service/event_wiring.h"
#include "reference-server/service/forwarding.h"

namespace aurigraph::refserver {

namespace cv1 = contract::v1;
namespace tv1 = transaction::v1;

namespace {

// A command: a kind byte, then the request. A result: a status code byte,
// then the response (OK) or the error message.
constexpr char kSubmit = 'T';
constexpr char kBatch = 'B';
constexpr char kDeploy = 'D';
constexpr char kExecute = 'X';
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

template <typename Message>
bool Parse(std::string_view bytes, Message* message) {
  return message->ParseFromArray(bytes.data(), static_cast<int>(bytes.size()));
}

}  // namespace

std::string ReplicatedStateMachine::Apply(std::string_view command, uint64_t index) {
  const auto unreadable = [] {
    return EncodeResult<tv1::TransactionResponse>(absl::InternalError("unreadable command"));
  };
  if (command.empty()) return unreadable();
  const char kind = command[0];
  command.remove_prefix(1);
  switch (kind) {
    case kSubmit: {
      tv1::Transaction tx;
      if (!Parse(command, &tx)) return unreadable();
      auto outcome = store_.Submit(tx);
      if (outcome.ok()) {
        if (tx.has_contract_call()) *outcome->mutable_contract() = RunContractCall(contracts_, tx);
        PublishCommitted(streaming_, tx, index);
      }
      return EncodeResult(outcome);
    }
    case kBatch: {
      tv1::BatchRequest batch;
      if (!Parse(command, &batch)) return unreadable();
      auto outcome = store_.SubmitBatch(batch);
      if (outcome.ok()) {
        RunContractCalls(contracts_, batch, *outcome);
        PublishAccepted(streaming_, batch, *outcome, index);
      }
      return EncodeResult(outcome);
    }
    case kDeploy: {
      cv1::DeployRequest request;
      if (!Parse(command, &request)) return unreadable();
      return EncodeResult(contracts_.Deploy(request));
    }
    case kExecute: {
      cv1::ExecuteRequest request;
      if (!Parse(command, &request)) return unreadable();
      return EncodeResult(contracts_.Execute(request));
    }
    default:
      return EncodeResult<tv1::TransactionResponse>(absl::InternalError("unknown command"));
  }
}

std::string ReplicatedStateMachine::Snapshot() const {
  auto contracts = contract_store_.Dump();
  if (!contracts.ok()) {
    // The node cannot compact without losing state; as for a failed log write.
    std::cerr << "aurigraph-refserver: cannot take a snapshot of the contracts: "
              << contracts.status().message() << "\n";
    std::_Exit(70);
  }
  const std::string transactions = store_.Serialize();
  return consensus::EncodeCommands({transactions, *contracts});
}

absl::Status ReplicatedStateMachine::Restore(std::string_view data) {
  const auto parts = consensus::DecodeCommands(data);
  if (!parts || parts->size() != 2) {
    return absl::DataLossError(
        "a snapshot without its two parts (transactions, contracts): made by an older server?");
  }
  if (auto restored = store_.Restore((*parts)[0]); !restored.ok()) return restored;
  if (auto loaded = contract_store_.Load((*parts)[1]); !loaded.ok()) return loaded;
  return contracts_.Reload();
}

ReplicatedCommitter::ReplicatedCommitter(consensus::ConsensusNode& node,
                                         const consensus::Membership& members,
                                         const consensus::GrpcPeerTransport& transport)
    : node_(node), members_(members), transport_(transport) {
  for (raft::NodeId id : members.ids()) {
    if (id != members.self()) {
      leaders_[id] = {tv1::TransactionService::NewStub(transport.channel(id)),
                      cv1::ContractService::NewStub(transport.channel(id))};
    }
  }
}

template <typename Request, typename Response, typename Call>
void ReplicatedCommitter::Commit(char kind, const Request& request, const std::string& forwarded_by,
                                 std::function<void(absl::StatusOr<Response>)> done, Call call) {
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
    call(leaders_.at(status.leader), context.get(), copy.get(), response.get(),
         [context, copy, response, done = std::move(done)](grpc::Status s) {
           if (s.ok()) {
             done(std::move(*response));
           } else {
             done(absl::Status(static_cast<absl::StatusCode>(s.error_code()), s.error_message()));
           }
         });
    return;
  }
  node_.Propose(kind + request.SerializeAsString(), [done = std::move(done)](
                                                        absl::StatusOr<std::string> result) {
    if (result.ok()) {
      done(DecodeResult<Response>(*result));
    } else if (result.status().code() == absl::StatusCode::kFailedPrecondition) {
      done(absl::UnavailableError(absl::StrCat("leadership changed before the call was proposed (",
                                               result.status().message(), "); retry")));
    } else {
      done(result.status());
    }
  });
}

void ReplicatedCommitter::Submit(const tv1::Transaction& tx, const std::string& forwarded_by,
                                 TransactionCommitter::Done<tv1::TransactionResponse> done) {
  Commit(kSubmit, tx, forwarded_by, std::move(done),
         [](Leader& leader, grpc::ClientContext* context, const tv1::Transaction* request,
            tv1::TransactionResponse* response, std::function<void(grpc::Status)> finished) {
           leader.transactions->async()->SubmitTransaction(context, request, response,
                                                           std::move(finished));
         });
}

void ReplicatedCommitter::SubmitBatch(const tv1::BatchRequest& batch,
                                      const std::string& forwarded_by,
                                      TransactionCommitter::Done<tv1::BatchResponse> done) {
  Commit(kBatch, batch, forwarded_by, std::move(done),
         [](Leader& leader, grpc::ClientContext* context, const tv1::BatchRequest* request,
            tv1::BatchResponse* response, std::function<void(grpc::Status)> finished) {
           leader.transactions->async()->BatchSubmitTransactions(context, request, response,
                                                                 std::move(finished));
         });
}

void ReplicatedCommitter::Deploy(const cv1::DeployRequest& request, const std::string& forwarded_by,
                                 ContractCommitter::Done<cv1::DeployResponse> done) {
  Commit(kDeploy, request, forwarded_by, std::move(done),
         [](Leader& leader, grpc::ClientContext* context, const cv1::DeployRequest* request,
            cv1::DeployResponse* response, std::function<void(grpc::Status)> finished) {
           leader.contracts->async()->DeployContract(context, request, response,
                                                     std::move(finished));
         });
}

void ReplicatedCommitter::Execute(const cv1::ExecuteRequest& request,
                                  const std::string& forwarded_by,
                                  ContractCommitter::Done<cv1::ExecuteResponse> done) {
  Commit(kExecute, request, forwarded_by, std::move(done),
         [](Leader& leader, grpc::ClientContext* context, const cv1::ExecuteRequest* request,
            cv1::ExecuteResponse* response, std::function<void(grpc::Status)> finished) {
           leader.contracts->async()->ExecuteFunction(context, request, response,
                                                      std::move(finished));
         });
}

std::optional<TransactionCommitter::Position> ReplicatedCommitter::position() const {
  return Position{members_.name(members_.self()), node_.status().applied};
}

}  // namespace aurigraph::refserver
