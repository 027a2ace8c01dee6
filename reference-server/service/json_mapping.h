// The protos' canonical JSON mapping, as the REST gateway and the WebSocket
// channel read and write messages (protobuf's JsonStringToMessage and
// MessageToJsonString: lowerCamelCase names out, either form in, unknown
// fields refused, 64-bit integers as strings).
#pragma once

#include <google/protobuf/util/json_util.h>

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"

namespace aurigraph::refserver {

// INVALID_ARGUMENT naming `what` ("body") when `json` is not a `Message`.
template <typename Message>
absl::Status FromJson(const std::string& json, Message* message, const char* what = "body") {
  google::protobuf::util::JsonParseOptions options;
  options.ignore_unknown_fields = false;
  const auto parsed = google::protobuf::util::JsonStringToMessage(json, message, options);
  if (!parsed.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(what, ": not a ", Message::descriptor()->name(),
                                                   " in JSON: ", parsed.message().as_string()));
  }
  return absl::OkStatus();
}

template <typename Message>
absl::StatusOr<std::string> ToJson(const Message& message) {
  std::string out;
  if (!google::protobuf::util::MessageToJsonString(message, &out).ok()) {
    return absl::InternalError("the response cannot be written as JSON");
  }
  return out;
}

}  // namespace aurigraph::refserver
