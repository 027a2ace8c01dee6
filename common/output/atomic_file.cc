#include "common/output/atomic_file.h"

#include <cstdio>
#include <fstream>

#include "absl/strings/str_cat.h"

namespace aurigraph {

absl::Status WriteFileAtomically(const std::string& path, absl::string_view text) {
  const std::string temporary = path + ".tmp";
  {
    std::ofstream out(temporary, std::ios::binary | std::ios::trunc);
    if (!out) return absl::PermissionDeniedError(absl::StrCat(path, ": cannot write"));
    out.write(text.data(), static_cast<std::streamsize>(text.size()));
    if (!out.flush()) return absl::DataLossError(absl::StrCat(path, ": write failed"));
  }
  if (std::rename(temporary.c_str(), path.c_str()) != 0) {
    return absl::DataLossError(absl::StrCat(path, ": cannot rename ", temporary));
  }
  return absl::OkStatus();
}

}  // namespace aurigraph
