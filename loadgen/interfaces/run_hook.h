// What a system under test may add to a generic run, plugged in by the CLI:
// set-up before the load (e.g. registering a webhook whose deliveries are then
// measured) and figures after it (e.g. the server's own memory report).
#pragma once

#include "absl/status/status.h"
#include "loadgen/result/run_description.h"
#include "loadgen/result/run_result.h"

namespace aurigraph::loadgen {

class RunHook {
 public:
  virtual ~RunHook() = default;
  // Once connected, before the first request; an error ends the run.
  virtual absl::Status BeforeLoad() = 0;
  // After the last request completed, before the end is recorded.
  virtual void AfterLoad(RunEnd& /*end*/) {}
  // On the result as built, before gates are checked.
  virtual void OnResult(RunResult& /*result*/) {}
};

}  // namespace aurigraph::loadgen
