// Streams over WebSocket (RFC 6455, by Boost.Beast): each stream is a
// connection of its own, upgraded at its operation's path with the stream's
// headers, over TLS when the endpoint has it; each message written goes as a
// text message, and each message received is an event. The worker's thread
// runs the connections inside Next.
// Knows nothing of schedules, histograms or results.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "loadgen/interfaces/stream_transport.h"
#include "loadgen/transport/http_transport.h"

namespace aurigraph::loadgen {

// The gRPC status code (as results count them) for the close code a peer
// ended a WebSocket with: 1000 OK; 1001, 1006, 1012, 1013 UNAVAILABLE; 1003,
// 1007 INVALID_ARGUMENT; 1008 PERMISSION_DENIED; 1009 RESOURCE_EXHAUSTED;
// 1002, 1011 INTERNAL; others UNKNOWN.
int GrpcCodeForWebSocketClose(int close_code);

class WebSocketStreamTransport final : public StreamTransport {
 public:
  // Streams of operation i are upgraded at paths[i]; at most `slots` at once.
  // A connection and its upgrade must succeed within `connect_timeout_nanos`.
  WebSocketStreamTransport(HttpEndpoint endpoint, std::vector<std::string> paths, uint32_t slots,
                           int64_t connect_timeout_nanos);
  ~WebSocketStreamTransport() override;

  void Open(uint32_t slot, uint32_t operation, std::span<const Header> headers) override;
  void Write(uint32_t slot, std::string_view message) override;
  // A WebSocket cannot half-close: this starts the closing handshake (1000)
  // once the write in flight is done; messages still coming are dropped.
  void CloseSend(uint32_t slot) override;
  void Cancel(uint32_t slot) override;
  // kClosed carries the peer's close code as a status (GrpcCodeForWebSocketClose);
  // a refused upgrade its HTTP status (GrpcCodeForHttpStatus); a connection
  // that fails or is lost without a close, UNAVAILABLE; a cancelled stream, CANCELLED.
  bool Next(int64_t timeout_nanos, Event* event) override;
  bool HalfCloses() const override { return false; }
  // Per operation: messages written and read, their payloads, and the bytes
  // each connection's socket wrote and read (the upgrade and frame headers
  // included), counted when its stream ends; upgrade answers by HTTP status.
  std::vector<WireTotals> CountsByOperation() const override;

 private:
  struct Stream;
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace aurigraph::loadgen
