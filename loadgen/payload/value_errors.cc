#include "loadgen/payload/value_errors.h"

#include <google/protobuf/descriptor.h>

#include <nlohmann/json.hpp>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace aurigraph::loadgen {
namespace pb = google::protobuf;
namespace {

// An enum of thousands of values still makes an error of one readable line.
constexpr int kMaxNamesListed = 16;

std::string Describe(const nlohmann::json& value) {
  switch (value.type()) {
    case nlohmann::json::value_t::object:
      return "an object";
    case nlohmann::json::value_t::array:
      return "a list";
    case nlohmann::json::value_t::string:
      return "a string";
    case nlohmann::json::value_t::boolean:
      return value.get<bool>() ? "true" : "false";
    case nlohmann::json::value_t::null:
      return "null";
    default:
      return "a number";
  }
}

absl::Status Expected(const std::string& where, absl::string_view what, const nlohmann::json& got) {
  return absl::InvalidArgumentError(
      absl::StrCat("request field '", where, "': expected ", what, ", got ", Describe(got)));
}

// Timestamps, durations, wrappers and Struct have JSON forms of their own.
bool IsWellKnown(const pb::Descriptor& type) {
  return absl::StartsWith(type.file()->name(), "google/protobuf/");
}

absl::Status ExplainField(const pb::FieldDescriptor& field, const nlohmann::json& value,
                          const std::string& where);

absl::Status ExplainMessage(const pb::Descriptor& type, const nlohmann::json& object,
                            const std::string& where) {
  for (auto it = object.begin(); it != object.end(); ++it) {
    const std::string at = absl::StrCat(where, ".", it.key());
    const pb::FieldDescriptor* field = type.FindFieldByName(it.key());
    if (field == nullptr) field = type.FindFieldByCamelcaseName(it.key());
    if (field == nullptr) {
      return absl::InvalidArgumentError(
          absl::StrCat("unknown field '", at, "' in message ", type.full_name()));
    }
    if (auto explained = ExplainField(*field, *it, at); !explained.ok()) return explained;
  }
  return absl::OkStatus();
}

// One value of the field: the field's own when singular, else an element or a map's value.
absl::Status ExplainElement(const pb::FieldDescriptor& field, const nlohmann::json& value,
                            const std::string& where) {
  if (value.is_null()) return absl::OkStatus();  // the default; protobuf knows where not
  switch (field.cpp_type()) {
    case pb::FieldDescriptor::CPPTYPE_MESSAGE:
      if (IsWellKnown(*field.message_type())) return absl::OkStatus();
      if (!value.is_object()) return Expected(where, "an object", value);
      return ExplainMessage(*field.message_type(), value, where);
    case pb::FieldDescriptor::CPPTYPE_ENUM:
      if (value.is_number()) return absl::OkStatus();
      if (!value.is_string()) {
        return Expected(where, absl::StrCat("a name of ", field.enum_type()->full_name()), value);
      }
      if (field.enum_type()->FindValueByName(value.get<std::string>()) != nullptr) {
        return absl::OkStatus();
      }
      return NotAnEnumValue(value.get<std::string>(), *field.enum_type(), where);
    case pb::FieldDescriptor::CPPTYPE_STRING:
      if (value.is_string()) return absl::OkStatus();
      return Expected(where,
                      field.type() == pb::FieldDescriptor::TYPE_BYTES ? "base64 text" : "a string",
                      value);
    case pb::FieldDescriptor::CPPTYPE_BOOL:
      if (value.is_boolean() || value.is_string()) return absl::OkStatus();
      return Expected(where, "true or false", value);
    default:  // numbers, which protobuf also takes as strings ("123", "NaN")
      if (value.is_number() || value.is_string()) return absl::OkStatus();
      return Expected(where, "a number", value);
  }
}

absl::Status ExplainField(const pb::FieldDescriptor& field, const nlohmann::json& value,
                          const std::string& where) {
  if (value.is_null()) return absl::OkStatus();
  if (field.is_map()) {
    if (!value.is_object()) return Expected(where, "an object", value);
    const pb::FieldDescriptor& value_field = *field.message_type()->map_value();
    for (auto it = value.begin(); it != value.end(); ++it) {
      const std::string at = absl::StrCat(where, "[", it.key(), "]");
      if (auto explained = ExplainElement(value_field, *it, at); !explained.ok()) return explained;
    }
    return absl::OkStatus();
  }
  if (field.is_repeated()) {
    if (!value.is_array()) return Expected(where, "a list", value);
    for (size_t i = 0; i < value.size(); ++i) {
      const std::string at = absl::StrCat(where, "[", i, "]");
      if (auto explained = ExplainElement(field, value[i], at); !explained.ok()) return explained;
    }
    return absl::OkStatus();
  }
  return ExplainElement(field, value, where);
}

}  // namespace

absl::Status NotAnEnumValue(absl::string_view text, const pb::EnumDescriptor& type,
                            absl::string_view where) {
  std::string names;
  for (int i = 0; i < type.value_count() && i < kMaxNamesListed; ++i) {
    absl::StrAppend(&names, i == 0 ? "" : ", ", type.value(i)->name());
  }
  if (type.value_count() > kMaxNamesListed) {
    absl::StrAppend(&names, " and ", type.value_count() - kMaxNamesListed, " more");
  }
  return absl::InvalidArgumentError(
      absl::StrCat("'", text, "' is not a value of ", type.full_name(), where.empty() ? "" : " in ",
                   where, ": expected one of ", names, ", or a number"));
}

absl::Status ExplainMismatch(const pb::FieldDescriptor& field, const nlohmann::json& value,
                             const std::string& where, bool element) {
  return element ? ExplainElement(field, value, where) : ExplainField(field, value, where);
}

}  // namespace aurigraph::loadgen
