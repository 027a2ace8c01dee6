// The gRPC wire for a run: `connections` channels to the target, each its own
// TCP connection, dealt out to the workers; server reflection describes the
// target's services; the kernel's byte counts of those connections stand for
// gRPC's whole bytes, which its library keeps to itself. With the nghttp2
// client (ChannelOptions::Client) unary calls go over connections of their
// own, dealt out the same way except that a worker never shares one (a
// worker's transport is its thread's alone); one channel stays for
// reflection, streams and plug-ins.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "loadgen/interfaces/channel_options.h"
#include "loadgen/interfaces/transport_factory.h"
#include "loadgen/transport/nghttp2_grpc_transport.h"
#include "loadgen/transport/socket_bytes.h"

namespace grpc {
class Channel;
}

namespace aurigraph::loadgen {

class GrpcTransportFactory final : public TransportFactory {
 public:
  GrpcTransportFactory(std::string target, int connections, ChannelOptions options,
                       int64_t connect_timeout_nanos);

  absl::Status Connect() override;
  absl::StatusOr<ServiceDescriptions> DescribeServices(
      const std::vector<std::string>& services) override;
  std::unique_ptr<Transport> MakeTransport(int worker, int workers,
                                           std::vector<UnaryMethod> methods,
                                           uint32_t slots) override;
  std::unique_ptr<StreamTransport> MakeStreamTransport(int worker, int workers,
                                                       std::vector<std::string> paths,
                                                       uint32_t slots) override;

  void MarkConnectionBytes() override;
  // Of this process's TCP connections to the target's addresses (given as
  // HOST:PORT): the run's channels, and any other client of the target in
  // this process. Nothing when a connection closed meanwhile.
  std::optional<ConnectionBytes> ConnectionBytesSinceMark() override;

  std::vector<std::string> Addresses() const override;
  std::unique_ptr<StreamTransport> MakeTransportPerAddress(std::string path) override;

  // A connected channel, for plug-ins that call the target themselves; null before Connect.
  std::shared_ptr<grpc::Channel> channel() const;

 private:
  // Worker `worker`'s channels: every `workers`-th one, or one shared when there are fewer.
  std::vector<std::shared_ptr<grpc::Channel>> ChannelsOf(int worker, int workers) const;

  const std::string target_;
  const int connections_;
  const ChannelOptions options_;
  const int64_t connect_timeout_nanos_;
  std::vector<std::shared_ptr<grpc::Channel>> channels_;
  std::vector<sockaddr_storage> peers_;  // the target's addresses; none: not all resolved
  std::optional<Nghttp2Endpoint>
      nghttp2_endpoint_;  // the nghttp2 client's: an address that accepts
  std::optional<SocketSnapshot> marked_;
};

}  // namespace aurigraph::loadgen
