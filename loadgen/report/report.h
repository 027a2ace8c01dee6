// Renders saved results, never live state, into the files a run is read
// through afterwards: a self-contained HTML report with charts, a compact
// Markdown summary (CI job summaries, pull-request comments) and JUnit XML
// with one test case per SLO gate, so CI systems show gates as tests; and for
// dashboards and time-series stores, the intervals as CSV and the headline
// figures as flat JSON rows.
#pragma once

#include <string>
#include <vector>

#include "loadgen/result/run_result.h"

namespace aurigraph::loadgen {

std::string RenderHtmlReport(const std::vector<LoadedResult>& runs);
std::string RenderMarkdownSummary(const std::vector<LoadedResult>& runs);
std::string RenderJunit(const std::vector<LoadedResult>& runs);
// One row per interval and operation (warm-up included and marked): counts,
// rate and its target, latency percentiles (us; empty where nothing was
// timed), and the run's sends and schedule lag in that interval.
std::string RenderIntervalsCsv(const std::vector<LoadedResult>& runs);
// A JSON array of flat rows, one per run and operation (and the unary total
// when there are several): verdict, counts, rate, latency in ms.
std::string RenderDashboardJson(const std::vector<LoadedResult>& runs);

}  // namespace aurigraph::loadgen
