// How the reference server's unary calls begin and end: admitted through the
// call gate (load shedding), refused with a status, or finished with the
// service's outcome, each response held as the fault injector decides.
#pragma once

#include <grpcpp/grpcpp.h>

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

 private:
  void Count(const grpc::Status& status) const;

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
