// UTF-8 checks for text that ends up in JSON (scenarios, results, interval
// logs): nlohmann::json refuses to write invalid UTF-8 (it throws), so text from
// users is checked where it comes in and rejected with a message naming it.
#pragma once

#include <cstddef>

#include "absl/strings/string_view.h"

namespace aurigraph {

// Well-formed UTF-8 (RFC 3629): no overlong forms, surrogates or code points
// above U+10FFFF.
bool IsValidUtf8(absl::string_view text);

// The offset of the first byte that starts an ill-formed sequence; text.size() if none.
size_t FirstInvalidUtf8(absl::string_view text);

}  // namespace aurigraph
