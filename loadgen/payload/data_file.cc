#include "loadgen/payload/data_file.h"

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "absl/strings/str_cat.h"

namespace aurigraph::loadgen {
namespace {

// SplitMix64's finalizer: spreads consecutive sequence numbers over the records.
uint64_t Mix(uint64_t x) {
  x += 0x9E3779B97F4A7C15ULL;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
  return x ^ (x >> 31);
}

}  // namespace

absl::StatusOr<std::shared_ptr<const DataFile>> DataFile::Load(const std::string& path,
                                                               Order order) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::InvalidArgumentError(absl::StrCat("data file ", path, ": cannot read"));
  std::ostringstream text;
  text << in.rdbuf();
  return Parse(text.str(), path, order);
}

absl::StatusOr<std::shared_ptr<const DataFile>> DataFile::Parse(absl::string_view text,
                                                                const std::string& source,
                                                                Order order) {
  std::shared_ptr<DataFile> file(new DataFile());
  file->source_ = source;
  file->order_ = order;
  size_t line_number = 0;
  size_t first_record_line = 0;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t end = text.find('\n', pos);
    if (end == absl::string_view::npos) end = text.size();
    const absl::string_view line = text.substr(pos, end - pos);
    pos = end + 1;
    ++line_number;
    if (line.find_first_not_of(" \t\r") == absl::string_view::npos) continue;
    const nlohmann::json object =
        nlohmann::json::parse(line.begin(), line.end(), nullptr, /*allow_exceptions=*/false);
    if (object.is_discarded() || !object.is_object()) {
      return absl::InvalidArgumentError(
          absl::StrCat("data file ", source, ":", line_number, ": not a JSON object"));
    }
    const size_t record = file->records_++;
    if (record == 0) first_record_line = line_number;
    for (auto& column : file->columns_) column.emplace_back();
    std::vector<bool> seen(file->names_.size(), false);
    for (auto it = object.begin(); it != object.end(); ++it) {
      size_t column = 0;
      while (column < file->names_.size() && file->names_[column] != it.key()) ++column;
      if (column == file->names_.size()) {
        file->names_.push_back(it.key());
        file->columns_.emplace_back(file->records_);
        // Every earlier record lacks this field.
        file->first_missing_line_.push_back(record == 0 ? 0 : first_record_line);
        seen.push_back(false);
      }
      seen[column] = true;
      file->columns_[column][record] = it->is_string() ? it->get<std::string>() : it->dump();
    }
    for (size_t column = 0; column < seen.size(); ++column) {
      if (!seen[column] && file->first_missing_line_[column] == 0) {
        file->first_missing_line_[column] = line_number;
      }
    }
  }
  if (file->records_ == 0) {
    return absl::InvalidArgumentError(absl::StrCat("data file ", source, ": no records"));
  }
  return std::shared_ptr<const DataFile>(std::move(file));
}

absl::StatusOr<int> DataFile::Column(absl::string_view name) const {
  for (size_t column = 0; column < names_.size(); ++column) {
    if (names_[column] != name) continue;
    if (first_missing_line_[column] != 0) {
      return absl::InvalidArgumentError(absl::StrCat(
          "data file ", source_, ":", first_missing_line_[column], ": no field '", name, "'"));
    }
    return static_cast<int>(column);
  }
  return absl::InvalidArgumentError(
      absl::StrCat("data file ", source_, ": no field '", name, "' in any record"));
}

size_t DataFile::RecordFor(uint64_t sequence, uint64_t seed) const {
  if (order_ == Order::kSequential) return sequence % records_;
  return Mix(sequence ^ Mix(seed)) % records_;
}

}  // namespace aurigraph::loadgen
