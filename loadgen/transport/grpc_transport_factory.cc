#include "loadgen/transport/grpc_transport_factory.h"

#include <unistd.h>

#include <algorithm>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "loadgen/transport/grpc_stream_transport.h"
#include "loadgen/transport/grpc_transport.h"
#include "loadgen/transport/host_port.h"
#include "loadgen/transport/nonblocking_socket.h"
#include "loadgen/transport/reflection.h"

namespace aurigraph::loadgen {

GrpcTransportFactory::GrpcTransportFactory(std::string target, int connections,
                                           ChannelOptions options, int64_t connect_timeout_nanos)
    : target_(std::move(target)),
      connections_(connections),
      options_(std::move(options)),
      connect_timeout_nanos_(connect_timeout_nanos) {}

namespace {

// For the nghttp2 client: an address of `address` (HOST:PORT) that accepts a
// connection within `timeout_nanos`, tried in the resolver's order.
absl::StatusOr<Nghttp2Endpoint> ReachableEndpoint(const std::string& address,
                                                  const std::string& authority,
                                                  int64_t timeout_nanos) {
  auto resolved = ResolveHostPort(address);
  if (!resolved.ok()) return resolved.status();
  int error = 0;
  for (const sockaddr_storage& storage : *resolved) {
    int fd = -1;
    const socklen_t length = SocketAddressLength(storage);
    error = ConnectWithin(storage, length, timeout_nanos, fd);
    if (fd >= 0) close(fd);
    if (error == 0) return Nghttp2Endpoint{storage, length, address, authority};
  }
  return absl::UnavailableError(
      absl::StrCat("cannot connect to ", address, ": ", std::strerror(error)));
}

}  // namespace

absl::Status GrpcTransportFactory::Connect() {
  const bool nghttp2 = options_.client == ChannelOptions::Client::kNghttp2;
  if (nghttp2 && TargetAddresses(target_).size() > 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("target ", target_,
                     ": channel.client nghttp2 calls one address; a list needs client grpc"));
  }
  auto channels = CreateChannels(target_, nghttp2 ? 1 : connections_, options_);
  if (!channels.ok()) return channels.status();
  if (absl::Status connected = WaitForConnection(*channels, target_, connect_timeout_nanos_);
      !connected.ok()) {
    return connected;
  }
  channels_ = *std::move(channels);
  if (nghttp2) {
    auto endpoint = ReachableEndpoint(
        target_, options_.authority.empty() ? target_ : options_.authority, connect_timeout_nanos_);
    if (!endpoint.ok()) return endpoint.status();
    nghttp2_endpoint_ = *std::move(endpoint);
  }
  // Connections to an address left out would go uncounted: all, or none.
  peers_.clear();
  for (const std::string& address : TargetAddresses(target_)) {
    // A target of another form (a URI, a Unix socket) resolves to nothing here.
    const auto resolved = ResolveHostPort(address);
    if (!resolved.ok()) {
      peers_.clear();
      break;
    }
    peers_.insert(peers_.end(), resolved->begin(), resolved->end());
  }
  return absl::OkStatus();
}

void GrpcTransportFactory::MarkConnectionBytes() { marked_ = SnapshotSockets(peers_); }

std::optional<ConnectionBytes> GrpcTransportFactory::ConnectionBytesSinceMark() {
  const std::optional<SocketSnapshot> now = SnapshotSockets(peers_);
  if (!marked_ || !now) return std::nullopt;
  return BytesBetween(*marked_, *now);
}

absl::StatusOr<ServiceDescriptions> GrpcTransportFactory::DescribeServices(
    const std::vector<std::string>& services) {
  ServiceDescriptions described;
  for (const std::string& service : services) {
    auto fetched = FetchServiceFiles(channel(), service, connect_timeout_nanos_);
    if (!fetched.ok()) {
      return absl::Status(fetched.status().code(), absl::StrCat(target_, ": service ", service,
                                                                ": ", fetched.status().message()));
    }
    described.files.insert(described.files.end(), fetched->files.begin(), fetched->files.end());
    described.protocol = fetched->protocol;
  }
  return described;
}

std::vector<std::shared_ptr<grpc::Channel>> GrpcTransportFactory::ChannelsOf(int worker,
                                                                             int workers) const {
  std::vector<std::shared_ptr<grpc::Channel>> own;
  for (size_t c = 0; c < channels_.size(); ++c) {
    if (static_cast<int>(c % workers) == worker) own.push_back(channels_[c]);
  }
  if (own.empty()) own.push_back(channels_[worker % channels_.size()]);
  return own;
}

std::unique_ptr<Transport> GrpcTransportFactory::MakeTransport(int worker, int workers,
                                                               std::vector<UnaryMethod> methods,
                                                               uint32_t slots) {
  if (nghttp2_endpoint_) {
    Nghttp2Connections connections;
    // Every `workers`-th connection is this worker's, and at least one.
    connections.count = std::max(1, (connections_ - worker + workers - 1) / workers);
    connections.connect_timeout_nanos = connect_timeout_nanos_;
    connections.reconnect.first_nanos = options_.reconnect_backoff_nanos;
    connections.reconnect.max_nanos = options_.reconnect_backoff_max_nanos;
    connections.seed = static_cast<uint64_t>(worker) + 1;
    connections.max_message_bytes = options_.max_message_bytes;
    return std::make_unique<Nghttp2GrpcTransport>(*nghttp2_endpoint_, connections,
                                                  std::move(methods), slots);
  }
  return std::make_unique<GrpcTransport>(ChannelsOf(worker, workers), std::move(methods), slots);
}

std::unique_ptr<StreamTransport> GrpcTransportFactory::MakeStreamTransport(
    int worker, int workers, std::vector<std::string> paths, uint32_t slots) {
  return std::make_unique<GrpcStreamTransport>(ChannelsOf(worker, workers), std::move(paths),
                                               slots);
}

std::vector<std::string> GrpcTransportFactory::Addresses() const {
  return TargetAddresses(target_);
}

std::unique_ptr<StreamTransport> GrpcTransportFactory::MakeTransportPerAddress(std::string path) {
  std::vector<std::shared_ptr<grpc::Channel>> channels;
  for (const std::string& address : Addresses()) {
    auto created = CreateChannels(address, 1, options_);
    // The options were checked when the run's own channels were made (Connect).
    if (created.ok()) channels.push_back(created->front());
  }
  const auto slots = static_cast<uint32_t>(channels.size());
  return std::make_unique<GrpcStreamTransport>(std::move(channels), std::vector{std::move(path)},
                                               slots, /*slot_per_channel=*/true);
}

std::shared_ptr<grpc::Channel> GrpcTransportFactory::channel() const {
  return channels_.empty() ? nullptr : channels_.front();
}

}  // namespace aurigraph::loadgen
