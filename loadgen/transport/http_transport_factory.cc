#include "loadgen/transport/http_transport_factory.h"

#include "absl/strings/str_cat.h"
#include "loadgen/transport/grpc_transport.h"
#include "loadgen/transport/host_port.h"
#include "loadgen/transport/websocket_transport.h"

namespace aurigraph::loadgen {

HttpTransportFactory::HttpTransportFactory(std::string target, int connections,
                                           ChannelOptions options, int64_t connect_timeout_nanos)
    : target_(std::move(target)),
      connections_(connections),
      options_(std::move(options)),
      connect_timeout_nanos_(connect_timeout_nanos) {}

absl::Status HttpTransportFactory::Connect() {
  if (TargetAddresses(target_).size() != 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("target '", target_, "': HTTP operations go to one address"));
  }
  auto endpoint = ResolveHttpEndpoint(target_);
  if (!endpoint.ok()) return endpoint.status();
  endpoint_ = *std::move(endpoint);
  endpoint_.authority = options_.authority;
  if (options_.tls) {
    // The certificate must carry the target's host: a name, or an address.
    auto tls = TlsClientContext::Make(options_, HostOf(target_), "http/1.1");
    if (!tls.ok()) return tls.status();
    endpoint_.tls = *std::move(tls);
  }
  return ProbeHttpEndpoint(endpoint_, connect_timeout_nanos_);
}

absl::StatusOr<ServiceDescriptions> HttpTransportFactory::DescribeServices(
    const std::vector<std::string>&) {
  return absl::UnimplementedError("an HTTP target has no server reflection");
}

std::unique_ptr<Transport> HttpTransportFactory::MakeTransport(int worker, int workers,
                                                               std::vector<UnaryMethod> methods,
                                                               uint32_t slots) {
  // Connection c belongs to worker c % workers; a worker left without one gets one.
  int own = 0;
  for (int c = 0; c < connections_; ++c) own += c % workers == worker ? 1 : 0;
  return std::make_unique<HttpTransport>(endpoint_, std::max(own, 1), std::move(methods), slots);
}

std::unique_ptr<StreamTransport> HttpTransportFactory::MakeStreamTransport(
    int, int, std::vector<std::string> paths, uint32_t slots) {
  return std::make_unique<WebSocketStreamTransport>(endpoint_, std::move(paths), slots,
                                                    connect_timeout_nanos_);
}

}  // namespace aurigraph::loadgen
