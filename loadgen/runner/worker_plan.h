// How a scenario's load is shared among its workers: request budgets, in-flight
// bounds, streams and their open rates split so the shares add up to the
// scenario's figures, and the seeds each worker draws from. Pure, so it is
// tested without threads, clocks or sockets; the runner then gives each plan
// its recorder, request sources and transport.
#pragma once

#include <optional>
#include <vector>

#include "loadgen/driver/stream_worker.h"
#include "loadgen/driver/worker.h"
#include "loadgen/interfaces/load_model.h"
#include "loadgen/runner/operation_plan.h"
#include "loadgen/scenario/scenario.h"

namespace aurigraph::loadgen {

struct WorkerAssignment {
  // Unary calls; empty when the worker has none to send (no unary operation,
  // or a share of nothing).
  std::optional<WorkerPlan> calls;
  // Streams; empty when the worker holds none. Its operations' sources and
  // inspectors are left for the runner to set.
  std::optional<StreamWorkerPlan> streams;
};

// This process's scenario.workers threads, as the run's workers of `partition`
// (Partition::RunWorker); `start_nanos` is the run's start on its clock.
std::vector<WorkerAssignment> PlanWorkers(const Scenario& scenario,
                                          const OperationsPlan& operations, int64_t start_nanos,
                                          Partition partition = {});

}  // namespace aurigraph::loadgen
