// The driver's view of "how to send": start a call in a slot with pre-built
// request bytes, then wait for completions. Implementations own the wire
// protocol (gRPC in production, a scripted fake in tests); the driver owns time.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>

namespace aurigraph::loadgen {

// One gRPC metadata entry (request header).
struct Header {
  std::string_view key;
  std::string_view value;
};

class Transport {
 public:
  struct Completion {
    uint32_t slot = 0;
    int status_code = 0;        // gRPC status code numbering; 0 = OK
    std::string_view response;  // only for operations that keep responses; valid until Next()
  };

  virtual ~Transport() = default;
  // Starts a call for `operation` in `slot` (< the worker's in-flight bound)
  // with `headers` as its metadata; the slot is busy until its completion is
  // returned by Next().
  virtual void Start(uint32_t slot, uint32_t operation, std::string_view request,
                     std::span<const Header> headers) = 0;
  // Waits at most `timeout_nanos` for a completion; false when none arrived.
  virtual bool Next(int64_t timeout_nanos, Completion* completion) = 0;
  // Asks every busy slot to finish now; each still produces a completion.
  virtual void CancelAll() = 0;
};

// Where a request sits in the run, for templates that number their messages.
struct RequestContext {
  uint64_t sequence = 0;  // unique within the run for the operation
  uint64_t stream = 0;    // streams: the stream's number within the run
  uint64_t message = 0;   // streams: the message's index within its stream
};

// Builds the request bytes and metadata for one operation; one instance per
// worker, so it may reuse its buffers: a view stays valid until the next call
// of the same method.
class RequestSource {
 public:
  virtual ~RequestSource() = default;
  virtual std::string_view Build(const RequestContext& context) = 0;
  // The metadata of the request (or, for streams, of the stream) at `context`.
  virtual std::span<const Header> BuildHeaders(const RequestContext& /*context*/) { return {}; }
};

// Counts the items a response reports (e.g. the transactions a batch accepted).
class ResponseCounter {
 public:
  virtual ~ResponseCounter() = default;
  virtual int64_t Count(std::string_view response) const = 0;
};

}  // namespace aurigraph::loadgen
