// Renders a capacity search (capacity.json): an HTML report with the
// latency-throughput curve (p50, p99, p99.9 against the achieved rate, the
// latency SLOs as lines, the capacity marked) and each step's percentile
// spectrum; a Markdown summary; JUnit XML (the search's outcome and each
// capacity gate as test cases); and the comparison of two searches.
#pragma once

#include <string>

#include "loadgen/capacity/capacity_result.h"

namespace aurigraph::loadgen {

std::string RenderCapacityHtml(const CapacityResult& result);
std::string RenderCapacityMarkdown(const CapacityResult& result);
std::string RenderCapacityJunit(const CapacityResult& result, const std::string& source);
std::string RenderCapacityCompareMarkdown(const CapacityResult& baseline,
                                          const CapacityResult& candidate,
                                          const CapacityChange& change);
std::string RenderCapacityCompareHtml(const CapacityResult& baseline,
                                      const CapacityResult& candidate,
                                      const CapacityChange& change);

}  // namespace aurigraph::loadgen
