#include "loadgen/payload/data_file.h"

#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"
#include "common/input/input_file.h"
#include "common/input/json_check.h"

namespace aurigraph::loadgen {
namespace {

// SplitMix64's finalizer: spreads consecutive sequence numbers over the records.
uint64_t Mix(uint64_t x) {
  x += 0x9E3779B97F4A7C15ULL;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
  return x ^ (x >> 31);
}

constexpr size_t kMaxFields = 1000;

}  // namespace

absl::StatusOr<std::shared_ptr<const DataFile>> DataFile::Load(const std::string& path,
                                                               Order order) {
  auto lines = LineReader::Open(path, absl::StrCat("data file ", path));
  if (!lines.ok()) return absl::InvalidArgumentError(lines.status().message());
  std::shared_ptr<DataFile> file(new DataFile(path, order));
  std::string line;
  for (size_t line_number = 1;; ++line_number) {
    auto read = lines->Next(&line);
    if (!read.ok()) return absl::InvalidArgumentError(read.status().message());
    if (!*read) break;
    if (auto added = file->AddLine(line, line_number); !added.ok()) return added;
  }
  return Finish(std::move(file));
}

absl::StatusOr<std::shared_ptr<const DataFile>> DataFile::Parse(absl::string_view text,
                                                                const std::string& source,
                                                                Order order) {
  std::shared_ptr<DataFile> file(new DataFile(source, order));
  size_t line_number = 0;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t end = text.find('\n', pos);
    if (end == absl::string_view::npos) end = text.size();
    if (auto added = file->AddLine(text.substr(pos, end - pos), ++line_number); !added.ok()) {
      return added;
    }
    pos = end + 1;
  }
  return Finish(std::move(file));
}

absl::StatusOr<std::shared_ptr<const DataFile>> DataFile::Finish(std::shared_ptr<DataFile> file) {
  if (file->records_ == 0) {
    return absl::InvalidArgumentError(absl::StrCat("data file ", file->source_, ": no records"));
  }
  return std::shared_ptr<const DataFile>(std::move(file));
}

absl::Status DataFile::AddLine(absl::string_view line, size_t line_number) {
  if (line.find_first_not_of(" \t\r") == absl::string_view::npos) return absl::OkStatus();
  const nlohmann::json object =
      nlohmann::json::parse(line.begin(), line.end(), nullptr, /*allow_exceptions=*/false);
  if (object.is_discarded() || !object.is_object()) {
    return absl::InvalidArgumentError(
        absl::StrCat("data file ", source_, ":", line_number, ": not a JSON object"));
  }
  if (auto checked = CheckUntrustedJson(object); !checked.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("data file ", source_, ":", line_number, ": ", checked.message()));
  }
  const size_t record = records_++;
  if (record == 0) first_record_line_ = line_number;
  for (auto& column : columns_) column.emplace_back();
  std::vector<bool> seen(names_.size(), false);
  for (auto it = object.begin(); it != object.end(); ++it) {
    size_t column = 0;
    while (column < names_.size() && names_[column] != it.key()) ++column;
    if (column == names_.size()) {
      // Each field is a column over every record: many distinct fields would
      // take memory quadratic in the file's length.
      if (names_.size() == kMaxFields) {
        return absl::InvalidArgumentError(absl::StrCat("data file ", source_, ":", line_number,
                                                       ": more than ", kMaxFields,
                                                       " distinct fields"));
      }
      names_.push_back(it.key());
      columns_.emplace_back(records_);
      // Every earlier record lacks this field.
      first_missing_line_.push_back(record == 0 ? 0 : first_record_line_);
      seen.push_back(false);
    }
    seen[column] = true;
    columns_[column][record] = it->is_string() ? it->get<std::string>() : it->dump();
  }
  for (size_t column = 0; column < seen.size(); ++column) {
    if (!seen[column] && first_missing_line_[column] == 0)
      first_missing_line_[column] = line_number;
  }
  return absl::OkStatus();
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
