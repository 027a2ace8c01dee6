// Escaping for the text formats reports are written in.
#pragma once

#include <string>

#include "absl/strings/string_view.h"

namespace aurigraph::loadgen {

// For HTML (and XML) element content and attribute values.
std::string HtmlEscape(absl::string_view text);

// For Markdown table cells: characters that would end a cell or start markup.
std::string MarkdownEscape(absl::string_view text);

}  // namespace aurigraph::loadgen
