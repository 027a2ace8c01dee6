#include "reference-server/service/responder.h"

#include "absl/strings/str_cat.h"

namespace aurigraph::refserver {

bool Responder::Admit(grpc::CallbackServerContext* context) const {
  return gate_.TryEnter(context->peer());
}

grpc::Status Responder::Overloaded() const {
  return grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED,
                      absl::StrCat("server overloaded: ", gate_.limit(),
                                   " calls in flight (--max-in-flight); retry later"));
}

grpc::ServerUnaryReactor* Responder::Refuse(grpc::CallbackServerContext* context,
                                            const grpc::Status& status) const {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  Count(status);
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
  grpc::Status reply(static_cast<grpc::StatusCode>(status.code()), std::string(status.message()));
  faults_.Leak();
  if (!faults_.config().active()) {
    Count(reply);
    gate_.Leave(context->peer());
    reactor->Finish(reply);
    return;
  }
  const FaultInjector::Decision decision = faults_.Decide();
  if (decision.error_code != 0) {
    reply = grpc::Status(static_cast<grpc::StatusCode>(decision.error_code), "injected fault");
  }
  Count(reply);
  const int64_t wait = decision.release_at_nanos - faults_.clock().NowNanos();
  if (wait <= 0) {
    gate_.Leave(context->peer());
    reactor->Finish(reply);
    return;
  }
  delayed_.Schedule(decision.release_at_nanos,
                    [this, reactor, peer = context->peer(), reply = std::move(reply)] {
                      gate_.Leave(peer);
                      reactor->Finish(reply);
                    });
}

void Responder::Count(const grpc::Status& status) const {
  handled_.by_code[status.error_code()].fetch_add(1, std::memory_order_relaxed);
}

}  // namespace aurigraph::refserver
