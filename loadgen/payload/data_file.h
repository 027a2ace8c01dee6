// Records for the ${data.FIELD} template variables: a file of JSON objects,
// one per line, read once before the run. Each request (or stream) uses one
// record for every ${data.*} variable in its body and metadata, so a line's
// fields stay together (a user and that user's token). Records are taken in
// file order, cycling, or at random; either way the record is a function of
// the request's sequence number, so body and metadata agree without sharing
// state and a run's record mix is reproducible from its seed.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace aurigraph::loadgen {

class DataFile {
 public:
  enum class Order { kSequential, kRandom };

  // Errors name the file and line: unreadable, empty, over an input limit
  // (common/input/input_file.h), a line that is not a JSON object, or more
  // than 1000 distinct fields.
  static absl::StatusOr<std::shared_ptr<const DataFile>> Load(const std::string& path, Order order);
  // `text` is the file's content; `source` names it in errors.
  static absl::StatusOr<std::shared_ptr<const DataFile>> Parse(absl::string_view text,
                                                               const std::string& source,
                                                               Order order);

  size_t records() const { return records_; }
  const std::string& source() const { return source_; }
  // The column of field `name`; an error naming the first line without it.
  absl::StatusOr<int> Column(absl::string_view name) const;
  // The field as text: strings verbatim, other JSON values as JSON.
  const std::string& Text(size_t record, int column) const { return columns_[column][record]; }
  // The record for the request numbered `sequence` in a run seeded with `seed`.
  size_t RecordFor(uint64_t sequence, uint64_t seed) const;

 private:
  DataFile(std::string source, Order order) : source_(std::move(source)), order_(order) {}
  // Adds a line's record (a blank line adds none).
  absl::Status AddLine(absl::string_view line, size_t line_number);
  // The file, or an error when it holds no records.
  static absl::StatusOr<std::shared_ptr<const DataFile>> Finish(std::shared_ptr<DataFile> file);

  std::string source_;
  Order order_ = Order::kSequential;
  size_t records_ = 0;
  size_t first_record_line_ = 0;
  std::vector<std::string> names_;
  std::vector<std::vector<std::string>> columns_;  // [column][record]
  std::vector<size_t> first_missing_line_;         // [column]: 0 = present on every line
};

}  // namespace aurigraph::loadgen
