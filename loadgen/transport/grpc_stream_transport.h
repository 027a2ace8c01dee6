// Drives gRPC streams of any kind through the generic stub: on the wire every
// streaming RPC is a bidirectional call, so one implementation serves server,
// client and bidi streaming. One completion queue per worker; many streams
// share each channel's HTTP/2 connection.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "loadgen/interfaces/stream_transport.h"

namespace grpc {
class Channel;
}

namespace aurigraph::loadgen {

class GrpcStreamTransport final : public StreamTransport {
 public:
  // `paths[operation]` is "/package.Service/Method"; streams open round-robin
  // over `channels`, or with `slot_per_channel` slot i always on channel i.
  GrpcStreamTransport(std::vector<std::shared_ptr<grpc::Channel>> channels,
                      std::vector<std::string> paths, uint32_t slots,
                      bool slot_per_channel = false);
  ~GrpcStreamTransport() override;

  void Open(uint32_t slot, uint32_t operation, std::span<const Header> headers) override;
  void Write(uint32_t slot, std::string_view message) override;
  void CloseSend(uint32_t slot) override;
  void Cancel(uint32_t slot) override;
  bool Next(int64_t timeout_nanos, Event* event) override;
  // Per operation: messages written and read, and their serialized bytes
  // (HTTP/2 framing is the library's, not seen: whole bytes are -1 here; the
  // factory's ConnectionBytesSinceMark counts them for the run).
  std::vector<WireTotals> CountsByOperation() const override;

 private:
  struct Stream;
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace aurigraph::loadgen
