// Renders a baseline-versus-candidate comparison: an HTML page with both
// latency spectra overlaid per operation (every run, and each side merged) and
// the verdict table, and the same table in Markdown for CI.
#pragma once

#include <string>

#include "loadgen/compare/compare.h"

namespace aurigraph::loadgen {

std::string RenderCompareHtml(const Comparison& comparison);
std::string RenderCompareMarkdown(const Comparison& comparison);

}  // namespace aurigraph::loadgen
