// The status messages of failed calls, per status code: up to
// kMaxStatusMessagesPerCode distinct messages with their counts, and the count
// of the others ("other"), whatever a target answers. Messages are kept as
// common/status_codes/status_message.h says (cut, one line, UTF-8).
//
// Counts are exact: every failed call recorded is counted once, under its
// message or under other. Merging adds the counts of equal messages; when more
// distinct messages meet than the bound holds, the most frequent stay (ties:
// the smaller text) and the others' counts go to other. The outcome depends
// only on what is merged and in which order, never on how it is stored, so a
// run rebuilt from its interval logs keeps exactly the live run's messages.
// While a code has no more distinct messages than the bound, every one is kept
// whatever the order.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "common/status_codes/status_codes.h"
#include "common/status_codes/status_message.h"

namespace aurigraph::loadgen {

class ErrorMessages {
 public:
  struct Entry {
    std::string message;
    int64_t count = 0;
  };

  // A failed call with status `code` (1..16) and `message` as the target sent
  // it. Allocates only for a message not yet kept (at most the bound per code).
  void Record(int code, std::string_view message);
  // Another contributor's messages, or a later interval's.
  void Merge(const ErrorMessages& other);
  void Reset();
  bool empty() const;

  // The messages kept for `code`, most frequent first (ties: by text).
  std::vector<Entry> Top(int code) const;
  // Failed calls with `code` whose message is not kept.
  int64_t other(int code) const { return codes_[code].other; }
  // Failed calls with `code`: the kept messages' counts and other.
  int64_t total(int code) const;

  // What was written of a code, read back (interval logs): `message` must be as
  // kept, new for `code`, within the bound, and `count` at least 1. Counts are
  // the caller's to bound.
  absl::Status Add(int code, std::string message, int64_t count);
  void AddOther(int code, int64_t count) { codes_[code].other += count; }

 private:
  struct Code {
    std::vector<Entry> kept;  // distinct messages, in no particular order
    int64_t other = 0;
  };
  std::array<Code, kStatusCodeCount> codes_;
};

}  // namespace aurigraph::loadgen
