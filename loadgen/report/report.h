// Renders saved results, never live state, into the files a run is read
// through afterwards: a self-contained HTML report with charts, a compact
// Markdown summary (CI job summaries, pull-request comments) and JUnit XML
// with one test case per SLO gate, so CI systems show gates as tests.
#pragma once

#include <string>
#include <vector>

#include "loadgen/result/run_result.h"

namespace aurigraph::loadgen {

std::string RenderHtmlReport(const std::vector<LoadedResult>& runs);
std::string RenderMarkdownSummary(const std::vector<LoadedResult>& runs);
std::string RenderJunit(const std::vector<LoadedResult>& runs);

}  // namespace aurigraph::loadgen
