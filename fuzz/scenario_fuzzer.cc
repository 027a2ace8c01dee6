// The scenario parser with --set overrides: the input is the YAML text, then
// (after a NUL byte each) the overrides, as "key=value".
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "loadgen/scenario/scenario.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const absl::string_view input(reinterpret_cast<const char*>(data), size);
  std::vector<std::string> parts = absl::StrSplit(input, '\0');
  const std::string yaml = parts.front();
  const std::vector<std::string> overrides(parts.begin() + 1, parts.end());
  auto scenario = aurigraph::loadgen::ParseScenario(yaml, "fuzz.yaml", overrides);
  if (!scenario.ok()) return 0;
  // A valid scenario carries itself and its request templates as JSON.
  if (nlohmann::json::parse(scenario->effective_json, nullptr, false).is_discarded()) {
    __builtin_trap();
  }
  // And its numbers are finite: the run divides and converts them.
  if (!std::isfinite(scenario->rate) || !std::isfinite(scenario->webhook_sink.fail_ratio)) {
    __builtin_trap();
  }
  for (const auto& operation : scenario->operations) {
    if (nlohmann::json::parse(operation.request_json, nullptr, false).is_discarded() ||
        !std::isfinite(operation.weight) || !std::isfinite(operation.stream.open_rate) ||
        !std::isfinite(operation.stream.send_rate)) {
      __builtin_trap();
    }
  }
  return 0;
}
