// Requests whose reply is not their outcome: a transaction is acknowledged when
// accepted but final only once committed, which an event stream tells later.
// The driver tells a tracker what it sent and how each call ended; what the
// tracker learns afterwards, and how, is its own (loadgen/finality).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace aurigraph::loadgen {

// What a tracker knows a sent request by: its items are numbered `first` to
// `first + count - 1` (a batch has many).
struct TrackedRequest {
  uint64_t first = 0;
  uint32_t count = 0;
};

class RequestTracker {
 public:
  virtual ~RequestTracker() = default;
  // A request of `operation` (the driver's numbering) meant at `intended_nanos`,
  // sent at `sent_nanos` with `request` as its bytes.
  virtual TrackedRequest Sent(uint32_t operation, std::string_view request, int64_t intended_nanos,
                              int64_t sent_nanos) = 0;
  // Its call ended at `now_nanos`: OK or not.
  virtual void Answered(TrackedRequest request, bool ok, int64_t now_nanos) = 0;
};

// The keys a message carries in one field: one, or one per element of a
// repeated message on the field's path (every transaction of a batch).
class KeyReader {
 public:
  virtual ~KeyReader() = default;
  // Appends the keys to `keys` (which the caller clears and reuses).
  virtual void ReadKeys(std::string_view message, std::vector<uint64_t>* keys) const = 0;
};

}  // namespace aurigraph::loadgen
