#include "loadgen/report/html_page.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "common/version/version.h"
#include "loadgen/report/escape.h"

namespace aurigraph::loadgen {

extern const char kPageTemplate[];
extern const char kReportCss[];
extern const char kReportJs[];

std::string RenderPage(absl::string_view title, absl::string_view body_html,
                       absl::string_view data_json) {
  // "</" would end the script block early; JSON allows "<\/" for it.
  const std::string data = absl::StrReplaceAll(data_json, {{"</", "<\\/"}});
  const std::string version(aurigraph::kVersion);
  const std::string escaped_title = HtmlEscape(title);
  // Placeholders are replaced in the template only, never inside inserted text.
  const absl::string_view page(kPageTemplate);
  std::string out;
  size_t at = 0;
  while (at < page.size()) {
    const size_t open = page.find('@', at);
    const size_t close = open == absl::string_view::npos ? open : page.find('@', open + 1);
    if (close == absl::string_view::npos) {
      absl::StrAppend(&out, page.substr(at));
      break;
    }
    const absl::string_view name = page.substr(open + 1, close - open - 1);
    absl::string_view value;
    if (name == "TITLE")
      value = escaped_title;
    else if (name == "VERSION")
      value = version;
    else if (name == "CSS")
      value = kReportCss;
    else if (name == "SCRIPT")
      value = kReportJs;
    else if (name == "BODY")
      value = body_html;
    else if (name == "DATA")
      value = data;
    else {
      absl::StrAppend(&out, page.substr(at, close - at));
      at = close;
      continue;
    }
    absl::StrAppend(&out, page.substr(at, open - at));
    absl::StrAppend(&out, value);
    at = close + 1;
  }
  return out;
}

}  // namespace aurigraph::loadgen
