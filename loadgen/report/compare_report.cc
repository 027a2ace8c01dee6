#include "loadgen/report/compare_report.h"

#include <cmath>
#include <cstdio>
#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/units/units.h"
#include "loadgen/report/escape.h"
#include "loadgen/report/html_page.h"
#include "loadgen/report/spectrum.h"

namespace aurigraph::loadgen {
namespace {

using nlohmann::ordered_json;

std::string Signed(double ratio) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%+.1f%%", ratio * 100);
  return buf;
}

std::string Value(const MetricComparison& m, double value) {
  char buf[64];
  if (m.unit == "us") return FormatDuration(static_cast<int64_t>(std::llround(value * 1000)));
  if (m.unit == "ratio") {
    std::snprintf(buf, sizeof buf, "%.3f%%", value * 100);
  } else {
    std::snprintf(buf, sizeof buf, "%.0f/s", value);
  }
  return buf;
}

// Relative metrics show a relative change; error_ratio an absolute one.
std::string ChangeText(const MetricComparison& m, double change) {
  if (m.unit != "ratio") return Signed(change);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%+.3f pp", change * 100);
  return buf;
}

std::string Evidence(const MetricComparison& m) {
  if (!m.noise_aware) {
    const std::string runs = absl::StrCat(m.baseline.size(), " vs ", m.candidate.size(),
                                          " run(s): no run-to-run noise estimate");
    if (!m.has_sampling_interval) return runs + ", threshold only";
    return absl::StrCat(runs, "; sampling 95% intervals ", Value(m, m.baseline_low), " .. ",
                        Value(m, m.baseline_high), " vs ", Value(m, m.candidate_low), " .. ",
                        Value(m, m.candidate_high));
  }
  char p[64];
  if (m.verdict == Verdict::kSame) {
    std::snprintf(p, sizeof p, "p = %.3g", m.p_value);
  } else {
    std::snprintf(p, sizeof p, "p = %.3g, adjusted %.3g", m.p_value, m.adjusted_p_value);
  }
  return absl::StrCat("95% CI ", ChangeText(m, m.change_low), " .. ", ChangeText(m, m.change_high),
                      ", Mann-Whitney ", p, " (", m.baseline.size(), " vs ", m.candidate.size(),
                      " runs)");
}

std::string Threshold(const MetricComparison& m) {
  return m.unit == "ratio" ? ChangeText(m, m.threshold).substr(1) : Signed(m.threshold).substr(1);
}

std::string VerdictClass(Verdict verdict) {
  switch (verdict) {
    case Verdict::kRegression:
    case Verdict::kMissing:
      return "fail";
    case Verdict::kImprovement:
      return "pass";
    default:
      return "";
  }
}

ordered_json Spectrum(const std::shared_ptr<Histogram>& h) {
  ordered_json points = ordered_json::array();
  if (!h) return points;
  for (const auto& [x, value] : PercentileSpectrum(*h)) {
    points.push_back({std::round(x * 1000) / 1000, value});
  }
  return points;
}

std::string MissingText(const OperationComparison& op) {
  if (op.missing_in_candidate) return "missing from a candidate run";
  if (op.missing_in_baseline) return "missing from a baseline run";
  return "";
}

}  // namespace

