// Sends pre-serialized requests as gRPC unary calls through the generic stub,
// one completion queue per worker, so any method can be driven without knowing
// its message types. Knows nothing of schedules, histograms or results.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "loadgen/interfaces/channel_options.h"
#include "loadgen/interfaces/transport.h"
#include "loadgen/interfaces/transport_factory.h"

namespace grpc {
class Channel;
}

namespace aurigraph::loadgen {

// The addresses of `target`: a cluster target lists several, separated by
// commas ("127.0.0.1:7001,127.0.0.1:7002"); any other target is one.
std::vector<std::string> TargetAddresses(const std::string& target);

// INVALID_ARGUMENT when `target` ends in a port that is not 1..65535 (gRPC
// would silently use another one) or in no port at all ("host:"), or lists
// an address that is not an IP literal with a port.
absl::Status ValidateTarget(const std::string& target);

// `count` channels to `target`, each its own TCP connection (to each address
// of a list, which a channel's calls go round-robin over). INVALID_ARGUMENT
// naming a TLS file that cannot be read.
absl::StatusOr<std::vector<std::shared_ptr<grpc::Channel>>> CreateChannels(
    const std::string& target, int count, const ChannelOptions& options);

// Waits until every channel is connected; UNAVAILABLE naming the target otherwise.
absl::Status WaitForConnection(const std::vector<std::shared_ptr<grpc::Channel>>& channels,
                               const std::string& target, int64_t timeout_nanos);

// One blocking unary call with pre-serialized bytes; the response's bytes, or its error.
absl::StatusOr<std::string> CallUnary(const std::shared_ptr<grpc::Channel>& channel,
                                      const std::string& path, std::string_view request,
                                      int64_t timeout_nanos);

class GrpcTransport final : public Transport {
 public:
  // Calls go round-robin over `channels`; at most `slots` calls are in flight.
  GrpcTransport(std::vector<std::shared_ptr<grpc::Channel>> channels,
                std::vector<UnaryMethod> methods, uint32_t slots);
  ~GrpcTransport() override;

  void Start(uint32_t slot, uint32_t operation, std::string_view request,
             std::span<const Header> headers) override;
  bool Next(int64_t timeout_nanos, Completion* completion) override;
  // From the first call on, a thread of the transport's own takes completions
  // off the queue as they come and stamps them (steady clock), and Next()
  // hands them over; until then Next() takes them off the queue itself.
  void SleepThrough(int64_t nanos) override;
  void CancelAll() override;
  // Requests and OK responses, with their messages' bytes.
  std::vector<WireTotals> CountsByOperation() const override;

 private:
  struct Call;
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace aurigraph::loadgen
