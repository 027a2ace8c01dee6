#include "reference-server/service/responder.h"

#include "absl/strings/str_cat.h"

namespace aurigraph::refserver {

bool Responder::Admit(grpc::CallbackServerContext* context) const { return Admit(context->peer()); }

bool Responder::Admit(const std::string& connection) const { return gate_.TryEnter(connection); }

absl::Status Responder::OverloadedStatus() const {
  return absl::ResourceExhaustedError(absl::StrCat(
      "server overloaded: ", gate_.limit(), " calls in flight (--max-in-flight); retry later"));
}

grpc::Status Responder::Overloaded() const {
  const absl::Status status = OverloadedStatus();
  return grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED, std::string(status.message()));
}

grpc::ServerUnaryReactor* Responder::Refuse(grpc::CallbackServerContext* context,
                                            const grpc::Status& status) const {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  Count(static_cast<absl::StatusCode>(status.error_code()));
  reactor->Finish(status);
  return reactor;
}

grpc::ServerUnaryReactor* Responder::Finish(grpc::CallbackServerContext* context,
                                            const absl::Status& status) const {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  Complete(context, reactor, status);
  return reactor;
}

void Responder::Complete(grpc::CallbackServerContext* context, grpc::ServerUnaryReactor* reactor,
                         const absl::Status& status) const {
  Conclude(context->peer(), status, [reactor](const absl::Status& final_status) {
    reactor->Finish(grpc::Status(static_cast<grpc::StatusCode>(final_status.code()),
                                 std::string(final_status.message())));
  });
}

void Responder::Conclude(const std::string& connection, const absl::Status& status,
                         Finisher finish) const {
  faults_.Leak();
  if (!faults_.config().active()) {
    Count(status.code());
    gate_.Leave(connection);
    finish(status);
    return;
  }
  const FaultInjector::Decision decision = faults_.Decide();
  absl::Status reply = status;
  if (decision.error_code != 0) {
    reply = absl::Status(static_cast<absl::StatusCode>(decision.error_code), "injected fault");
  }
  Count(reply.code());
  if (decision.release_at_nanos - faults_.clock().NowNanos() <= 0) {
    gate_.Leave(connection);
    finish(reply);
    return;
  }
  delayed_.Schedule(decision.release_at_nanos,
                    [this, connection, reply = std::move(reply), finish = std::move(finish)] {
                      gate_.Leave(connection);
                      finish(reply);
                    });
}

void Responder::Count(absl::StatusCode code) const {
  handled_.by_code[static_cast<size_t>(code)].fetch_add(1, std::memory_order_relaxed);
}

}  // namespace aurigraph::refserver
