#include "loadgen/runner/worker_plan.h"

#include <algorithm>

namespace aurigraph::loadgen {
namespace {

StreamMode ModeOf(CallKind kind) {
  switch (kind) {
    case CallKind::kClientStreaming:
      return StreamMode::kClientStream;
    case CallKind::kBidiStreaming:
      return StreamMode::kBidi;
    default:
      return StreamMode::kServerStream;
  }
}

// Worker w of the run's `workers`.
std::optional<WorkerPlan> PlanCalls(const Scenario& scenario, const OperationsPlan& operations,
                                    int64_t start_nanos, int w, int workers) {
  if (operations.unary.empty()) return std::nullopt;
  WorkerPlan plan;
  plan.model = scenario.model;
  plan.start_nanos = start_nanos;
  plan.warmup_nanos = scenario.warmup_nanos;
  plan.duration_nanos = scenario.duration_nanos;
  // Closed loop, a worker without a slot sends nothing: the request budget is
  // shared among those with one (the first `concurrency` workers).
  const bool closed = scenario.model == LoadModel::kClosedLoop;
  const int sending =
      closed ? static_cast<int>(std::min<int64_t>(workers, scenario.concurrency)) : workers;
  plan.max_requests =
      scenario.requests > 0 && w < sending ? WorkerShare(scenario.requests, sending, w) : 0;
  plan.max_in_flight = static_cast<uint32_t>(closed ? WorkerShare(scenario.concurrency, workers, w)
                                                    : scenario.max_in_flight);
  if (scenario.model == LoadModel::kClosedLoop) plan.concurrency_profile = scenario.profile;
  plan.drain_timeout_nanos = scenario.drain_timeout_nanos;
  plan.end_grace_nanos = scenario.max_generator_lag_nanos;
  plan.spin_nanos = scenario.spin_nanos;
  for (const PlannedOperation& op : operations.unary) {
    plan.operation_weights.push_back(scenario.operations[op.index].weight);
  }
  plan.seed = scenario.seed;
  plan.worker_index = w;
  plan.worker_count = workers;
  const bool idle = (scenario.requests > 0 && plan.max_requests == 0) || plan.max_in_flight == 0;
  if (idle) return std::nullopt;
  return plan;
}

std::optional<StreamWorkerPlan> PlanStreams(const Scenario& scenario,
                                            const OperationsPlan& operations, int64_t start_nanos,
                                            int w, int workers) {
  StreamWorkerPlan plan;
  plan.start_nanos = start_nanos;
  plan.warmup_nanos = scenario.warmup_nanos;
  plan.duration_nanos = scenario.duration_nanos;
  plan.drain_timeout_nanos = scenario.drain_timeout_nanos;
  plan.end_grace_nanos = scenario.max_generator_lag_nanos;
  plan.worker_index = w;
  plan.worker_count = workers;
  plan.seed = scenario.seed;
  int64_t streams = 0;
  for (const PlannedOperation& op : operations.streaming) {
    const StreamSpec& spec = scenario.operations[op.index].stream;
    StreamOperationPlan o;
    o.mode = ModeOf(op.kind);
    o.streams = static_cast<uint32_t>(WorkerShare(spec.streams, workers, w));
    o.messages = spec.messages;
    o.lifetime_nanos = spec.lifetime_nanos;
    o.open_rate =
        spec.open_rate * static_cast<double>(o.streams) / static_cast<double>(spec.streams);
    o.send_rate = op.send_rate;
    o.delay_nanos = spec.delay_nanos;
    o.max_outstanding = static_cast<uint32_t>(spec.max_outstanding);
    o.reopen_backoff_nanos = spec.reopen_backoff_nanos;
    o.reopen_backoff_max_nanos = spec.reopen_backoff_max_nanos;
    streams += o.streams;
    plan.operations.push_back(o);
  }
  if (streams == 0) return std::nullopt;
  return plan;
}

}  // namespace

std::vector<WorkerAssignment> PlanWorkers(const Scenario& scenario,
                                          const OperationsPlan& operations, int64_t start_nanos,
                                          Partition partition) {
  std::vector<WorkerAssignment> assignments(static_cast<size_t>(scenario.workers));
  const int workers = partition.RunWorkers(scenario.workers);
  for (int t = 0; t < scenario.workers; ++t) {
    const int w = partition.RunWorker(t);
    assignments[t].calls = PlanCalls(scenario, operations, start_nanos, w, workers);
    assignments[t].streams = PlanStreams(scenario, operations, start_nanos, w, workers);
  }
  return assignments;
}

}  // namespace aurigraph::loadgen
