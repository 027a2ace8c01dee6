#include "loadgen/result/load_results.h"

#include <algorithm>
#include <filesystem>

#include "absl/strings/match.h"
#include "absl/strings/str_split.h"
#include "loadgen/intervallog/interval_log.h"

namespace aurigraph::loadgen {

absl::StatusOr<std::vector<LoadedResult>> LoadResults(const std::string& spec) {
  std::vector<std::string> paths;
  for (absl::string_view part : absl::StrSplit(spec, ',', absl::SkipEmpty())) {
    const std::string path(part);
    std::error_code ec;
    if (std::filesystem::is_directory(path, ec)) {
      std::vector<std::string> found;
      // A run's own directory is that run, not the runs below it (a split
      // run's processes in worker-K).
      const std::filesystem::path own = std::filesystem::path(path) / "result.json";
      if (std::filesystem::exists(own, ec)) {
        paths.push_back(own.string());
        continue;
      }
      for (const auto& entry : std::filesystem::recursive_directory_iterator(path, ec)) {
        if (entry.is_regular_file() && entry.path().extension() == ".json") {
          found.push_back(entry.path().string());
        }
      }
      std::sort(found.begin(), found.end());
      if (found.empty() &&
          std::filesystem::exists(std::filesystem::path(path) / kIntervalsLogName, ec)) {
        // A run that never finished (killed): what its interval logs hold.
        found.push_back((std::filesystem::path(path) / kIntervalsLogName).string());
      }
      if (found.empty()) {
        return absl::NotFoundError(path + ": no result files (or interval logs) in directory");
      }
      paths.insert(paths.end(), found.begin(), found.end());
    } else {
      paths.push_back(path);
    }
  }
  if (paths.empty()) return absl::InvalidArgumentError("no result file given");
  std::vector<LoadedResult> out;
  for (const std::string& path : paths) {
    auto result = absl::EndsWith(path, ".jsonl")
                      ? RecoverRun(std::filesystem::path(path).parent_path().string())
                      : ReadResultFile(path);
    if (!result.ok()) return result.status();
    out.push_back(LoadedResult{path, *std::move(result)});
  }
  return out;
}

}  // namespace aurigraph::loadgen
