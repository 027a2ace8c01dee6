#include "loadgen/report/capacity_report.h"

#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/units/units.h"
#include "loadgen/report/escape.h"
#include "loadgen/report/format.h"
#include "loadgen/report/html_page.h"
#include "loadgen/report/spectrum.h"

namespace aurigraph::loadgen {
namespace {

using nlohmann::ordered_json;

std::string StepLatency(const CapacityStep& step, double percentile) {
  const Histogram& h = *CurveFigures(step.result).corrected;
  return h.TotalCount() == 0 ? "-" : Micros(h.ValueAtPercentile(percentile));
}

std::string StepVerdict(const CapacityStep& step) {
  const RunResult& run = step.result;
  if (!run.generator.kept_up) return "generator behind: " + run.generator.verdict;
  std::vector<std::string> broken;
  for (const GateResult& gate : run.gates) {
    if (!gate.passed) broken.push_back(gate.message);
  }
  if (!broken.empty()) return "broke: " + absl::StrJoin(broken, "; ");
  return step.near ? "held, near a limit" : "held";
}

std::string Headline(const CapacityResult& r) {
  return absl::StrCat(r.passed() ? "PASS" : "FAIL", ": capacity of ", r.scenario_name, " against ",
                      r.target);
}

std::string SearchDescription(const CapacityResult& r) {
  return absl::StrCat("SLOs ", absl::StrJoin(r.slos, ", "), "; steps of ", Fixed(r.step_seconds, 1),
                      " s (+", Fixed(r.warmup_seconds, 1), " s warm-up) from ",
                      FormatRate(r.plan.min_rate), ", precision ", Percent(r.plan.precision), ", ",
                      r.plan.confirm_runs, " confirmation runs; ",
                      FormatUnixTime(r.start_unix_nanos), ", aurigraph-loadgen ", r.tool_version);
}

// The latency SLOs (gates on all operations' corrected latency), as lines on the curve.
ordered_json LatencySlos(const CapacityResult& r) {
  ordered_json slos = ordered_json::array();
  if (r.steps.empty()) return slos;
  for (const GateResult& gate : r.steps.front().result.gates) {
    if (gate.unit == "us" && gate.operation.empty() && gate.metric.find('_') == std::string::npos) {
      slos.push_back({{"name", gate.expression}, {"ms", gate.limit / 1000}});
    }
  }
  return slos;
}

ordered_json StepsJson(const CapacityResult& r) {
  ordered_json steps = ordered_json::array();
  for (size_t i = 0; i < r.steps.size(); ++i) {
    const CapacityStep& step = r.steps[i];
    const OperationResult& figures = CurveFigures(step.result);
    const Histogram& h = *figures.corrected;
    const auto ms = [&](double p) {
      return h.TotalCount() ? ordered_json(h.ValueAtPercentile(p) / 1000.0) : ordered_json();
    };
    ordered_json spectrum = ordered_json::array();
    for (const auto& [x, us] : PercentileSpectrum(h)) spectrum.push_back({x, us / 1000.0});
    steps.push_back({{"index", i + 1},
                     {"rate", step.rate},
                     {"achieved", figures.achieved_rate},
                     {"held", step.held},
                     {"kept_up", step.result.generator.kept_up},
                     {"p50", ms(50)},
                     {"p99", ms(99)},
                     {"p99_9", ms(99.9)},
                     {"spectrum", std::move(spectrum)}});
  }
  return steps;
}

ordered_json CurveJson(const CapacityResult& r, const std::string& label) {
  return {{"label", label},
          {"capacity", r.answer.capacity},
          {"broke_at", r.answer.broke_at},
          {"slos", LatencySlos(r)},
          {"steps", StepsJson(r)}};
}

std::string AnswerTable(const CapacityResult& r) {
  const CapacityAnswer& a = r.answer;
  std::string out =
      "<table><tr><th>outcome</th><th>capacity</th><th>broke at</th>"
      "<th>steps</th><th>search time</th></tr><tr>";
  absl::StrAppend(&out, "<td>", CapacityStatusName(a.status), "</td><td>", FormatRate(a.capacity),
                  a.confirmed ? " (confirmed)" : " (unconfirmed)", "</td><td>",
                  a.broke_at > 0 ? absl::StrCat(FormatRate(a.broke_at), " (", a.broke_failures,
                                                " of ", a.broke_runs, " runs)")
                                 : "-",
                  "</td><td>", a.steps, "</td><td>", FormatDuration(a.nanos), "</td></tr></table>");
  return out;
}

std::string StepsTable(const CapacityResult& r) {
  std::string out =
      "<table><tr><th>step</th><th>phase</th><th>rate</th><th>achieved</th><th>p50</th>"
      "<th>p99</th><th>p99.9</th><th>errors</th><th>verdict</th></tr>";
  for (size_t i = 0; i < r.steps.size(); ++i) {
    const CapacityStep& s = r.steps[i];
    absl::StrAppend(&out, "<tr class=\"", s.held ? "pass" : "fail", "\"><td>", i + 1, "</td><td>",
                    StepPhaseName(s.phase), "</td><td>", FormatRate(s.rate), "</td><td>",
                    FormatRate(CurveFigures(s.result).achieved_rate), "</td><td>",
                    StepLatency(s, 50), "</td><td>", StepLatency(s, 99), "</td><td>",
                    StepLatency(s, 99.9), "</td><td>",
                    Percent(CurveFigures(s.result).error_ratio()), "</td><td>",
                    HtmlEscape(StepVerdict(s)), "</td></tr>");
  }
  return out + "</table>";
}

std::string GatesTable(const CapacityResult& r) {
  if (r.gates.empty()) return "";
  std::string out = "<h2>Gates</h2><table><tr><th>gate</th><th>result</th><th></th></tr>";
  for (const GateResult& gate : r.gates) {
    absl::StrAppend(&out, "<tr class=\"", gate.passed ? "pass" : "fail", "\"><td>",
                    HtmlEscape(gate.expression), "</td><td>", gate.passed ? "PASS" : "FAIL",
                    "</td><td>", HtmlEscape(gate.message), "</td></tr>");
  }
  return out + "</table>";
}

}  // namespace

std::string RenderCapacityHtml(const CapacityResult& r) {
  std::string body = absl::StrCat("<h1>", HtmlEscape(Headline(r)), "</h1><p>",
                                  HtmlEscape(DescribeCapacityAnswer(r)), "</p><p class=\"muted\">",
                                  HtmlEscape(SearchDescription(r)), "</p>");
  if (!r.finished) {
    body +=
        "<p><strong>The search did not finish</strong> (killed): its finished steps follow.</p>";
  }
  absl::StrAppend(&body, AnswerTable(r), GatesTable(r),
                  "<h2>Latency against throughput</h2><div id=\"capacity-charts\"></div>",
                  "<h2>Steps</h2>", StepsTable(r));
  ordered_json data = {{"kind", "capacity"}, {"curves", {CurveJson(r, "")}}};
  return RenderPage(Headline(r), body, data.dump());
}

std::string RenderCapacityMarkdown(const CapacityResult& r) {
  std::string out = absl::StrCat("## ", MarkdownEscape(Headline(r)), "\n\n",
                                 MarkdownEscape(DescribeCapacityAnswer(r)), "\n\n",
                                 MarkdownEscape(SearchDescription(r)), "\n\n");
  if (!r.gates.empty()) {
    out += "| gate | result | |\n|---|---|---|\n";
    for (const GateResult& gate : r.gates) {
      absl::StrAppend(&out, "| `", gate.expression, "` | ", gate.passed ? "PASS" : "FAIL", " | ",
                      MarkdownEscape(gate.message), " |\n");
    }
    out += "\n";
  }
  out += "| step | phase | rate | achieved | p50 | p99 | p99.9 | errors | verdict |\n";
  out += "|--:|---|--:|--:|--:|--:|--:|--:|---|\n";
  for (size_t i = 0; i < r.steps.size(); ++i) {
    const CapacityStep& s = r.steps[i];
    absl::StrAppend(&out, "| ", i + 1, " | ", StepPhaseName(s.phase), " | ", FormatRate(s.rate),
                    " | ", FormatRate(CurveFigures(s.result).achieved_rate), " | ",
                    StepLatency(s, 50), " | ", StepLatency(s, 99), " | ", StepLatency(s, 99.9),
                    " | ", Percent(CurveFigures(s.result).error_ratio()), " | ",
                    MarkdownEscape(StepVerdict(s)), " |\n");
  }
  return out;
}

std::string RenderCapacityJunit(const CapacityResult& r, const std::string& source) {
  const std::string suite = HtmlEscape(absl::StrCat("capacity of ", r.scenario_name));
  int failures = Answered(r.answer) ? 0 : 1;
  for (const GateResult& gate : r.gates) failures += gate.passed ? 0 : 1;
  std::string out = absl::StrCat(
      "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites name=\"aurigraph-loadgen\" tests=\"",
      r.gates.size() + 1, "\" failures=\"", failures, "\">\n  <testsuite name=\"", suite,
      "\" tests=\"", r.gates.size() + 1, "\" failures=\"", failures, "\" errors=\"0\" timestamp=\"",
      FormatUnixTime(r.start_unix_nanos), "\" time=\"",
      Fixed(static_cast<double>(r.answer.nanos) / 1e9, 3), "\" hostname=\"", HtmlEscape(r.host),
      "\">\n    <properties>\n");
  for (const auto& [name, value] : {std::pair<const char*, std::string>{"target", r.target},
                                    {"slos", absl::StrJoin(r.slos, ", ")},
                                    {"tool_version", r.tool_version},
                                    {"result_file", source}}) {
    absl::StrAppend(&out, "      <property name=\"", name, "\" value=\"", HtmlEscape(value),
                    "\"/>\n");
  }
  out += "    </properties>\n";
  const auto testcase = [&](const std::string& name, bool passed, const std::string& message) {
    absl::StrAppend(&out, "    <testcase classname=\"", suite, ".capacity\" name=\"",
                    HtmlEscape(name), "\" time=\"0\"");
    if (passed) {
      out += "/>\n";
      return;
    }
    absl::StrAppend(&out, ">\n      <failure type=\"capacity\" message=\"", HtmlEscape(message),
                    "\">", HtmlEscape(message), "</failure>\n    </testcase>\n");
  };
  testcase("the search found the capacity", Answered(r.answer), DescribeCapacityAnswer(r));
  for (const GateResult& gate : r.gates) testcase(gate.expression, gate.passed, gate.message);
  return out + "  </testsuite>\n</testsuites>\n";
}

namespace {

const char* VerdictText(CapacityVerdict verdict) {
  switch (verdict) {
    case CapacityVerdict::kLower:
      return "REGRESSION: lower capacity";
    case CapacityVerdict::kHigher:
      return "higher capacity";
    case CapacityVerdict::kSame:
      return "the same capacity (within the searches' precision and noise)";
    case CapacityVerdict::kInconclusive:
      return "INCONCLUSIVE: a search held at its --max-rate, so its capacity is only a lower "
             "bound";
  }
  return "";
}

// "-49.7% (interval -51.0% .. -48.2%)"; an open end shows as "?".
std::string ChangeText(const CapacityChange& change) {
  const auto percent = [](double ratio) {
    return std::isnan(ratio) ? std::string("?") : absl::StrCat(Fixed(ratio * 100, 1), "%");
  };
  return absl::StrCat(percent(change.change), " (interval ", percent(change.change_low), " .. ",
                      percent(change.change_high), ")");
}

std::string CompareRow(const char* side, const CapacityResult& r) {
  const CapacityAnswer& a = r.answer;
  return absl::StrCat("| ", side, " | ", MarkdownEscape(r.scenario_name), " | ",
                      FormatRate(a.capacity), a.status == CapacityStatus::kAboveMaxRate ? "+" : "",
                      " | ",
                      a.broke_at > 0 ? absl::StrCat(FormatRate(a.broke_at), " (", a.broke_failures,
                                                    "/", a.broke_runs, " runs)")
                                     : "-",
                      " | ", MarkdownEscape(absl::StrJoin(r.slos, ", ")), " | ", a.steps, " |\n");
}

}  // namespace

std::string RenderCapacityCompareMarkdown(const CapacityResult& baseline,
                                          const CapacityResult& candidate,
                                          const CapacityChange& change) {
  std::string out = absl::StrCat("## ", VerdictText(change.verdict), ": ", ChangeText(change), " (",
                                 FormatRate(baseline.answer.capacity), " -> ",
                                 FormatRate(candidate.answer.capacity), ")\n\n");
  out += "| side | scenario | capacity (held in every run) | broke at | SLOs | steps |\n";
  out += "|---|---|--:|--:|---|--:|\n";
  out += CompareRow("baseline", baseline);
  out += CompareRow("candidate", candidate);
  if (baseline.slos != candidate.slos) {
    out +=
        "\n**The two searches used different SLOs**: their capacities answer different "
        "questions.\n";
  }
  return out;
}

std::string RenderCapacityCompareHtml(const CapacityResult& baseline,
                                      const CapacityResult& candidate,
                                      const CapacityChange& change) {
  const std::string title = absl::StrCat("capacity: ", VerdictText(change.verdict));
  std::string body = absl::StrCat(
      "<h1>", HtmlEscape(title), "</h1><p>",
      HtmlEscape(absl::StrCat(ChangeText(change), ": ", DescribeCapacityAnswer(baseline),
                              " (baseline); ", DescribeCapacityAnswer(candidate), " (candidate)")),
      "</p><h2>Baseline</h2>", AnswerTable(baseline), "<h2>Candidate</h2>", AnswerTable(candidate),
      "<h2>Latency against throughput</h2><div id=\"capacity-charts\"></div>");
  ordered_json data = {
      {"kind", "capacity"},
      {"curves", {CurveJson(baseline, "baseline"), CurveJson(candidate, "candidate")}}};
  return RenderPage(title, body, data.dump());
}

}  // namespace aurigraph::loadgen
