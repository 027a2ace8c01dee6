// The stream driver's view of "how to stream": open a stream in a slot, write
// messages one at a time, half-close, cancel, and receive events. Like
// Transport, implementations own the wire protocol and the driver owns time.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>

#include "loadgen/interfaces/request_source.h"
#include "loadgen/result/run_description.h"

namespace aurigraph::loadgen {

class StreamTransport {
 public:
  enum class EventType {
    kOpened,   // ok = false: the stream could not start (a kClosed follows)
    kMessage,  // a message from the server
    kWritten,  // the write in flight finished; ok = false: the stream broke
    kClosed,   // the stream is over (status_code); the slot may be reused
  };
  struct Event {
    EventType type = EventType::kClosed;
    uint32_t slot = 0;
    bool ok = true;
    int status_code = 0;              // kClosed: gRPC status code numbering
    std::string_view message;         // kMessage: valid until the next Next()
    std::string_view status_message;  // kClosed: the status's message; valid until the next Next()
  };

  virtual ~StreamTransport() = default;
  // Starts a stream of `operation` in a free `slot` with `headers` as its
  // metadata; messages are read as they come.
  virtual void Open(uint32_t slot, uint32_t operation, std::span<const Header> headers) = 0;
  // At most one write per slot is in flight; each finishes with kWritten.
  virtual void Write(uint32_t slot, std::string_view message) = 0;
  // Half-closes the send side once the write in flight (if any) has finished.
  // A wire without half-close (WebSocket) closes the whole stream instead.
  virtual void CloseSend(uint32_t slot) = 0;
  // Whether CloseSend leaves the receive side open. When it does not, the
  // driver sends no CloseSend after a server stream's request, and ends a bidi
  // stream only once its messages are answered (or the close timeout passes).
  virtual bool HalfCloses() const { return true; }
  // What went over the wire per operation (result/run_description.h), once
  // the driver is done; empty when the transport does not count.
  virtual std::vector<WireTotals> CountsByOperation() const { return {}; }
  // Ends the stream now; it still produces kClosed.
  virtual void Cancel(uint32_t slot) = 0;
  // Waits at most `timeout_nanos` for an event; false when none arrived.
  virtual bool Next(int64_t timeout_nanos, Event* event) = 0;
};

}  // namespace aurigraph::loadgen
