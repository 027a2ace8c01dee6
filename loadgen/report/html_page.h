// Assembles a self-contained HTML page: the report stylesheet and chart script
// are embedded (no network access is needed to open it) and the figures travel
// as JSON inside the page, which the script draws into SVG charts.
#pragma once

#include <string>

#include "absl/strings/string_view.h"

namespace aurigraph::loadgen {

// `body_html` is trusted markup; `data_json` is embedded as a JSON script block.
std::string RenderPage(absl::string_view title, absl::string_view body_html,
                       absl::string_view data_json);

}  // namespace aurigraph::loadgen
