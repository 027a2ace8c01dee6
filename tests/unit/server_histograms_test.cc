// server_metrics: histograms read from a target's Prometheus exposition, what
// was observed between two reads, their quantiles as bucket bounds, result.json,
// gates and the scenario section. The exposition text of the parsing tests is
// written by prometheus-cpp's own TextSerializer (an independent encoder).
#include <gtest/gtest.h>
#include <prometheus/client_metric.h>
#include <prometheus/histogram.h>
#include <prometheus/metric_family.h>
#include <prometheus/text_serializer.h>

#include <cmath>
#include <limits>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "loadgen/gates/gates.h"
#include "loadgen/histogram/latency.h"
#include "loadgen/result/run_result.h"
#include "loadgen/scenario/scenario.h"
#include "loadgen/servermetrics/prometheus_histogram.h"

namespace aurigraph::loadgen {
namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();
constexpr const char* kMetric = "raft_rpc_duration_seconds";

// One histogram series, filled by prometheus-cpp's own Histogram.
prometheus::ClientMetric Series(const std::vector<double>& bounds,
                                const std::vector<double>& observations,
                                const std::vector<prometheus::ClientMetric::Label>& labels) {
  prometheus::Histogram histogram(bounds);
  for (double v : observations) histogram.Observe(v);
  prometheus::ClientMetric metric = histogram.Collect();
  metric.label = labels;
  return metric;
}

std::string Serialize(const std::vector<prometheus::MetricFamily>& families) {
  std::ostringstream out;
  prometheus::TextSerializer().Serialize(out, families);
  return out.str();
}

const std::vector<double> kBounds = {0.001, 0.005, 0.01, 0.05};

// Two labelled series of raft_rpc_duration_seconds, a counter and another
// histogram whose names start with it, and an unrelated gauge.
std::string RaftExposition() {
  prometheus::MetricFamily histogram{
      kMetric, "RPC round trips", prometheus::MetricType::Histogram, {}};
  // AppendEntries: 3 <= 1ms, 4 in (1ms, 5ms], 2 in (5ms, 10ms], 1 above 50ms.
  histogram.metric.push_back(
      Series(kBounds, {0.0005, 0.0005, 0.0005, 0.003, 0.003, 0.003, 0.003, 0.007, 0.007, 0.2},
             {{"node", "n1"}, {"rpc", "AppendEntries"}}));
  // RequestVote: 3 in (10ms, 50ms].
  histogram.metric.push_back(
      Series(kBounds, {0.02, 0.02, 0.04}, {{"node", "n1"}, {"rpc", "RequestVote"}}));

  prometheus::MetricFamily counter{
      std::string(kMetric) + "_total", "RPCs sent", prometheus::MetricType::Counter, {}};
  prometheus::ClientMetric sent;
  sent.label = {{"node", "n1"}, {"rpc", "AppendEntries"}};
  sent.counter.value = 99;
  counter.metric.push_back(sent);

  prometheus::MetricFamily slow{
      std::string(kMetric) + "_slow", "slow RPCs", prometheus::MetricType::Histogram, {}};
  slow.metric.push_back(
      Series({0.5, 1}, {0.7, 0.7, 0.7, 0.7}, {{"node", "n1"}, {"rpc", "AppendEntries"}}));

  prometheus::MetricFamily gauge{"raft_term", "the term", prometheus::MetricType::Gauge, {}};
  prometheus::ClientMetric term;
  term.gauge.value = 7;
  gauge.metric.push_back(term);
  return Serialize({counter, histogram, slow, gauge});
}

// The reading's cumulative counts in bound order.
std::vector<std::pair<double, double>> Buckets(const HistogramReading& reading) {
  return {reading.cumulative.begin(), reading.cumulative.end()};
}

using BucketList = std::vector<std::pair<double, double>>;

TEST(PrometheusHistogram, PicksTheSeriesWithTheLabelsFromAnIndependentEncoder) {
  const std::string text = RaftExposition();
  // The encoder wrote what the tests below rely on.
  ASSERT_NE(text.find("raft_rpc_duration_seconds_bucket{"), std::string::npos) << text;
  ASSERT_NE(text.find("raft_rpc_duration_seconds_total{"), std::string::npos) << text;
  ASSERT_NE(text.find("raft_rpc_duration_seconds_slow_bucket{"), std::string::npos) << text;

  auto append = ReadHistogram(text, kMetric, {{"rpc", "AppendEntries"}});
  ASSERT_TRUE(append.ok()) << append.status() << "\n" << text;
  EXPECT_EQ(append->series, 1);
  EXPECT_DOUBLE_EQ(append->count, 10);
  EXPECT_NEAR(append->sum, 0.0015 + 0.012 + 0.014 + 0.2, 1e-12);
  EXPECT_EQ(Buckets(*append),
            (BucketList{{0.001, 3}, {0.005, 7}, {0.01, 9}, {0.05, 9}, {kInf, 10}}));

  auto vote = ReadHistogram(text, kMetric, {{"rpc", "RequestVote"}, {"node", "n1"}});
  ASSERT_TRUE(vote.ok()) << vote.status();
  EXPECT_EQ(vote->series, 1);
  EXPECT_DOUBLE_EQ(vote->count, 3);
  EXPECT_NEAR(vote->sum, 0.08, 1e-12);
  EXPECT_EQ(Buckets(*vote), (BucketList{{0.001, 0}, {0.005, 0}, {0.01, 0}, {0.05, 3}, {kInf, 3}}));
}

TEST(PrometheusHistogram, AddsUpTheSeriesMatchingASubsetOfLabels) {
  const std::string text = RaftExposition();
  for (const std::map<std::string, std::string>& labels :
       {std::map<std::string, std::string>{{"node", "n1"}}, std::map<std::string, std::string>{}}) {
    auto both = ReadHistogram(text, kMetric, labels);
    ASSERT_TRUE(both.ok()) << both.status();
    EXPECT_EQ(both->series, 2);
    EXPECT_DOUBLE_EQ(both->count, 13);
    EXPECT_NEAR(both->sum, 0.2275 + 0.08, 1e-12);
    EXPECT_EQ(Buckets(*both),
              (BucketList{{0.001, 3}, {0.005, 7}, {0.01, 9}, {0.05, 12}, {kInf, 13}}));
  }
}

TEST(PrometheusHistogram, LabelsOrMetricsAbsentAreNotFound) {
  const std::string text = RaftExposition();
  for (const auto& labels :
       std::vector<std::map<std::string, std::string>>{{{"rpc", "InstallSnapshot"}},
                                                       {{"rpc", "AppendEntries"}, {"node", "n2"}},
                                                       {{"zone", "a"}}}) {
    auto read = ReadHistogram(text, kMetric, labels);
    EXPECT_EQ(read.status().code(), absl::StatusCode::kNotFound) << read.status();
  }
  // A prefix of a histogram's name, and a name no line has.
  EXPECT_EQ(ReadHistogram(text, "raft_rpc_duration", {}).status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(ReadHistogram(text, "raft_commit_seconds", {}).status().code(),
            absl::StatusCode::kNotFound);
  // The counter is not a histogram.
  EXPECT_EQ(ReadHistogram(text, "raft_rpc_duration_seconds_total", {}).status().code(),
            absl::StatusCode::kNotFound);
  // The longer-named histogram is read on its own.
  auto slow = ReadHistogram(text, "raft_rpc_duration_seconds_slow", {});
  ASSERT_TRUE(slow.ok()) << slow.status();
  EXPECT_EQ(Buckets(*slow), (BucketList{{0.5, 0}, {1, 4}, {kInf, 4}}));
  auto missing = ReadHistogram(text, kMetric, {{"rpc", "InstallSnapshot"}});
  EXPECT_NE(std::string(missing.status().message()).find("InstallSnapshot"), std::string::npos)
      << missing.status();
}

TEST(PrometheusHistogram, UnescapesLabelValuesAsTheEncoderEscapesThem) {
  const std::string awkward = "a\"b\\c\nd}e,f=g";
  prometheus::MetricFamily family{
      kMetric, "help with \\ and \n", prometheus::MetricType::Histogram, {}};
  family.metric.push_back(Series({0.1}, {0.05, 0.05}, {{"path", awkward}}));
  family.metric.push_back(Series({0.1}, {0.5}, {{"path", "plain"}}));
  const std::string text = Serialize({family});
  // The encoder escaped it, so the raw newline is not in the text.
  ASSERT_NE(text.find(R"(a\"b\\c\nd}e,f=g)"), std::string::npos) << text;

  auto read = ReadHistogram(text, kMetric, {{"path", awkward}});
  ASSERT_TRUE(read.ok()) << read.status() << "\n" << text;
  EXPECT_EQ(read->series, 1);
  EXPECT_DOUBLE_EQ(read->count, 2);
  EXPECT_EQ(Buckets(*read), (BucketList{{0.1, 2}, {kInf, 2}}));
  // The escaped spelling is not the value.
  EXPECT_EQ(ReadHistogram(text, kMetric, {{"path", R"(a\"b\\c\nd}e,f=g)"}}).status().code(),
            absl::StatusCode::kNotFound);

  // A backslash followed by n is a backslash and an n, not a newline.
  const std::string hand = "m_bucket{p=\"x\\\\n\",le=\"+Inf\"} 1\nm_count{p=\"x\\\\n\"} 1\n";
  auto backslash_n = ReadHistogram(hand, "m", {{"p", "x\\n"}});
  ASSERT_TRUE(backslash_n.ok()) << backslash_n.status();
  EXPECT_EQ(ReadHistogram(hand, "m", {{"p", "x\n"}}).status().code(), absl::StatusCode::kNotFound);
}

TEST(PrometheusHistogram, ReadsTimestampsAfterValues) {
  prometheus::MetricFamily family{kMetric, "h", prometheus::MetricType::Histogram, {}};
  prometheus::ClientMetric series = Series({0.01, 0.1}, {0.005, 0.05, 0.05, 1}, {{"rpc", "x"}});
  series.timestamp_ms = 1'700'000'000'123;
  family.metric.push_back(series);
  const std::string text = Serialize({family});
  ASSERT_NE(text.find(" 1700000000123"), std::string::npos) << text;
  auto read = ReadHistogram(text, kMetric, {});
  ASSERT_TRUE(read.ok()) << read.status() << "\n" << text;
  EXPECT_DOUBLE_EQ(read->count, 4);
  EXPECT_NEAR(read->sum, 1.105, 1e-12);
  EXPECT_EQ(Buckets(*read), (BucketList{{0.01, 1}, {0.1, 3}, {kInf, 4}}));

  // Hand-written, with tabs and a negative timestamp.
  const std::string hand =
      "m_bucket{le=\"0.5\"}\t2\t-5\n"
      "m_bucket{le=\"+Inf\"} 3 1700000000000\n"
      "m_sum 1.5 1700000000000\n"
      "m_count 3 1700000000000\n";
  auto hand_read = ReadHistogram(hand, "m", {});
  ASSERT_TRUE(hand_read.ok()) << hand_read.status();
  EXPECT_DOUBLE_EQ(hand_read->count, 3);
  EXPECT_DOUBLE_EQ(hand_read->sum, 1.5);
  EXPECT_EQ(Buckets(*hand_read), (BucketList{{0.5, 2}, {kInf, 3}}));
}

// Values are finite (a result file could not hold NaN), counts not negative,
// and a histogram's buckets never fall and end at +Inf, whose count is the count.
TEST(PrometheusHistogram, ReadsOnlyFiniteValuesAndRealCounts) {
  const std::string text =
      "# HELP m a histogram\n"
      "# TYPE m histogram\n"
      "m_bucket{le=\"1e-3\"} 0\n"
      "m_bucket{le=\"1\"} 2\n"
      "m_bucket{le=\"+Inf\"} 5\n"
      "m_sum 0.5\n"
      "m_count 5\n"
      "s_bucket{le=\"+Inf\"} 1\n"
      "s_sum NaN\n"
      "\n"
      "n_bucket{le=\"+Inf\"} +Inf\n"
      "n_count +Inf\n"
      "k_bucket{le=\"1\"} -1\n"
      "k_bucket{le=\"+Inf\"} 1\n"
      "f_bucket{le=\"1\"} 3\n"
      "f_bucket{le=\"+Inf\"} 2\n"
      "o_bucket{le=\"1\"} 3\n"
      "o_count 3\n"
      "c_bucket{le=\"1\"} 1\n"
      "c_bucket{le=\"+Inf\"} 4\n"
      "c_count 9\n";
  auto m = ReadHistogram(text, "m", {});
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_DOUBLE_EQ(m->sum, 0.5);
  EXPECT_DOUBLE_EQ(m->count, 5);
  EXPECT_EQ(Buckets(*m), (BucketList{{0.001, 0}, {1, 2}, {kInf, 5}}));
  for (const char* bad : {"s", "n", "k", "f", "o"}) {
    auto read = ReadHistogram(text, bad, {});
    EXPECT_EQ(read.status().code(), absl::StatusCode::kInvalidArgument) << bad << read.status();
  }
  auto c = ReadHistogram(text, "c", {});
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_DOUBLE_EQ(c->count, 4);  // the +Inf bucket's, not _count's
}

TEST(PrometheusHistogram, MalformedLinesAreInvalidArguments) {
  const std::string valid = "m_bucket{le=\"+Inf\"} 1\nm_sum 1\nm_count 1\n";
  ASSERT_TRUE(ReadHistogram(valid, "m", {}).ok());
  for (const char* bad : {
           "m_bucket{le=\"0.1\"} abc",         // not a number
           "m_bucket{le=\"0.1\"}",             // no value
           "m_bucket{le=\"0.1\"} 1 2 3",       // too much after the value
           "m_bucket{le=\"0.1\" 1",            // unclosed braces
           "m_bucket{le=\"0.1} 1",             // unclosed value
           "m_bucket{le=0.1} 1",               // unquoted value
           "m_bucket{le} 1",                   // no value at all
           "m_bucket 1",                       // a bucket without le
           "m_bucket{le=\"fast\"} 1",          // le not a number
           "m_bucket{le=\"NaN\"} 1",           // le not a bound
           "m_bucket{rpc=\"x\",le=\"1\"} 1x",  // trailing garbage
       }) {
    auto read = ReadHistogram(valid + bad + "\n", "m", {});
    EXPECT_EQ(read.status().code(), absl::StatusCode::kInvalidArgument)
        << "'" << bad << "': " << read.status();
  }
  // A series with a count and no buckets cannot be read.
  auto bucketless = ReadHistogram("m_sum 1\nm_count 1\n", "m", {});
  EXPECT_EQ(bucketless.status().code(), absl::StatusCode::kInvalidArgument) << bucketless.status();
}

TEST(PrometheusHistogram, SeriesWithDifferentBoundsCannotBeAddedUp) {
  prometheus::MetricFamily family{kMetric, "h", prometheus::MetricType::Histogram, {}};
  family.metric.push_back(Series({0.1, 0.5}, {0.05}, {{"rpc", "a"}}));
  family.metric.push_back(Series({0.1, 0.2}, {0.05}, {{"rpc", "b"}}));  // same number of bounds
  family.metric.push_back(Series({0.1}, {0.05}, {{"rpc", "c"}}));       // fewer bounds
  const std::string text = Serialize({family});
  for (const char* rpc : {"a", "b", "c"}) {
    EXPECT_TRUE(ReadHistogram(text, kMetric, {{"rpc", rpc}}).ok()) << rpc;
  }
  auto all = ReadHistogram(text, kMetric, {});
  EXPECT_EQ(all.status().code(), absl::StatusCode::kInvalidArgument) << all.status();

  const HistogramReading a = *ReadHistogram(text, kMetric, {{"rpc", "a"}});
  const HistogramReading b = *ReadHistogram(text, kMetric, {{"rpc", "b"}});
  const HistogramReading c = *ReadHistogram(text, kMetric, {{"rpc", "c"}});
  HistogramReading total;
  ASSERT_TRUE(AddReading(total, a).ok());
  ASSERT_TRUE(AddReading(total, a).ok());
  EXPECT_EQ(total.series, 2);
  EXPECT_DOUBLE_EQ(total.count, 2);
  EXPECT_EQ(Buckets(total), (BucketList{{0.1, 2}, {0.5, 2}, {kInf, 2}}));
  // A reading that cannot be added leaves the total as it was (the hook goes
  // on adding up the other endpoints after one is refused).
  EXPECT_EQ(AddReading(total, c).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Buckets(total), (BucketList{{0.1, 2}, {0.5, 2}, {kInf, 2}}));
  EXPECT_EQ(AddReading(total, b).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Buckets(total), (BucketList{{0.1, 2}, {0.5, 2}, {kInf, 2}}));
  EXPECT_EQ(total.series, 2);
  EXPECT_DOUBLE_EQ(total.count, 2);
}

HistogramReading Reading(BucketList buckets, double count, double sum) {
  HistogramReading r;
  r.cumulative = {buckets.begin(), buckets.end()};
  r.count = count;
  r.sum = sum;
  r.series = 1;
  return r;
}

TEST(PrometheusHistogram, ObservedBetweenIsTheDifference) {
  const HistogramReading before = Reading({{0.1, 2}, {0.5, 3}, {kInf, 4}}, 4, 1.0);
  const HistogramReading after = Reading({{0.1, 5}, {0.5, 9}, {kInf, 10}}, 10, 3.5);
  bool restarted = true;
  const HistogramReading observed = ObservedBetween(before, after, &restarted);
  EXPECT_FALSE(restarted);
  EXPECT_DOUBLE_EQ(observed.count, 6);
  EXPECT_DOUBLE_EQ(observed.sum, 2.5);
  EXPECT_EQ(Buckets(observed), (BucketList{{0.1, 3}, {0.5, 6}, {kInf, 6}}));
}

TEST(PrometheusHistogram, ObservedBetweenAfterARestartIsTheLaterReading) {
  const HistogramReading before = Reading({{0.1, 20}, {0.5, 30}, {kInf, 40}}, 40, 10);
  const HistogramReading after = Reading({{0.1, 1}, {0.5, 2}, {kInf, 3}}, 3, 0.4);
  bool restarted = false;
  HistogramReading observed = ObservedBetween(before, after, &restarted);
  EXPECT_TRUE(restarted);
  EXPECT_DOUBLE_EQ(observed.count, 3);
  EXPECT_DOUBLE_EQ(observed.sum, 0.4);
  EXPECT_EQ(Buckets(observed), Buckets(after));

  // The count grew, but a bucket went down: another process since.
  const HistogramReading regrown = Reading({{0.1, 5}, {0.5, 45}, {kInf, 50}}, 50, 12);
  restarted = false;
  observed = ObservedBetween(before, regrown, &restarted);
  EXPECT_TRUE(restarted);
  EXPECT_EQ(Buckets(observed), Buckets(regrown));

  // Other bounds: another layout, so another process.
  const HistogramReading relaid = Reading({{0.2, 25}, {0.5, 35}, {kInf, 45}}, 45, 11);
  restarted = false;
  observed = ObservedBetween(before, relaid, &restarted);
  EXPECT_TRUE(restarted);
  EXPECT_EQ(Buckets(observed), Buckets(relaid));
}

TEST(PrometheusHistogram, ObservedBetweenUnchangedIsNothing) {
  const HistogramReading same = Reading({{0.1, 2}, {0.5, 3}, {kInf, 4}}, 4, 1.25);
  bool restarted = true;
  const HistogramReading observed = ObservedBetween(same, same, &restarted);
  EXPECT_FALSE(restarted);
  EXPECT_EQ(observed.count, 0);
  EXPECT_EQ(observed.sum, 0);
  EXPECT_EQ(Buckets(observed), (BucketList{{0.1, 0}, {0.5, 0}, {kInf, 0}}));
}

TEST(PrometheusHistogram, ObservedBetweenTwoScrapesOfTheEncoder) {
  prometheus::Histogram histogram(kBounds);
  const auto scrape = [&] {
    prometheus::MetricFamily family{kMetric, "h", prometheus::MetricType::Histogram, {}};
    prometheus::ClientMetric m = histogram.Collect();
    m.label = {{"rpc", "AppendEntries"}};
    family.metric.push_back(m);
    return *ReadHistogram(Serialize({family}), kMetric, {{"rpc", "AppendEntries"}});
  };
  for (double v : {0.0005, 0.003, 0.2}) histogram.Observe(v);
  const HistogramReading before = scrape();
  for (double v : {0.003, 0.007, 0.007, 0.04}) histogram.Observe(v);
  const HistogramReading after = scrape();
  bool restarted = true;
  const HistogramReading observed = ObservedBetween(before, after, &restarted);
  EXPECT_FALSE(restarted);
  EXPECT_DOUBLE_EQ(observed.count, 4);
  EXPECT_NEAR(observed.sum, 0.057, 1e-12);
  EXPECT_EQ(Buckets(observed),
            (BucketList{{0.001, 0}, {0.005, 1}, {0.01, 3}, {0.05, 4}, {kInf, 4}}));
}

// 10 observations: 5 <= 5ms, 4 in (5ms, 10ms], 1 above 50ms.
ServerHistogramResult TenObservations() {
  ServerHistogramResult h;
  h.name = "append";
  h.metric = kMetric;
  h.labels = {{"rpc", "AppendEntries"}};
  h.sources = {"http://127.0.0.1:9100/metrics"};
  h.count = 10;
  h.sum_seconds = 0.25;
  h.buckets = {{0.001, 0}, {0.005, 5}, {0.01, 9}, {0.05, 9}};
  return h;
}

TEST(ServerHistogramResult, QuantilesOnABucketBoundaryAreThatBucket) {
  const ServerHistogramResult h = TenObservations();
  EXPECT_EQ(h.UpperBoundSeconds(0.5), 0.005);  // the 5th of 10 is the last <= 5ms
  EXPECT_EQ(h.UpperBoundSeconds(0.51), 0.01);
  EXPECT_EQ(h.UpperBoundSeconds(0.9), 0.01);  // the 9th is the last <= 10ms
  EXPECT_EQ(h.UpperBoundSeconds(0.1), 0.005);
  // The smallest is in the first bucket holding anything, not the first bucket.
  EXPECT_EQ(h.UpperBoundSeconds(0), 0.005);
  EXPECT_EQ(h.UpperBoundText(0.5), "<= 5ms");
  EXPECT_EQ(h.UpperBoundText(0.9), "<= 10ms");

  // 1000 observations, 999 of them <= 5ms: p99.9 is the 999th.
  ServerHistogramResult thousand;
  thousand.count = 1000;
  thousand.buckets = {{0.005, 999}, {0.01, 1000}};
  EXPECT_EQ(thousand.UpperBoundSeconds(0.999), 0.005);
  EXPECT_EQ(thousand.UpperBoundSeconds(99.9 / 100), 0.005);  // as a gate's p99.9 asks
  EXPECT_EQ(thousand.UpperBoundSeconds(1), 0.01);
  EXPECT_EQ(thousand.UpperBoundText(1), "<= 10ms");
}

TEST(ServerHistogramResult, QuantilesAboveEveryBoundAreInfinite) {
  const ServerHistogramResult h = TenObservations();
  EXPECT_EQ(h.UpperBoundSeconds(0.91), kInf);
  EXPECT_EQ(h.UpperBoundSeconds(1), kInf);
  EXPECT_EQ(h.UpperBoundSeconds(2), kInf);  // clamped to 1
  EXPECT_EQ(h.UpperBoundText(0.99), "> 50ms");

  ServerHistogramResult seconds;
  seconds.count = 4;
  seconds.buckets = {{0.5, 1}, {1, 2}};
  EXPECT_EQ(seconds.UpperBoundSeconds(0.75), kInf);
  EXPECT_EQ(seconds.UpperBoundText(0.75), "> 1s");
  EXPECT_EQ(seconds.UpperBoundText(0.5), "<= 1s");
  EXPECT_EQ(seconds.UpperBoundText(0.25), "<= 500ms");
}

TEST(ServerHistogramResult, NothingObservedHasNoQuantile) {
  ServerHistogramResult empty = TenObservations();
  empty.count = 0;
  empty.sum_seconds = 0;
  for (auto& b : empty.buckets) b.cumulative = 0;
  for (double q : {0.0, 0.5, 0.99, 1.0}) {
    EXPECT_TRUE(std::isnan(empty.UpperBoundSeconds(q))) << q;
    EXPECT_EQ(empty.UpperBoundText(q), "-") << q;
  }
  const ServerHistogramResult nothing;
  EXPECT_TRUE(std::isnan(nothing.UpperBoundSeconds(0.5)));
  EXPECT_EQ(nothing.UpperBoundText(0.5), "-");
}

TEST(ServerHistogramResult, SelectorNamesMetricAndLabels) {
  ServerHistogramResult h = TenObservations();
  h.labels["node"] = "n1";
  EXPECT_EQ(h.Selector(), R"(raft_rpc_duration_seconds{node="n1",rpc="AppendEntries"})");
  h.labels.clear();
  EXPECT_EQ(h.Selector(), "raft_rpc_duration_seconds");
}

// A result that ResultToJson / ResultFromJson accept.
RunResult MinimalResult() {
  RunResult r;
  r.tool_version = "0.1.0";
  r.host = "h";
  r.scenario_name = "s";
  r.scenario_json = R"({"name":"s"})";
  r.target = "127.0.0.1:1";
  r.load_model = "open";
  r.target_rate = 100;
  r.start_unix_nanos = 1'700'000'000'000'000'000;
  r.end_unix_nanos = r.start_unix_nanos + 5'000'000'000;
  r.measured_seconds = 5;
  r.total.name = "total";
  r.total.rpc = "a.B/C";
  r.total.corrected = std::make_shared<Histogram>(MakeLatencyHistogram());
  r.total.uncorrected = std::make_shared<Histogram>(MakeLatencyHistogram());
  r.total.corrected->Record(100);
  r.total.uncorrected->Record(100);
  r.total.requests = 1;
  r.total.ok = 1;
  r.total.status_codes = {{"OK", 1}};
  OperationResult op = r.total;
  op.name = "submit";
  r.operations.push_back(op);
  r.generator.schedule_lag = std::make_shared<Histogram>(MakeLatencyHistogram());
  r.generator.generator_lag = std::make_shared<Histogram>(MakeLatencyHistogram());
  r.generator.sent = 1;
  return r;
}

TEST(ServerHistogramResult, RoundTripsThroughResultJson) {
  RunResult original = MinimalResult();
  ServerHistogramResult append = TenObservations();
  append.labels["path"] = "a\"b\\c\nd";
  append.sources.push_back("http://127.0.0.1:9101/metrics");
  append.missing = {"http://127.0.0.1:9102/metrics: connection refused"};
  append.sum_seconds = 0.1 + 0.2;  // not a short decimal
  ServerHistogramResult vote;
  vote.name = "vote";
  vote.metric = "raft_vote_seconds";
  vote.missing = {"http://127.0.0.1:9100/metrics: no histogram raft_vote_seconds"};
  original.server_histograms = {append, vote};

  const std::string json = ResultToJson(original);
  const auto j = nlohmann::json::parse(json);
  ASSERT_TRUE(j.contains("server_histograms")) << json;
  ASSERT_EQ(j["server_histograms"].size(), 2u);
  EXPECT_EQ(j["server_histograms"][0]["name"], "append");
  EXPECT_EQ(j["server_histograms"][0]["buckets"].size(), 4u);

  auto read = ResultFromJson(json, "r.json");
  ASSERT_TRUE(read.ok()) << read.status();
  ASSERT_EQ(read->server_histograms.size(), 2u);
  const ServerHistogramResult& a = read->server_histograms[0];
  EXPECT_EQ(a.name, "append");
  EXPECT_EQ(a.metric, kMetric);
  EXPECT_EQ(a.labels, append.labels);
  EXPECT_EQ(a.sources, append.sources);
  EXPECT_EQ(a.missing, append.missing);
  EXPECT_EQ(a.count, 10);
  EXPECT_EQ(a.sum_seconds, 0.1 + 0.2);  // exactly
  ASSERT_EQ(a.buckets.size(), 4u);
  for (size_t i = 0; i < a.buckets.size(); ++i) {
    EXPECT_EQ(a.buckets[i].le_seconds, append.buckets[i].le_seconds) << i;
    EXPECT_EQ(a.buckets[i].cumulative, append.buckets[i].cumulative) << i;
  }
  const ServerHistogramResult& v = read->server_histograms[1];
  EXPECT_EQ(v.name, "vote");
  EXPECT_TRUE(v.sources.empty());
  EXPECT_EQ(v.missing, vote.missing);
  EXPECT_EQ(v.count, 0);
  EXPECT_TRUE(v.buckets.empty());
  EXPECT_EQ(ResultToJson(*read), json);

  // Without server_metrics: no key at all, and none read back.
  const RunResult plain = MinimalResult();
  EXPECT_FALSE(nlohmann::json::parse(ResultToJson(plain)).contains("server_histograms"));
  auto plain_read = ResultFromJson(ResultToJson(plain), "r.json");
  ASSERT_TRUE(plain_read.ok()) << plain_read.status();
  EXPECT_TRUE(plain_read->server_histograms.empty());

  // A wrong field is refused, not crashed on.
  auto broken = j;
  broken["server_histograms"][0]["count"] = "ten";
  EXPECT_FALSE(ResultFromJson(broken.dump(), "r.json").ok());
  broken = j;
  broken["server_histograms"][0].erase("buckets");
  EXPECT_FALSE(ResultFromJson(broken.dump(), "r.json").ok());
}

// 100 observations: 90 <= 5ms, 99 <= 10ms, all <= 25ms; mean 3.5ms.
ServerHistogramResult Hundred(const std::string& name) {
  ServerHistogramResult h;
  h.name = name;
  h.metric = kMetric;
  h.sources = {"http://127.0.0.1:9100/metrics"};
  h.count = 100;
  h.sum_seconds = 0.35;
  h.buckets = {{0.005, 90}, {0.01, 99}, {0.025, 100}};
  return h;
}

absl::StatusOr<std::vector<GateResult>> Check(const std::vector<std::string>& expressions,
                                              const std::string& operation, const RunResult& r) {
  std::vector<Gate> gates;
  for (const std::string& e : expressions) {
    auto gate = ParseGate(e, operation);
    if (!gate.ok()) return gate.status();
    gates.push_back(*gate);
  }
  return EvaluateGates(gates, r);
}

TEST(ScrapedGates, ComparesTheBucketBound) {
  RunResult r;
  r.server_histograms = {Hundred("append")};
  auto results = Check(
      {"scraped_p99 <= 10ms", "scraped_p99 < 10ms", "scraped_p50 <= 5ms", "scraped_p90 <= 5ms",
       "scraped_p91 <= 5ms", "scraped_max <= 10ms", "scraped_max <= 25ms", "scraped_mean < 4ms",
       "scraped_mean < 3ms", "scraped_count == 100", "scraped_count >= 101"},
      "", r);
  ASSERT_TRUE(results.ok()) << results.status();
  ASSERT_EQ(results->size(), 11u);
  const std::vector<bool> expected = {true, false, true,  true, false, false,
                                      true, true,  false, true, false};
  for (size_t i = 0; i < expected.size(); ++i) {
    EXPECT_EQ((*results)[i].passed, expected[i]) << (*results)[i].message;
  }
  EXPECT_DOUBLE_EQ((*results)[0].measured, 10'000);  // microseconds
  EXPECT_DOUBLE_EQ((*results)[0].limit, 10'000);
  EXPECT_EQ((*results)[0].unit, "us");
  EXPECT_DOUBLE_EQ((*results)[5].measured, 25'000);
  EXPECT_NEAR((*results)[7].measured, 3'500, 1e-6);
  EXPECT_DOUBLE_EQ((*results)[9].measured, 100);
  EXPECT_EQ((*results)[9].unit, "count");
}

TEST(ScrapedGates, AQuantileOnABucketBoundaryIsThatBucket) {
  // 1000 observations, 999 of them <= 5ms: the 99.9th percentile is the 999th.
  ServerHistogramResult h = Hundred("append");
  h.count = 1000;
  h.sum_seconds = 3;
  h.buckets = {{0.005, 999}, {0.01, 1000}};
  RunResult r;
  r.server_histograms = {h};
  auto results = Check({"scraped_p99.9 <= 5ms"}, "", r);
  ASSERT_TRUE(results.ok()) << results.status();
  EXPECT_TRUE((*results)[0].passed) << (*results)[0].message;
  EXPECT_DOUBLE_EQ((*results)[0].measured, 5'000);
}

TEST(ScrapedGates, NamesTheHistogramByOperation) {
  RunResult r;
  ServerHistogramResult vote = Hundred("vote");
  vote.buckets = {{0.005, 0}, {0.01, 0}, {0.025, 100}};
  r.server_histograms = {Hundred("append"), vote};
  // Neither is an operation of the run: a scraped gate names a histogram.
  auto append = Check({"scraped_p99 <= 10ms"}, "append", r);
  ASSERT_TRUE(append.ok()) << append.status();
  EXPECT_TRUE((*append)[0].passed) << (*append)[0].message;
  auto voted = Check({"scraped_p99 <= 10ms", "scraped_p50 <= 25ms"}, "vote", r);
  ASSERT_TRUE(voted.ok()) << voted.status();
  EXPECT_FALSE((*voted)[0].passed) << (*voted)[0].message;
  EXPECT_DOUBLE_EQ((*voted)[0].measured, 25'000);
  EXPECT_TRUE((*voted)[1].passed) << (*voted)[1].message;
  EXPECT_NE((*voted)[0].message.find("vote"), std::string::npos) << (*voted)[0].message;

  // Two histograms and no name, or a name no histogram has: the gate fails,
  // saying why (a scenario is refused before its run for either), and the
  // result is kept.
  auto ambiguous = Check({"scraped_p99 <= 10ms"}, "", r);
  ASSERT_TRUE(ambiguous.ok()) << ambiguous.status();
  EXPECT_FALSE((*ambiguous)[0].passed);
  EXPECT_NE((*ambiguous)[0].message.find("name one with 'operation:'"), std::string::npos)
      << (*ambiguous)[0].message;
  auto unknown = Check({"scraped_p99 <= 10ms"}, "commit", r);
  ASSERT_TRUE(unknown.ok()) << unknown.status();
  EXPECT_FALSE((*unknown)[0].passed);
  EXPECT_NE((*unknown)[0].message.find("'commit'"), std::string::npos) << (*unknown)[0].message;

  // A run that scrapes none measured nothing: the gate fails, naming why.
  auto none = Check({"scraped_count >= 1"}, "", RunResult{});
  ASSERT_TRUE(none.ok()) << none.status();
  ASSERT_EQ(none->size(), 1u);
  EXPECT_FALSE((*none)[0].passed);
  EXPECT_NE((*none)[0].message.find("no server_metrics scraped"), std::string::npos)
      << (*none)[0].message;
}

TEST(ScrapedGates, AboveTheHighestBucketFails) {
  ServerHistogramResult h = Hundred("append");
  h.buckets = {{0.005, 50}, {0.01, 90}};  // 10 of 100 above 10ms
  RunResult r;
  r.server_histograms = {h};
  auto results = Check({"scraped_p99 <= 1s", "scraped_p99 > 1ms", "scraped_p90 <= 10ms"}, "", r);
  ASSERT_TRUE(results.ok()) << results.status();
  for (int i : {0, 1}) {
    EXPECT_FALSE((*results)[i].passed) << (*results)[i].message;
    EXPECT_NE((*results)[i].message.find("above the highest bucket"), std::string::npos)
        << (*results)[i].message;
  }
  EXPECT_DOUBLE_EQ((*results)[0].measured, 10'000);  // at least the highest bound
  EXPECT_TRUE((*results)[2].passed) << (*results)[2].message;
}

TEST(ScrapedGates, NothingObservedFails) {
  ServerHistogramResult h = Hundred("append");
  h.count = 0;
  h.sum_seconds = 0;
  h.buckets = {{0.005, 0}, {0.01, 0}, {0.025, 0}};
  RunResult r;
  r.server_histograms = {h};
  auto results =
      Check({"scraped_p99 <= 1s", "scraped_max <= 1s", "scraped_mean <= 1s", "scraped_count == 0"},
            "", r);
  ASSERT_TRUE(results.ok()) << results.status();
  for (int i : {0, 1, 2}) {
    EXPECT_FALSE((*results)[i].passed) << (*results)[i].message;
    EXPECT_TRUE(MeasuredNothing((*results)[i])) << (*results)[i].message;
  }
  EXPECT_TRUE((*results)[3].passed) << (*results)[3].message;  // a count of 0 is measured

  // No endpoint answered after the load: nothing passes, not even a count.
  h = Hundred("append");
  h.sources.clear();
  h.missing = {"http://127.0.0.1:9100/metrics: connection refused"};
  r.server_histograms = {h};
  results = Check({"scraped_p99 <= 1s", "scraped_count <= 1000"}, "", r);
  ASSERT_TRUE(results.ok()) << results.status();
  for (int i : {0, 1}) {
    EXPECT_FALSE((*results)[i].passed) << (*results)[i].message;
    EXPECT_NE((*results)[i].message.find("figures from 0 of 1 endpoints"), std::string::npos)
        << (*results)[i].message;
  }
  // Figures from 2 of 3: a gate on them does not pass either.
  h = Hundred("append");
  h.sources = {"http://a/metrics", "http://b/metrics"};
  h.missing = {"http://c/metrics: connection refused"};
  r.server_histograms = {h};
  results = Check({"scraped_count >= 1"}, "", r);
  ASSERT_TRUE(results.ok()) << results.status();
  EXPECT_FALSE((*results)[0].passed);
  EXPECT_NE((*results)[0].message.find("figures from 2 of 3 endpoints"), std::string::npos)
      << (*results)[0].message;
}

TEST(ScrapedGates, ParseGateKnowsTheScrapedMetrics) {
  for (const char* good : {"scraped_p50 < 1ms", "scraped_p99.9 <= 2s", "scraped_max < 1s",
                           "scraped_mean < 5ms", "scraped_count >= 10"}) {
    EXPECT_TRUE(ParseGate(good, "").ok()) << good << ": " << ParseGate(good, "").status();
  }
  auto p99 = ParseGate("scraped_p99 <= 10ms", "vote");
  ASSERT_TRUE(p99.ok());
  EXPECT_EQ(p99->unit, "us");
  EXPECT_DOUBLE_EQ(p99->limit, 10'000);
  EXPECT_EQ(p99->operation, "vote");
  auto count = ParseGate("scraped_count >= 10", "");
  ASSERT_TRUE(count.ok());
  EXPECT_EQ(count->unit, "count");
  EXPECT_DOUBLE_EQ(count->limit, 10);

  for (const char* bad : {"scraped_foo < 1ms", "scraped_ < 1ms", "scraped_uncorrected_p99 < 1ms",
                          "scraped_webhook_p99 < 1ms", "scraped_rate > 1", "scraped_p101 < 1ms",
                          "scraped_count >= 10ms", "scraped_p99 < fast"}) {
    auto gate = ParseGate(bad, "");
    EXPECT_FALSE(gate.ok()) << bad;
    EXPECT_EQ(gate.status().code(), absl::StatusCode::kInvalidArgument) << bad;
  }
  auto foo = ParseGate("scraped_foo < 1ms", "");
  EXPECT_NE(foo.status().message().find("unknown metric 'scraped_foo'"), absl::string_view::npos)
      << foo.status();
}

constexpr const char* kScenario = R"(
name: t
target: 127.0.0.1:1234
duration: 5s
load:
  model: open
  rate: 50
operations:
  - name: submit
    rpc: aurigraph.approval.v1.ApprovalService/SubmitApprovalRequest
    request:
      approval_id: "a-${seq}"
)";

absl::StatusOr<Scenario> WithServerMetrics(const std::string& section) {
  return ParseScenario(std::string(kScenario) + section, "<string>", {});
}

std::string ErrorOf(const std::string& section) {
  auto s = WithServerMetrics(section);
  return s.ok() ? "" : std::string(s.status().message());
}

TEST(ServerMetricsScenario, ParsesTheSection) {
  auto s = WithServerMetrics(R"(
server_metrics:
  scrape: "http://127.0.0.1:9100/metrics, http://127.0.0.1:9101/metrics,http://127.0.0.1:9102/metrics"
  timeout: 500ms
  histograms:
    - name: append
      metric: raft_rpc_duration_seconds
      labels: {rpc: AppendEntries, node: n1}
    - name: all
      metric: raft_rpc_duration_seconds
gates:
  - gate: "scraped_p99 < 10ms"
    operation: append
)");
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->server_metrics.scrape, (std::vector<std::string>{"http://127.0.0.1:9100/metrics",
                                                                "http://127.0.0.1:9101/metrics",
                                                                "http://127.0.0.1:9102/metrics"}));
  EXPECT_EQ(s->server_metrics.timeout_nanos, 500'000'000);
  ASSERT_EQ(s->server_metrics.histograms.size(), 2u);
  EXPECT_EQ(s->server_metrics.histograms[0].name, "append");
  EXPECT_EQ(s->server_metrics.histograms[0].metric, "raft_rpc_duration_seconds");
  EXPECT_EQ(s->server_metrics.histograms[0].labels,
            (std::map<std::string, std::string>{{"node", "n1"}, {"rpc", "AppendEntries"}}));
  EXPECT_EQ(s->server_metrics.histograms[1].name, "all");
  EXPECT_TRUE(s->server_metrics.histograms[1].labels.empty());
  ASSERT_EQ(s->gates.size(), 1u);
  EXPECT_EQ(s->gates[0].operation, "append");
}

TEST(ServerMetricsScenario, AListOfURLsMayHoldCommaSeparatedOnes) {
  auto s = WithServerMetrics(R"(
server_metrics:
  scrape: [http://a:9100/metrics, "http://b:9100/metrics,http://c:9100/metrics"]
  histograms: [{name: h, metric: m}]
)");
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->server_metrics.scrape,
            (std::vector<std::string>{"http://a:9100/metrics", "http://b:9100/metrics",
                                      "http://c:9100/metrics"}));
  EXPECT_EQ(s->server_metrics.timeout_nanos, 2'000'000'000);  // the default
  // Without the section: nothing to scrape.
  auto plain = WithServerMetrics("");
  ASSERT_TRUE(plain.ok()) << plain.status();
  EXPECT_TRUE(plain->server_metrics.scrape.empty());
  EXPECT_TRUE(plain->server_metrics.histograms.empty());
}

TEST(ServerMetricsScenario, RefusesWhatItCannotScrape) {
  for (const char* url : {"https://a:9100/metrics", "a:9100/metrics", "ftp://a/metrics"}) {
    const std::string error = ErrorOf(absl::StrCat("server_metrics:\n  scrape: \"", url,
                                                   "\"\n  histograms: [{name: h, metric: m}]\n"));
    EXPECT_NE(error.find("server_metrics.scrape"), std::string::npos) << url << ": " << error;
    EXPECT_NE(error.find(url), std::string::npos) << url << ": " << error;
  }
  // One bad URL among good ones in a comma-separated string.
  std::string error = ErrorOf(R"(
server_metrics:
  scrape: "http://a:9100/metrics,b:9100/metrics"
  histograms: [{name: h, metric: m}]
)");
  EXPECT_NE(error.find("server_metrics.scrape"), std::string::npos) << error;
  EXPECT_NE(error.find("'b:9100/metrics'"), std::string::npos) << error;
  // Nothing to scrape.
  error = ErrorOf("server_metrics:\n  scrape: \" , \"\n  histograms: [{name: h, metric: m}]\n");
  EXPECT_NE(error.find("server_metrics.scrape"), std::string::npos) << error;
  error = ErrorOf("server_metrics:\n  histograms: [{name: h, metric: m}]\n");
  EXPECT_NE(error.find("server_metrics.scrape"), std::string::npos) << error;
}

TEST(ServerMetricsScenario, RefusesBadHistograms) {
  std::string error = ErrorOf(R"(
server_metrics:
  scrape: http://a:9100/metrics
  histograms:
    - {name: h, metric: m}
    - {name: h, metric: other}
)");
  EXPECT_NE(error.find("server_metrics.histograms.1.name"), std::string::npos) << error;
  EXPECT_NE(error.find("twice"), std::string::npos) << error;

  error = ErrorOf(R"(
server_metrics:
  scrape: http://a:9100/metrics
  histograms:
    - {name: h, labels: {rpc: x}}
)");
  EXPECT_NE(error.find("server_metrics.histograms.0.metric"), std::string::npos) << error;
  EXPECT_NE(error.find("required"), std::string::npos) << error;

  error = ErrorOf(R"(
server_metrics:
  scrape: http://a:9100/metrics
  histograms:
    - {metric: m}
)");
  EXPECT_NE(error.find("server_metrics.histograms.0.name"), std::string::npos) << error;

  error = ErrorOf("server_metrics:\n  scrape: http://a:9100/metrics\n");
  EXPECT_NE(error.find("server_metrics.histograms"), std::string::npos) << error;

  error = ErrorOf(R"(
server_metrics:
  scrape: http://a:9100/metrics
  histograms:
    - {name: h, metric: m, labels: [rpc]}
)");
  EXPECT_NE(error.find("server_metrics.histograms.0.labels"), std::string::npos) << error;

  error = ErrorOf(R"(
server_metrics:
  scrape: http://a:9100/metrics
  histograms:
    - {name: h, metric: m, label: {rpc: x}}
)");
  EXPECT_NE(error.find("server_metrics.histograms.0.label"), std::string::npos) << error;

  error = ErrorOf(R"(
server_metrics:
  scrape: http://a:9100/metrics
  timeout: 0s
  histograms: [{name: h, metric: m}]
)");
  EXPECT_NE(error.find("server_metrics.timeout"), std::string::npos) << error;
}

}  // namespace
}  // namespace aurigraph::loadgen
