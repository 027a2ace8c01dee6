// Reads single fields out of serialized protobuf messages without parsing them:
// a dotted path ("state.created_at_unix_nanos") is resolved against the message
// type once, then each lookup is a scan of the wire bytes. Lets the stream
// driver match bidi replies, read server send stamps and count batch items at
// a few tens of nanoseconds per message, with no allocation.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "loadgen/interfaces/message_inspector.h"
#include "loadgen/interfaces/request_source.h"
#include "loadgen/interfaces/request_tracker.h"

namespace google::protobuf {
class Descriptor;
}

namespace aurigraph::loadgen {

class FieldPath {
 public:
  // Every element but the last must be a singular message field; the last a
  // singular scalar, enum, string or bytes field.
  static absl::StatusOr<FieldPath> Resolve(const google::protobuf::Descriptor& type,
                                           absl::string_view path);

  // The field's integer value (varint, zigzag or fixed), last occurrence wins.
  std::optional<int64_t> ReadInt(std::string_view message) const;
  // A 64-bit key for the field: its integer value, or a hash of its bytes; an
  // absent field reads as its default (proto3 does not send defaults).
  uint64_t ReadKey(std::string_view message) const;
  // The integer for `text` in this field: a number, or an enum value name.
  absl::StatusOr<int64_t> ValueOf(absl::string_view text) const;

 private:
  std::vector<int> numbers_;
  bool zigzag_ = false;
  bool length_delimited_ = false;
  const void* enum_type_ = nullptr;  // google::protobuf::EnumDescriptor
  std::string_view Locate(std::string_view message, int* wire_type) const;
};

// Which response (and request) fields the stream driver reads; empty = unused.
struct InspectorSpec {
  std::string request_key;   // bidi: the request field a reply echoes...
  std::string response_key;  // ...and the reply field that echoes it
  std::string timestamp;     // server send time, Unix nanoseconds
  std::string status;        // per-message gRPC status code
  std::string phase_from;    // phase start, Unix nanoseconds, measured to receipt...
  std::string phase_when;    // ...for messages whose field phase_when...
  std::string phase_equals;  // ...equals this (a number or an enum value name)
};

absl::StatusOr<std::unique_ptr<MessageInspector>> CompileInspector(
    const google::protobuf::Descriptor& request, const google::protobuf::Descriptor& response,
    const InspectorSpec& spec);

// The keys in field `path` of `type` messages (request_tracker.h): the path may
// pass through repeated messages ("transactions.id": one key per transaction)
// and ends at a singular scalar, enum, string or bytes field; keys are as
// FieldPath::ReadKey reads them, so a request's and an event's keys compare.
absl::StatusOr<std::unique_ptr<KeyReader>> CompileKeyReader(
    const google::protobuf::Descriptor& type, absl::string_view path);

// Counts items in a response: the integer value of one field (e.g. BatchResponse.accepted).
absl::StatusOr<std::unique_ptr<ResponseCounter>> CompileResponseCounter(
    const google::protobuf::Descriptor& response, absl::string_view field);

}  // namespace aurigraph::loadgen
