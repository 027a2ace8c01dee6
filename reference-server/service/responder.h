// How the reference server's unary calls begin and end: admitted through the
// call gate (load shedding), refused with a status, or finished with the
// service's outcome, each response held as the fault injector decides. The
// same for a call over gRPC and one through the REST gateway.
#pragma once

#include <grpcpp/grpcpp.h>

#include <functional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "reference-server/admission/call_gate.h"
#include "reference-server/faults/delay_queue.h"
#include "reference-server/faults/fault_injector.h"
#include "reference-server/service/reference_server.h"

namespace aurigraph::refserver {

class Responder {
 public:
  Responder(const FaultInjector& faults, HandledCounters& handled, DelayQueue& delayed,
            CallGate& gate)
      : faults_(faults), handled_(handled), delayed_(delayed), gate_(gate) {}

  // Whether the gate admits this call; a call admitted must end with Finish.
  bool Admit(grpc::CallbackServerContext* context) const;
  // Ends an admitted call with `status` (and the response already filled in),
  // leaving the gate when the response is released.
  grpc::ServerUnaryReactor* Finish(grpc::CallbackServerContext* context,
                                   const absl::Status& status) const;
  // The same for a call whose outcome comes later: `reactor` is the one the
  // handler returned (context->DefaultReactor()).
  void Complete(grpc::CallbackServerContext* context, grpc::ServerUnaryReactor* reactor,
                const absl::Status& status) const;
  // Ends a call that was not admitted, or whose request could not be decoded.
  grpc::ServerUnaryReactor* Refuse(grpc::CallbackServerContext* context,
                                   const grpc::Status& status) const;
  // The status of a call the gate refused.
  grpc::Status Overloaded() const;

  // The same for any transport: `connection` names the client's connection
  // (the gate is fair between them); `finish` ends the call with its final
  // status (an injected error replaces the outcome's), at once or once the
  // injected latency has passed, on another thread then.
  using Finisher = std::function<void(const absl::Status&)>;
  bool Admit(const std::string& connection) const;
  void Conclude(const std::string& connection, const absl::Status& status, Finisher finish) const;
  absl::Status OverloadedStatus() const;
  // Counts a call by its final status code (one ended without Conclude: refused before it began).
  void Count(absl::StatusCode code) const;

 private:
  const FaultInjector& faults_;
  HandledCounters& handled_;
  DelayQueue& delayed_;
  CallGate& gate_;
};

// A store's outcome as a unary call's response and the status to Finish it with.
template <typename T>
absl::Status Assign(absl::StatusOr<T> outcome, T* response) {
  if (!outcome.ok()) return outcome.status();
  *response = *std::move(outcome);
  return absl::OkStatus();
}

}  // namespace aurigraph::refserver
