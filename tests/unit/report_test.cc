// Renderers against golden files (fixed result files in tests/golden), and the
// HTML report's structure: self-contained, data embedded safely, every section.
#include "loadgen/report/report.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "loadgen/compare/compare.h"
#include "loadgen/report/compare_report.h"
#include "loadgen/summary/summary.h"

namespace aurigraph::loadgen {
namespace {

const std::string kGoldenDir = GOLDEN_DIR;

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

LoadedResult Fixture(const std::string& name) {
  auto result = ReadResultFile(kGoldenDir + "/" + name);
  EXPECT_TRUE(result.ok()) << result.status();
  return LoadedResult{name, result.ok() ? *result : RunResult{}};
}

// Compares with the golden file; UPDATE_GOLDEN=1 rewrites it instead.
void ExpectGolden(const std::string& actual, const std::string& golden_name) {
  const std::string path = kGoldenDir + "/" + golden_name;
  if (std::getenv("UPDATE_GOLDEN") != nullptr) {
    std::ofstream(path, std::ios::binary | std::ios::trunc) << actual;
    return;
  }
  EXPECT_EQ(actual, ReadFile(path))
      << "differs from " << path << " (UPDATE_GOLDEN=1 regenerates it; review the diff)";
}

// For dashboards and time-series stores: a failing run with errors, and a run
// under a load profile, whose per-interval target follows the profile.
TEST(GoldenReport, IntervalsCsvAndDashboardRows) {
  const std::vector<LoadedResult> runs = {Fixture("degraded.result.json"),
                                          Fixture("ramp.result.json")};
  ExpectGolden(RenderIntervalsCsv(runs), "tables.intervals.csv");
  ExpectGolden(RenderDashboardJson(runs), "tables.summary.json");
}

TEST(GoldenReport, MarkdownSummary) {
  ExpectGolden(RenderMarkdownSummary({Fixture("quickstart.result.json")}), "quickstart.summary.md");
  ExpectGolden(RenderMarkdownSummary({Fixture("degraded.result.json")}), "degraded.summary.md");
}

// What `run` prints at the end of a run, for a clean run, a degraded one
// (errors, slow), and one with webhook deliveries.
TEST(GoldenSummary, PrintedSummary) {
  ExpectGolden(FormatSummary(Fixture("quickstart.result.json").result), "quickstart.summary.txt");
  ExpectGolden(FormatSummary(Fixture("degraded.result.json").result), "degraded.summary.txt");
  ExpectGolden(FormatSummary(Fixture("webhook.result.json").result), "webhook.summary.txt");
  // Streams only, with a warm-up: the measured window's counts beside its rates.
  ExpectGolden(FormatSummary(Fixture("streams.result.json").result), "streams.summary.txt");
  ExpectGolden(FormatSummary(Fixture("ramp.result.json").result), "ramp.summary.txt");
}

TEST(GoldenReport, WebhookDeliveries) {
  // A real run of scenarios/webhook-delivery.yaml with the sink failing 20% of deliveries.
  const LoadedResult run = Fixture("webhook.result.json");
  ASSERT_TRUE(run.result.webhooks);
  EXPECT_EQ(run.result.webhooks->latency->TotalCount(), run.result.webhooks->deliveries);
  ExpectGolden(RenderMarkdownSummary({run}), "webhook.summary.md");
  const std::string html = RenderHtmlReport({run});
  EXPECT_NE(html.find("<h3>Webhook deliveries</h3>"), std::string::npos);
  EXPECT_NE(html.find("<td>15.04s</td>"), std::string::npos);  // the fifth attempt, 1+2+4+8 s late
}

TEST(GoldenReport, Junit) {
  ExpectGolden(RenderJunit({Fixture("quickstart.result.json")}), "quickstart.junit.xml");
  ExpectGolden(RenderJunit({Fixture("degraded.result.json")}), "degraded.junit.xml");
}

TEST(GoldenReport, CompareMarkdown) {
  const LoadedResult baseline = Fixture("quickstart.result.json");
  const LoadedResult candidate = Fixture("degraded.result.json");
  auto comparison = CompareRuns({baseline.result}, {candidate.result}, CompareOptions{});
  ASSERT_TRUE(comparison.ok());
  comparison->baseline_sources = {baseline.source};
  comparison->candidate_sources = {candidate.source};
  EXPECT_TRUE(comparison->regression());
  ExpectGolden(RenderCompareMarkdown(*comparison), "compare.md");
}

TEST(Report, JunitHasOneFailingTestCasePerFailedGate) {
  const std::string xml = RenderJunit({Fixture("degraded.result.json")});
  EXPECT_NE(xml.find("tests=\"4\" failures=\"2\""), std::string::npos) << xml;
  EXPECT_NE(xml.find("name=\"p99 &lt; 5ms [all operations]\""), std::string::npos);
  EXPECT_NE(xml.find("<failure type=\"slo\" message=\"p99 = "), std::string::npos);
}

TEST(Report, HtmlIsSelfContainedWithSafelyEmbeddedData) {
  LoadedResult run = Fixture("degraded.result.json");
  run.result.scenario_name = "</script><b>x</b>";  // hostile names stay text
  const std::string html = RenderHtmlReport({run});
  EXPECT_EQ(html.find("<b>x</b>"), std::string::npos);
  EXPECT_NE(html.find("&lt;/script&gt;&lt;b&gt;x&lt;/b&gt;"), std::string::npos);
  // Nothing is fetched: no external scripts, styles or images.
  EXPECT_EQ(html.find("src=\"http"), std::string::npos);
  EXPECT_EQ(html.find("href=\"http"), std::string::npos);
  const std::string open = "<script type=\"application/json\" id=\"report-data\">";
  const size_t begin = html.find(open);
  ASSERT_NE(begin, std::string::npos);
  const size_t end = html.find("</script>", begin);
  const auto data =
      nlohmann::json::parse(html.substr(begin + open.size(), end - begin - open.size()));
  ASSERT_EQ(data["runs"].size(), 1u);
  const auto& r = data["runs"][0];
  EXPECT_EQ(r["scenario"], "</script><b>x</b>");
  ASSERT_EQ(r["operations"].size(), 2u);
  EXPECT_GT(r["operations"][0]["spectrum"]["corrected"].size(), 20u);
  // The timeline: one point per interval, each operation's series as long.
  const size_t points = run.result.timeline.points.size();
  EXPECT_GE(points, 4u);
  EXPECT_EQ(r["timeline"]["offsets"].size(), points);
  EXPECT_EQ(r["timeline"]["operations"][0]["p99"].size(), points);
  EXPECT_TRUE(r["timeline"]["error_codes"].contains("UNAVAILABLE"));
  for (const char* section : {"SLO gates", "Operations", "Errors by status code", "Load generator",
                              "Charts", "FAIL", "127.0.0.1"}) {
    EXPECT_NE(html.find(section), std::string::npos) << section;
  }
}

TEST(Report, StatusMessagesAreShownMostFrequentFirstAndAsText) {
  LoadedResult run = Fixture("degraded.result.json");
  OperationResult& submit = run.result.operations[0];
  ASSERT_EQ(submit.status_codes.at("UNAVAILABLE"), 30);
  submit.error_messages["UNAVAILABLE"] = CodeMessages{
      {{"<b>overloaded</b>", 12}, {"", 8}, {"connection reset", 5}, {"shard 3 down", 3}}, 2};
  // The summary: the three most frequent, then the rest's count.
  const std::string summary = FormatSummary(run.result);
  EXPECT_NE(summary.find("    codes OK=1087 UNAVAILABLE=30\n"
                         "    error UNAVAILABLE=12 \"<b>overloaded</b>\"\n"
                         "    error UNAVAILABLE=8 (no message)\n"
                         "    error UNAVAILABLE=5 \"connection reset\"\n"
                         "    error UNAVAILABLE=5 (other messages)\n"),
            std::string::npos)
      << summary;
  // The report's errors table: every message kept, as text.
  const std::string html = RenderHtmlReport({run});
  EXPECT_NE(
      html.find("<td class=\"text\">&lt;b&gt;overloaded&lt;/b&gt; (12)<br>(no message) (8)<br>"
                "connection reset (5)<br>shard 3 down (3)<br>other messages (2)</td>"),
      std::string::npos);
  EXPECT_EQ(html.find("<b>overloaded"), std::string::npos);
}

}  // namespace
}  // namespace aurigraph::loadgen
