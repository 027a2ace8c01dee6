#include "loadgen/recorder/error_messages.h"

#include <algorithm>

#include "absl/strings/str_cat.h"

namespace aurigraph::loadgen {
namespace {

bool MoreFrequent(const ErrorMessages::Entry& a, const ErrorMessages::Entry& b) {
  return a.count != b.count ? a.count > b.count : a.message < b.message;
}

}  // namespace

void ErrorMessages::Record(int code, std::string_view message) {
  char buffer[kMaxStatusMessageBytes];
  const std::string_view kept(buffer, KeepStatusMessage(message, buffer));
  Code& c = codes_[code];
  for (Entry& entry : c.kept) {
    if (entry.message == kept) {
      ++entry.count;
      return;
    }
  }
  if (c.kept.size() < kMaxStatusMessagesPerCode) {
    c.kept.push_back(Entry{std::string(kept), 1});
  } else {
    ++c.other;
  }
}

void ErrorMessages::Merge(const ErrorMessages& other) {
  for (int code = 0; code < kStatusCodeCount; ++code) {
    Code& to = codes_[code];
    const Code& from = other.codes_[code];
    to.other += from.other;
    for (const Entry& entry : from.kept) {
      const auto same = std::find_if(to.kept.begin(), to.kept.end(),
                                     [&](const Entry& e) { return e.message == entry.message; });
      if (same != to.kept.end()) {
        same->count += entry.count;
      } else {
        to.kept.push_back(entry);
      }
    }
    if (to.kept.size() <= kMaxStatusMessagesPerCode) continue;
    std::sort(to.kept.begin(), to.kept.end(), MoreFrequent);
    for (size_t i = kMaxStatusMessagesPerCode; i < to.kept.size(); ++i) {
      to.other += to.kept[i].count;
    }
    to.kept.resize(kMaxStatusMessagesPerCode);
  }
}

void ErrorMessages::Reset() {
  for (Code& c : codes_) {
    c.kept.clear();
    c.other = 0;
  }
}

bool ErrorMessages::empty() const {
  return std::all_of(codes_.begin(), codes_.end(),
                     [](const Code& c) { return c.kept.empty() && c.other == 0; });
}

std::vector<ErrorMessages::Entry> ErrorMessages::Top(int code) const {
  std::vector<Entry> top = codes_[code].kept;
  std::sort(top.begin(), top.end(), MoreFrequent);
  return top;
}

int64_t ErrorMessages::total(int code) const {
  int64_t total = codes_[code].other;
  for (const Entry& entry : codes_[code].kept) total += entry.count;
  return total;
}

absl::Status ErrorMessages::Add(int code, std::string message, int64_t count) {
  Code& c = codes_[code];
  const char* problem = nullptr;
  if (!IsKeptStatusMessage(message)) {
    problem = "a message not as kept (too long, not UTF-8, or with control characters)";
  } else if (count < 1) {
    problem = "a message counted less than once";
  } else if (c.kept.size() == kMaxStatusMessagesPerCode) {
    problem = "more messages than are kept";
  } else if (std::any_of(c.kept.begin(), c.kept.end(),
                         [&](const Entry& e) { return e.message == message; })) {
    problem = "a message listed twice";
  }
  if (problem != nullptr) {
    return absl::InvalidArgumentError(absl::StrCat(StatusCodeName(code), ": ", problem));
  }
  c.kept.push_back(Entry{std::move(message), count});
  return absl::OkStatus();
}

}  // namespace aurigraph::loadgen
