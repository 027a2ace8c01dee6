#include "common/runtime/runtime.h"

#include <cstdlib>

#include "absl/synchronization/mutex.h"

namespace aurigraph {

void PrepareGrpcProcess() {
  setenv("GRPC_VERBOSITY", "NONE", /*overwrite=*/0);
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
}

}  // namespace aurigraph
