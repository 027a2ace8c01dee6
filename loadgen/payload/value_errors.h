// Errors in plain words for request values that do not fit their protobuf
// field. Protobuf's JSON parser says e.g. "invalid value Starting an object on
// a scalar field" without naming the field; these name the field and say what
// it takes ("request field 'amount': expected a number, got an object").
#pragma once

#include <nlohmann/json_fwd.hpp>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace google::protobuf {
class EnumDescriptor;
class FieldDescriptor;
}  // namespace google::protobuf

namespace aurigraph::loadgen {

// `text` is neither a name of `type` nor a number: the error lists the names.
// `where` is the field's path (empty: left out).
absl::Status NotAnEnumValue(absl::string_view text, const google::protobuf::EnumDescriptor& type,
                            absl::string_view where);

// Why `value` does not fit `field` (`where` is its path; `element`: one element
// of a repeated field, or a map's value), naming the field at fault within it.
// OK when the value's shape fits, and only protobuf's parser knows what is wrong.
absl::Status ExplainMismatch(const google::protobuf::FieldDescriptor& field,
                             const nlohmann::json& value, const std::string& where, bool element);

}  // namespace aurigraph::loadgen
