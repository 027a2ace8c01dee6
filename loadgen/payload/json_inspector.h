// The stream driver's MessageInspector for JSON text messages (WebSocket): the
// same fields as for protobuf messages, named by dotted member paths
// ("event.sentAtUnixNanos").
#pragma once

#include <memory>

#include "absl/status/statusor.h"
#include "loadgen/interfaces/message_inspector.h"
#include "loadgen/payload/message_fields.h"

namespace aurigraph::loadgen {

// Reads, in a message that parses as JSON:
// - keys: an integer member as its value, a string member by a hash of its text
//   (a request's and a reply's compare when the reply echoes the member as sent);
// - the timestamp and phase start: integers, or strings of digits (protobuf's
//   JSON mapping writes 64-bit integers as strings);
// - the status: a gRPC code number or name ("OK", "ALREADY_EXISTS");
// - phase.when: compared with phase.equals as text.
// A member that is absent reads as nothing, and so does every member of a
// message that turns out not to be JSON before they were all found (a message
// is read only as far as the last member wanted, without building a document).
// INVALID_ARGUMENT for a path that is empty between dots, or a match or phase half given.
absl::StatusOr<std::unique_ptr<MessageInspector>> CompileJsonInspector(const InspectorSpec& spec);

}  // namespace aurigraph::loadgen
