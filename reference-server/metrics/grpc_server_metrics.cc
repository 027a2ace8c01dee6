#include "reference-server/metrics/grpc_server_metrics.h"

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/histogram.h>

#include <array>
#include <atomic>
#include <chrono>
#include <mutex>
#include <string>
#include <unordered_map>

#include "common/status_codes/status_codes.h"

namespace aurigraph::refserver {
namespace {

using grpc::experimental::InterceptionHookPoints;
using grpc::experimental::ServerRpcInfo;

const char* TypeLabel(ServerRpcInfo::Type type) {
  switch (type) {
    case ServerRpcInfo::Type::UNARY:
      return "unary";
    case ServerRpcInfo::Type::CLIENT_STREAMING:
      return "client_stream";
    case ServerRpcInfo::Type::SERVER_STREAMING:
      return "server_stream";
    case ServerRpcInfo::Type::BIDI_STREAMING:
      return "bidi_stream";
  }
  return "unary";
}

// Handling-time buckets (seconds), the grpc-ecosystem defaults plus finer
// steps around the 20 ms latency target.
const std::vector<double>& HandlingBuckets() {
  static const std::vector<double> buckets = {
      0.0005, 0.001, 0.0025, 0.005, 0.01, 0.015, 0.02, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
  return buckets;
}

}  // namespace

struct GrpcServerMetricsState {
  struct Method {
    prometheus::Labels labels;
    prometheus::Counter* started;
    prometheus::Counter* received;
    prometheus::Counter* sent;
    prometheus::Histogram* handling;
    std::array<std::atomic<prometheus::Counter*>, kStatusCodeCount> handled{};
  };

  explicit GrpcServerMetricsState(prometheus::Registry& registry)
      : started(prometheus::BuildCounter()
                    .Name("grpc_server_started_total")
                    .Help("Total number of RPCs started on the server.")
                    .Register(registry)),
        handled(prometheus::BuildCounter()
                    .Name("grpc_server_handled_total")
                    .Help("Total number of RPCs completed on the server, regardless of success "
                          "or failure.")
                    .Register(registry)),
        received(prometheus::BuildCounter()
                     .Name("grpc_server_msg_received_total")
                     .Help("Total number of RPC stream messages received on the server.")
                     .Register(registry)),
        sent(prometheus::BuildCounter()
                 .Name("grpc_server_msg_sent_total")
                 .Help("Total number of gRPC stream messages sent by the server.")
                 .Register(registry)),
        handling(prometheus::BuildHistogram()
                     .Name("grpc_server_handling_seconds")
                     .Help("Histogram of response latency (seconds) of gRPC that had been "
                           "application-level handled by the server.")
                     .Register(registry)) {}

  // One entry per method, made on its first call; entries are never removed.
  Method& MethodFor(const ServerRpcInfo& info) {
    std::lock_guard<std::mutex> lock(mu);
    auto [it, inserted] = methods.try_emplace(info.method());
    if (!inserted) return it->second;
    const std::string full = info.method();  // "/package.Service/Method"
    const size_t slash = full.rfind('/');
    Method& m = it->second;
    m.labels = {{"grpc_service", full.substr(1, slash - 1)},
                {"grpc_method", full.substr(slash + 1)},
                {"grpc_type", TypeLabel(info.type())}};
    m.started = &started.Add(m.labels);
    m.received = &received.Add(m.labels);
    m.sent = &sent.Add(m.labels);
    m.handling = &handling.Add(m.labels, HandlingBuckets());
    return m;
  }

  prometheus::Counter& Handled(Method& m, int code) {
    if (code < 0 || code >= kStatusCodeCount) code = 2;  // UNKNOWN
    prometheus::Counter* counter = m.handled[code].load(std::memory_order_acquire);
    if (counter != nullptr) return *counter;
    std::lock_guard<std::mutex> lock(mu);
    prometheus::Labels labels = m.labels;
    labels["grpc_code"] = StatusCodeName(code);
    counter = &handled.Add(labels);
    m.handled[code].store(counter, std::memory_order_release);
    return *counter;
  }

  std::mutex mu;
  std::unordered_map<std::string, Method> methods;
  prometheus::Family<prometheus::Counter>& started;
  prometheus::Family<prometheus::Counter>& handled;
  prometheus::Family<prometheus::Counter>& received;
  prometheus::Family<prometheus::Counter>& sent;
  prometheus::Family<prometheus::Histogram>& handling;
};

namespace {

class MetricsInterceptor final : public grpc::experimental::Interceptor {
 public:
  using Impl = GrpcServerMetricsState;
  MetricsInterceptor(Impl& impl, Impl::Method& method)
      : impl_(impl), method_(method), start_(std::chrono::steady_clock::now()) {}

  void Intercept(grpc::experimental::InterceptorBatchMethods* methods) override {
    if (methods->QueryInterceptionHookPoint(InterceptionHookPoints::POST_RECV_INITIAL_METADATA)) {
      method_.started->Increment();
    }
    if (methods->QueryInterceptionHookPoint(InterceptionHookPoints::POST_RECV_MESSAGE) &&
        methods->GetRecvMessage() != nullptr) {
      method_.received->Increment();
    }
    if (methods->QueryInterceptionHookPoint(InterceptionHookPoints::PRE_SEND_MESSAGE)) {
      method_.sent->Increment();
    }
    if (methods->QueryInterceptionHookPoint(InterceptionHookPoints::PRE_SEND_STATUS)) {
      impl_.Handled(method_, methods->GetSendStatus().error_code()).Increment();
      method_.handling->Observe(
          std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count());
    }
    methods->Proceed();
  }

 private:
  Impl& impl_;
  Impl::Method& method_;
  const std::chrono::steady_clock::time_point start_;
};

class MetricsInterceptorFactory final
    : public grpc::experimental::ServerInterceptorFactoryInterface {
 public:
  explicit MetricsInterceptorFactory(GrpcServerMetricsState& impl) : impl_(impl) {}
  grpc::experimental::Interceptor* CreateServerInterceptor(ServerRpcInfo* info) override {
    return new MetricsInterceptor(impl_, impl_.MethodFor(*info));
  }

 private:
  GrpcServerMetricsState& impl_;
};

}  // namespace

GrpcServerMetrics::GrpcServerMetrics(prometheus::Registry& registry)
    : state_(std::make_unique<GrpcServerMetricsState>(registry)) {}

GrpcServerMetrics::~GrpcServerMetrics() = default;

std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>
GrpcServerMetrics::InterceptorFactory() {
  return std::make_unique<MetricsInterceptorFactory>(*state_);
}

}  // namespace aurigraph::refserver
