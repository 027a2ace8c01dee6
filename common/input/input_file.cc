#include "common/input/input_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>

#include "absl/strings/str_cat.h"
#include "common/units/units.h"

namespace aurigraph {
namespace {

constexpr size_t kChunkBytes = 64 * 1024;

absl::Status SizeFromEnvironment(const char* variable, int64_t* out) {
  const char* text = std::getenv(variable);
  if (text == nullptr || *text == '\0') return absl::OkStatus();
  auto bytes = ParseBytes(text);
  if (!bytes.ok() || *bytes < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat(variable, "='", text, "': expected a size such as 4GiB"));
  }
  *out = *bytes;
  return absl::OkStatus();
}

absl::Status CannotRead(const std::string& label) {
  return absl::NotFoundError(absl::StrCat(label, ": cannot read"));
}

// Opens `path` for reading and checks a regular file's size against the limits.
absl::StatusOr<int> OpenChecked(const std::string& path, const std::string& label,
                                const InputMeter& meter) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return CannotRead(label);
  struct stat info {};
  if (::fstat(fd, &info) != 0 || S_ISDIR(info.st_mode)) {
    ::close(fd);
    return CannotRead(label);
  }
  if (S_ISREG(info.st_mode)) {
    if (auto checked = meter.CheckSize(info.st_size); !checked.ok()) {
      ::close(fd);
      return checked;
    }
  }
  return fd;
}

// read(2), retried when a signal interrupts it.
ssize_t ReadSome(int fd, char* buffer, size_t size) {
  ssize_t n = 0;
  do {
    n = ::read(fd, buffer, size);
  } while (n < 0 && errno == EINTR);
  return n;
}

}  // namespace

absl::StatusOr<InputLimits> InputLimitsFromEnvironment() {
  InputLimits limits;
  if (auto status = SizeFromEnvironment(kMaxInputSizeVariable, &limits.max_file_bytes);
      !status.ok()) {
    return status;
  }
  if (auto status = SizeFromEnvironment(kMaxLineLengthVariable, &limits.max_line_bytes);
      !status.ok()) {
    return status;
  }
  return limits;
}

absl::Status InputMeter::CheckSize(int64_t file_bytes) const {
  if (file_bytes <= limits_.max_file_bytes) return absl::OkStatus();
  return absl::InvalidArgumentError(
      absl::StrCat(label_, ": larger than ", FormatBytes(limits_.max_file_bytes),
                   ", the input size limit (", kMaxInputSizeVariable, " raises it)"));
}

absl::Status InputMeter::Add(absl::string_view bytes) {
  total_ += static_cast<int64_t>(bytes.size());
  if (auto checked = CheckSize(total_); !checked.ok()) return checked;
  for (size_t pos = 0; pos < bytes.size();) {
    const size_t newline = bytes.find('\n', pos);
    const size_t end = newline == absl::string_view::npos ? bytes.size() : newline;
    line_ += static_cast<int64_t>(end - pos);
    if (line_ > limits_.max_line_bytes) {
      return absl::InvalidArgumentError(absl::StrCat(
          label_, ":", line_number_, ": a line longer than ", FormatBytes(limits_.max_line_bytes),
          ", the line length limit (", kMaxLineLengthVariable, " raises it)"));
    }
    if (newline == absl::string_view::npos) break;
    line_ = 0;
    ++line_number_;
    pos = newline + 1;
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> ReadInputFile(const std::string& path, const std::string& label) {
  auto limits = InputLimitsFromEnvironment();
  if (!limits.ok()) return limits.status();
  InputMeter meter(label, *limits);
  auto fd = OpenChecked(path, label, meter);
  if (!fd.ok()) return fd.status();
  std::string text;
  char chunk[kChunkBytes];
  absl::Status status;
  while (true) {
    const ssize_t n = ReadSome(*fd, chunk, sizeof chunk);
    if (n < 0) status = CannotRead(label);
    if (n <= 0) break;
    status = meter.Add(absl::string_view(chunk, static_cast<size_t>(n)));
    if (!status.ok()) break;
    text.append(chunk, static_cast<size_t>(n));
  }
  ::close(*fd);
  if (!status.ok()) return status;
  return text;
}

absl::StatusOr<LineReader> LineReader::Open(const std::string& path, const std::string& label) {
  auto limits = InputLimitsFromEnvironment();
  if (!limits.ok()) return limits.status();
  InputMeter meter(label, *limits);
  auto fd = OpenChecked(path, label, meter);
  if (!fd.ok()) return fd.status();
  return LineReader(*fd, label, std::move(meter));
}

LineReader::LineReader(int fd, std::string label, InputMeter meter)
    : fd_(fd), label_(std::move(label)), meter_(std::move(meter)) {}

LineReader::LineReader(LineReader&& other) noexcept
    : fd_(other.fd_),
      label_(std::move(other.label_)),
      meter_(std::move(other.meter_)),
      buffer_(std::move(other.buffer_)),
      start_(other.start_),
      eof_(other.eof_),
      complete_(other.complete_) {
  other.fd_ = -1;
}

LineReader::~LineReader() {
  if (fd_ >= 0) ::close(fd_);
}

absl::StatusOr<bool> LineReader::Next(std::string* line) {
  size_t scanned = start_;  // the unread bytes before this hold no newline
  while (true) {
    const size_t newline = buffer_.find('\n', scanned);
    if (newline != std::string::npos) {
      line->assign(buffer_, start_, newline - start_);
      start_ = newline + 1;
      complete_ = true;
      return true;
    }
    if (eof_) {
      if (start_ == buffer_.size()) return false;
      line->assign(buffer_, start_);
      start_ = buffer_.size();
      complete_ = false;
      return true;
    }
    // Keep only the unread part, then read more after it.
    buffer_.erase(0, start_);
    start_ = 0;
    scanned = buffer_.size();
    const size_t old_size = buffer_.size();
    buffer_.resize(old_size + kChunkBytes);
    const ssize_t n = ReadSome(fd_, buffer_.data() + old_size, kChunkBytes);
    if (n < 0) {
      buffer_.resize(old_size);
      return CannotRead(label_);
    }
    buffer_.resize(old_size + static_cast<size_t>(n));
    if (n == 0) {
      eof_ = true;
      continue;
    }
    if (auto checked = meter_.Add(absl::string_view(buffer_).substr(old_size)); !checked.ok()) {
      return checked;
    }
  }
}

}  // namespace aurigraph
