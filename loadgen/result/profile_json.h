// A load profile's corners in JSON, the same in result.json and in the
// interval log: [[offset_seconds, value], ...].
#pragma once

#include <nlohmann/json.hpp>

#include "loadgen/result/run_description.h"

namespace aurigraph::loadgen {

template <typename Json>
void to_json(Json& j, const ProfileCorner& corner) {
  j = Json::array({corner.offset_seconds, corner.value});
}

// Throws nlohmann's exceptions on anything but a pair of numbers.
template <typename Json>
void from_json(const Json& j, ProfileCorner& corner) {
  if (!j.is_array() || j.size() != 2) {
    throw nlohmann::json::type_error::create(302, "a profile corner is [offset, value]", &j);
  }
  corner.offset_seconds = j.at(0).template get<double>();
  corner.value = j.at(1).template get<double>();
}

}  // namespace aurigraph::loadgen
