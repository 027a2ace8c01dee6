// The conventional gRPC server metrics, named as grpc-ecosystem's Prometheus
// interceptors name them so existing gRPC dashboards work:
// grpc_server_started_total, grpc_server_handled_total, grpc_server_msg_received_total,
// grpc_server_msg_sent_total and grpc_server_handling_seconds, labelled by
// grpc_service, grpc_method, grpc_type (and grpc_code). Collected by a server
// interceptor, so every RPC of every kind is counted in one place.
#pragma once

#include <grpcpp/support/server_interceptor.h>
#include <prometheus/registry.h>

#include <memory>

namespace aurigraph::refserver {

struct GrpcServerMetricsState;

class GrpcServerMetrics {
 public:
  explicit GrpcServerMetrics(prometheus::Registry& registry);
  ~GrpcServerMetrics();

  // For ServerBuilder::experimental().SetInterceptorCreators; the factory
  // refers to this object, which must outlive the server.
  std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface> InterceptorFactory();

 private:
  std::unique_ptr<GrpcServerMetricsState> state_;
};

}  // namespace aurigraph::refserver
