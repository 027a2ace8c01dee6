#include "common/status_codes/status_message.h"

#include <cstring>

#include "common/input/utf8.h"

namespace aurigraph {
namespace {

constexpr std::string_view kReplacement = "\xef\xbf\xbd";  // U+FFFD
constexpr std::string_view kEllipsis = "\xe2\x80\xa6";     // U+2026, marks a cut message

// The length of the well-formed character at the start of `text`; 0 when it is ill-formed.
size_t CharacterLength(std::string_view text) {
  const auto lead = static_cast<unsigned char>(text[0]);
  const size_t length = lead < 0x80 ? 1 : lead < 0xe0 ? 2 : lead < 0xf0 ? 3 : 4;
  if (length > text.size()) return 0;
  return FirstInvalidUtf8(absl::string_view(text.data(), length)) == length ? length : 0;
}

// C0 and C1 control characters and DEL: they could move a terminal's cursor.
bool IsControl(std::string_view character) {
  const auto lead = static_cast<unsigned char>(character[0]);
  if (character.size() == 1) return lead < 0x20 || lead == 0x7f;
  return lead == 0xc2 && static_cast<unsigned char>(character[1]) < 0xa0;
}

}  // namespace

size_t KeepStatusMessage(std::string_view message, char (&out)[kMaxStatusMessageBytes]) {
  size_t length = 0;
  size_t cut = 0;  // the longest prefix that leaves room for the ellipsis
  for (size_t at = 0; at < message.size();) {
    const size_t in = CharacterLength(message.substr(at));
    std::string_view character = in == 0 ? kReplacement : message.substr(at, in);
    if (in > 0 && IsControl(character)) character = " ";
    if (length + character.size() > kMaxStatusMessageBytes) {
      std::memcpy(out + cut, kEllipsis.data(), kEllipsis.size());
      return cut + kEllipsis.size();
    }
    std::memcpy(out + length, character.data(), character.size());
    length += character.size();
    if (length + kEllipsis.size() <= kMaxStatusMessageBytes) cut = length;
    at += in == 0 ? 1 : in;
  }
  return length;
}

bool IsKeptStatusMessage(std::string_view message) {
  if (message.size() > kMaxStatusMessageBytes) return false;
  char kept[kMaxStatusMessageBytes];
  const size_t length = KeepStatusMessage(message, kept);
  return std::string_view(kept, length) == message;
}

}  // namespace aurigraph
