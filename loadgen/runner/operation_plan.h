// The first stage of a run: the scenario's operations made ready to send. Each
// one's method comes from the bundled catalog, the scenario's .proto files or
// the target's own reflection; its request template is compiled, and its
// response counter (unary) or message inspector (streams) built. Bad input is
// INVALID_ARGUMENT naming the operation, found before any request is sent.
#pragma once

#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "loadgen/catalog/catalog.h"
#include "loadgen/interfaces/load_model.h"
#include "loadgen/interfaces/message_inspector.h"
#include "loadgen/interfaces/request_source.h"
#include "loadgen/interfaces/request_tracker.h"
#include "loadgen/interfaces/transport_factory.h"
#include "loadgen/payload/request_template.h"
#include "loadgen/scenario/scenario.h"

namespace aurigraph::loadgen {

// The `finality:` blocks of a scenario's unary operations, made ready: one
// subscription stream shared by every tracked operation.
struct PlannedFinality {
  std::string rpc;      // "package.Service/Method", as the scenario names it
  std::string path;     // as gRPC sends it
  std::string request;  // the subscription's one request, serialized
  std::vector<std::pair<std::string, std::string>> headers;  // the first tracked operation's
  std::unique_ptr<KeyReader> event_keys;
  int64_t timeout_nanos = 0;
};

struct PlannedOperation {
  size_t index = 0;  // in the scenario
  CallKind kind = CallKind::kUnary;
  UnaryMethod method;
  RequestTemplate request_template;
  std::unique_ptr<ResponseCounter> counter;     // unary with count_field
  std::unique_ptr<MessageInspector> inspector;  // streams
  std::unique_ptr<KeyReader> finality_keys;     // unary or bidi with a finality: block
  // Client and bidi streams: messages/s per stream (0 = as fast as answered):
  // the scenario's send_rate, or the operation's share of an open-loop load.rate
  // when the scenario has no unary operation for it to pace.
  double send_rate = 0;
};

struct OperationsPlan {
  // Descriptors of runtime-loaded .proto files (or of the target's reflection)
  // live as long as this; null when the bundled catalog serves.
  std::unique_ptr<MethodCatalog> catalog;
  std::string reflection;  // the reflection protocol that described them; empty: none asked
  std::vector<PlannedOperation> unary;      // in scenario order
  std::vector<PlannedOperation> streaming;  // in scenario order
  std::optional<PlannedFinality> finality;  // when an operation has a finality: block
};

// The plan's operations in the finality tracker's numbering, which is also the
// order of the run's finality operations: the unary ones, then the streams.
std::vector<const PlannedOperation*> InTrackerOrder(const OperationsPlan& plan);

// True when the scenario's methods can only be known from the target, which
// must then be connected before PlanOperations.
bool NeedsReflection(const Scenario& scenario);

// `wire` (connected to `target`) is asked to describe the services only when NeedsReflection.
// An open-loop load.rate paces unary calls; in a scenario with none, it paces the
// messages of its client and bidi streams (in total, shared by weight), and is
// refused when there is nothing it could pace.
absl::StatusOr<OperationsPlan> PlanOperations(const Scenario& scenario, TransportFactory& wire,
                                              const std::string& target);

}  // namespace aurigraph::loadgen
