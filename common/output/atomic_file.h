// Writes a whole file so that a reader never sees half of it: the text goes to
// a temporary name beside the file, which then replaces it in one rename.
#pragma once

#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace aurigraph {

// PERMISSION_DENIED when the file cannot be created, DATA_LOSS when a write or
// the rename fails; each names `path`.
absl::Status WriteFileAtomically(const std::string& path, absl::string_view text);

}  // namespace aurigraph
