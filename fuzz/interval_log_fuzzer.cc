// Recovery of a killed run from its interval logs ("report DIR"). The input
// is intervals.jsonl, then (after a NUL byte) latency.hlog; both are written to
// a scratch directory and recovered from there, as the CLI does.
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "absl/strings/string_view.h"
#include "loadgen/intervallog/interval_log.h"
#include "loadgen/result/run_result.h"

namespace {

const std::filesystem::path& ScratchDir() {
  static const std::filesystem::path dir = [] {
    std::string pattern = (std::filesystem::temp_directory_path() / "interval-log-fuzz-XXXXXX");
    if (mkdtemp(pattern.data()) == nullptr) std::abort();
    std::atexit([] { std::filesystem::remove_all(ScratchDir()); });
    return std::filesystem::path(pattern);
  }();
  return dir;
}

void Write(const std::filesystem::path& path, absl::string_view text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(text.data(), static_cast<std::streamsize>(text.size()));
  if (!out.flush()) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const absl::string_view input(reinterpret_cast<const char*>(data), size);
  const size_t split = input.find('\0');
  const absl::string_view intervals = input.substr(0, split);
  const absl::string_view histograms =
      split == absl::string_view::npos ? absl::string_view() : input.substr(split + 1);
  const std::filesystem::path& dir = ScratchDir();
  Write(dir / aurigraph::loadgen::kIntervalsLogName, intervals);
  Write(dir / aurigraph::loadgen::kHistogramLogName, histograms);
  auto result = aurigraph::loadgen::RecoverRun(dir.string());
  if (result.ok()) aurigraph::loadgen::ResultToJson(*result);
  return 0;
}
