// How the reference server's unary calls end: refused with a status, or
// finished with the service's outcome, each response held as the fault
// injector decides.
#pragma once

#include <grpcpp/grpcpp.h>

#include "absl/status/status.h"
#include "reference-server/faults/delay_queue.h"
#include "reference-server/faults/fault_injector.h"
#include "reference-server/service/reference_server.h"

namespace aurigraph::refserver {

class Responder {
 public:
  Responder(const FaultInjector& faults, HandledCounters& handled, DelayQueue& delayed)
      : faults_(faults), handled_(handled), delayed_(delayed) {}

  // Ends a call with `status` (and the response already filled in).
  grpc::ServerUnaryReactor* Finish(grpc::CallbackServerContext* context,
                                   const absl::Status& status) const;
  // Ends a call whose request could not be decoded.
  grpc::ServerUnaryReactor* Refuse(grpc::CallbackServerContext* context,
                                   const grpc::Status& status) const;

 private:
  void Count(const grpc::Status& status) const;

  const FaultInjector& faults_;
  HandledCounters& handled_;
  DelayQueue& delayed_;
};

}  // namespace aurigraph::refserver