std::string RenderCompareHtml(const Comparison& c) {
  std::string body = absl::StrCat(
      "<h1>aurigraph-loadgen comparison <span class=\"verdict ",
      c.regression() ? "fail\">REGRESSION" : "pass\">NO REGRESSION", "</span></h1>",
      "<dl class=\"provenance\"><dt>baseline</dt><dd>",
      HtmlEscape(absl::StrJoin(c.baseline_sources, ", ")), "</dd><dt>candidate</dt><dd>",
      HtmlEscape(absl::StrJoin(c.candidate_sources, ", ")), "</dd></dl>",
      "<p class=\"note\">Each metric compares the median over runs. With at least 3 runs per "
      "side a change beyond its threshold counts only when a one-sided Mann-Whitney test over "
      "the runs, adjusted (Benjamini-Hochberg) across every metric that moved, gives p &lt;= ",
      c.options.alpha,
      "; with fewer, a latency percentile counts only when the two sides' 95% sampling "
      "intervals do not overlap. Otherwise the change is reported as within noise. A single "
      "run per side says nothing about run-to-run noise: repeat runs for a verdict that "
      "does.</p>");
  for (const std::string& note : c.notes) {
    absl::StrAppend(&body, "<p class=\"fail\">Note: ", HtmlEscape(note), "</p>");
  }
  ordered_json data = {{"kind", "compare"}, {"operations", ordered_json::array()}};
  for (size_t i = 0; i < c.operations.size(); ++i) {
    const OperationComparison& op = c.operations[i];
    absl::StrAppend(&body, "<h2>", HtmlEscape(op.name), " <span class=\"note\">(",
                    HtmlEscape(op.kind), ")</span></h2>");
    if (!MissingText(op).empty()) {
      absl::StrAppend(&body, "<p class=\"fail\">", MissingText(op), "</p>");
    }
    if (!op.metrics.empty()) {
      body +=
          "<table><tr><th class=\"text\">metric</th><th>baseline</th><th>candidate</th>"
          "<th>change</th><th>threshold</th><th class=\"text\">verdict</th>"
          "<th class=\"text\">evidence</th></tr>";
      for (const MetricComparison& m : op.metrics) {
        absl::StrAppend(&body, "<tr><td class=\"text\">", m.metric, "</td><td>",
                        Value(m, m.baseline_median), "</td><td>", Value(m, m.candidate_median),
                        "</td><td>", ChangeText(m, m.change), "</td><td>", Threshold(m),
                        "</td><td class=\"text ", VerdictClass(m.verdict), "\">",
                        VerdictName(m.verdict), "</td><td class=\"text\">", HtmlEscape(Evidence(m)),
                        "</td></tr>");
      }
      body += "</table>";
    }
    absl::StrAppend(&body, "<div class=\"charts\" id=\"compare-charts-", i, "\"></div>");
    ordered_json baseline_runs = ordered_json::array(), candidate_runs = ordered_json::array();
    for (const auto& h : op.baseline_runs) baseline_runs.push_back(Spectrum(h));
    for (const auto& h : op.candidate_runs) candidate_runs.push_back(Spectrum(h));
    data["operations"].push_back({{"name", op.name},
                                  {"baseline", Spectrum(op.baseline_latency)},
                                  {"candidate", Spectrum(op.candidate_latency)},
                                  {"baseline_runs", baseline_runs},
                                  {"candidate_runs", candidate_runs}});
  }
  return RenderPage("aurigraph-loadgen comparison", body, data.dump());
}

std::string RenderCompareMarkdown(const Comparison& c) {
  std::string out =
      absl::StrCat("## ", c.regression() ? "REGRESSION" : "No regression",
                   ": candidate vs baseline\n\n", c.baseline_sources.size(), " baseline run(s), ",
                   c.candidate_sources.size(), " candidate run(s); medians over runs.\n\n");
  for (const std::string& note : c.notes) {
    absl::StrAppend(&out, "**Note:** ", MarkdownEscape(note), "\n\n");
  }
  out +=
      "| operation | metric | baseline | candidate | change | threshold | verdict | evidence |\n";
  out += "|---|---|--:|--:|--:|--:|---|---|\n";
  for (const OperationComparison& op : c.operations) {
    if (!MissingText(op).empty()) {
      absl::StrAppend(&out, "| ", MarkdownEscape(op.name), " | - | | | | | **missing** | ",
                      MissingText(op), " |\n");
    }
    for (const MetricComparison& m : op.metrics) {
      const bool regression = m.verdict == Verdict::kRegression;
      absl::StrAppend(&out, "| ", MarkdownEscape(op.name), " | ", MarkdownEscape(m.metric), " | ",
                      Value(m, m.baseline_median), " | ", Value(m, m.candidate_median), " | ",
                      ChangeText(m, m.change), " | ", Threshold(m), " | ", regression ? "**" : "",
                      VerdictName(m.verdict), regression ? "**" : "", " | ", Evidence(m), " |\n");
    }
  }
  return out;
}

}  // namespace aurigraph::loadgen
