// What the drivers ask of the payload layer: the bytes and metadata of each
// request, and the items a response reports. Implementations know the message
// types; the drivers know none.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>

namespace aurigraph::loadgen {

// One metadata entry (request header).
struct Header {
  std::string_view key;
  std::string_view value;
};

// Where a request sits in the run, for templates that number their messages.
struct RequestContext {
  uint64_t sequence = 0;  // unique within the run for the operation
  uint64_t stream = 0;    // streams: the stream's number within the run
  uint64_t message = 0;   // streams: the message's index within its stream
};

// What a unary request that could not be built completes with: nothing is
// sent, and the call is recorded at once (its latency from the intended send
// time, as for any call) with this status: INVALID_ARGUMENT, the client's own
// argument was invalid. The result also counts such requests, and stream
// messages not built, on their own (generator.request_build_errors), which
// tells them from a server's INVALID_ARGUMENT.
inline constexpr int kRequestNotBuiltStatus = 3;

// Builds the request bytes and metadata for one operation; one instance per
// worker, so it may reuse its buffers: a view stays valid until the next call
// of the same method.
class RequestSource {
 public:
  virtual ~RequestSource() = default;
  // A view with a null data() when this request cannot be built (e.g. a
  // templated value out of its field's range): it is not sent. A stream
  // whose message cannot be built is ended.
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
