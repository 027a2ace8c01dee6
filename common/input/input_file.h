// Bounded reading of the files the tools read on a user's behalf (scenarios,
// result files, data files, interval logs, .proto and TLS files). Every file
// is held to two limits, so that /dev/zero, a FIFO or a huge file ends in one
// clear error instead of exhausting memory:
//
//   AURIGRAPH_MAX_INPUT_SIZE   the largest file (default 1GiB)
//   AURIGRAPH_MAX_LINE_LENGTH  the longest line (default 16MiB)
//
// (sizes as ParseBytes reads them: "4GiB", "64MiB"). Reading stops at the
// limit: a regular file over it is refused from its size, before any read.
// Errors name the file (its label, e.g. "data file users.jsonl"), the limit and
// the variable that raises it.
#pragma once

#include <cstdint>
#include <string>
#include <utility>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace aurigraph {

inline constexpr const char* kMaxInputSizeVariable = "AURIGRAPH_MAX_INPUT_SIZE";
inline constexpr const char* kMaxLineLengthVariable = "AURIGRAPH_MAX_LINE_LENGTH";

struct InputLimits {
  int64_t max_file_bytes = int64_t{1} << 30;
  int64_t max_line_bytes = int64_t{16} << 20;
};

// The limits, from the environment where set; an error names a variable that is not a size.
absl::StatusOr<InputLimits> InputLimitsFromEnvironment();

// Counts the bytes of one file as they are read: an error as soon as the file
// or its current line passes a limit.
class InputMeter {
 public:
  InputMeter(std::string label, InputLimits limits) : label_(std::move(label)), limits_(limits) {}
  absl::Status Add(absl::string_view bytes);
  // Checks a size known in advance (a regular file's), before reading it.
  absl::Status CheckSize(int64_t file_bytes) const;

 private:
  std::string label_;
  InputLimits limits_;
  int64_t total_ = 0;
  int64_t line_ = 0;  // bytes of the current line so far
  int64_t line_number_ = 1;
};

// A whole file. Errors: NOT_FOUND "LABEL: cannot read" when it cannot be
// opened or read (or is a directory); INVALID_ARGUMENT naming the limit it passes.
absl::StatusOr<std::string> ReadInputFile(const std::string& path, const std::string& label);

// A file line by line, within the limits.
class LineReader {
 public:
  // Errors as ReadInputFile's.
  static absl::StatusOr<LineReader> Open(const std::string& path, const std::string& label);
  LineReader(LineReader&& other) noexcept;
  LineReader& operator=(LineReader&&) = delete;
  ~LineReader();

  // The next line, without its newline; false at the end of the file.
  absl::StatusOr<bool> Next(std::string* line);
  // Whether the line Next returned last ended with a newline (only a file's
  // last line may lack one, e.g. when its writer was killed mid-line).
  bool complete() const { return complete_; }

 private:
  LineReader(int fd, std::string label, InputMeter meter);

  int fd_;
  std::string label_;
  InputMeter meter_;
  std::string buffer_;
  size_t start_ = 0;  // of the unread part of buffer_
  bool eof_ = false;
  bool complete_ = true;
};

}  // namespace aurigraph
