// The HTTP/1.1 wire for a run: `connections` keep-alive connections to one
// target address, dealt out to the workers, for requests; a WebSocket
// connection per stream; TLS on both when the channel options ask for it.
// The scenario parser refuses finality and reflection for HTTP operations.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "loadgen/interfaces/channel_options.h"
#include "loadgen/interfaces/transport_factory.h"
#include "loadgen/transport/http_transport.h"

namespace aurigraph::loadgen {

class HttpTransportFactory final : public TransportFactory {
 public:
  // Of `options`, TLS (its files and server name) and the authority (the Host
  // header) apply; HTTP/2 settings do not.
  HttpTransportFactory(std::string target, int connections, ChannelOptions options,
                       int64_t connect_timeout_nanos);

  // INVALID_ARGUMENT for a list of addresses or one that does not resolve,
  // or a TLS file that cannot be used; UNAVAILABLE when nothing accepts a
  // connection there in time, or its TLS handshake fails.
  absl::Status Connect() override;
  absl::StatusOr<ServiceDescriptions> DescribeServices(
      const std::vector<std::string>& services) override;
  std::unique_ptr<Transport> MakeTransport(int worker, int workers,
                                           std::vector<UnaryMethod> methods,
                                           uint32_t slots) override;
  // WebSocket streams (websocket_transport.h), `paths` being where they upgrade.
  std::unique_ptr<StreamTransport> MakeStreamTransport(int worker, int workers,
                                                       std::vector<std::string> paths,
                                                       uint32_t slots) override;

 private:
  const std::string target_;
  const int connections_;
  const ChannelOptions options_;
  const int64_t connect_timeout_nanos_;
  HttpEndpoint endpoint_;
};

}  // namespace aurigraph::loadgen
