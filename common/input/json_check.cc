#include "common/input/json_check.h"

#include <cmath>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"

namespace aurigraph {

absl::Status CheckUntrustedJson(const nlohmann::json& json) {
  const double limit = std::ldexp(1.0, 63);  // int64_t holds [-2^63, 2^63)
  // Depth first with a stack of its own: the check must not recurse either.
  std::vector<std::pair<const nlohmann::json*, int>> pending = {{&json, 0}};
  while (!pending.empty()) {
    const auto [node, depth] = pending.back();
    pending.pop_back();
    if (node->is_number_float()) {
      const double value = node->get<double>();
      if (!(value >= -limit && value < limit)) {
        return absl::InvalidArgumentError(absl::StrCat("number ", value, " out of range"));
      }
    } else if (node->is_structured()) {
      if (depth >= kMaxJsonDepth) {
        return absl::InvalidArgumentError(
            absl::StrCat("nested deeper than ", kMaxJsonDepth, " levels"));
      }
      for (const nlohmann::json& child : *node) pending.emplace_back(&child, depth + 1);
    }
  }
  return absl::OkStatus();
}

}  // namespace aurigraph
