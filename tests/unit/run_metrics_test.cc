// Run metrics from interval slices: exact counters by code, Prometheus
// histogram buckets filled from the HDR histogram, and the last interval's
// exact percentiles, read back through the registry as a scrape would.
#include "loadgen/metrics/run_metrics.h"

#include <gtest/gtest.h>
#include <prometheus/registry.h>

namespace aurigraph::loadgen {
namespace {

// The value of one sample of `family`, selected by labels; -1 when absent.
double Sample(const std::vector<prometheus::MetricFamily>& families, const std::string& family,
              const std::map<std::string, std::string>& labels, double le = -1) {
  for (const auto& f : families) {
    if (f.name != family) continue;
    for (const auto& metric : f.metric) {
      bool match = true;
      for (const auto& [name, value] : labels) {
        bool found = false;
        for (const auto& label : metric.label) found |= label.name == name && label.value == value;
        match &= found;
      }
      if (!match) continue;
      switch (f.type) {
        case prometheus::MetricType::Counter:
          return metric.counter.value;
        case prometheus::MetricType::Gauge:
          return metric.gauge.value;
        case prometheus::MetricType::Histogram:
          if (le < 0) return static_cast<double>(metric.histogram.sample_count);
          for (const auto& bucket : metric.histogram.bucket) {
            if (bucket.upper_bound == le) return static_cast<double>(bucket.cumulative_count);
          }
          return -1;
        default:
          return -1;
      }
    }
  }
  return -1;
}

TEST(RunMetrics, IntervalsBecomeCountersHistogramsAndExactPercentiles) {
  prometheus::Registry registry;
  RunMetrics metrics(registry);
  RunDescription run;
  run.scenario_name = "s";
  run.target = "127.0.0.1:1";
  run.tool_version = "0.1.0";
  run.target_rate = 100;
  run.interval_nanos = 1'000'000'000;
  run.duration_nanos = 60'000'000'000;
  run.operations = {{"submit", "a.S/Submit"}, {"watch", "a.S/Watch", "server_streaming"}};
  metrics.OnRunStart(run);

  IntervalSlice first(2);
  for (int i = 0; i < 90; ++i) first.operations[0].Record(500, 500, 0);  // 0.5 ms, OK
  for (int i = 0; i < 10; ++i)
    first.operations[0].Record(30'000, 30'000, 14);  // 30 ms, UNAVAILABLE
  first.operations[0].items = 7;
  first.operations[1].count = 1000;  // stream messages, 200 of them timed
  for (int i = 0; i < 200; ++i) first.operations[1].latency.Record(2000);
  first.sent = 103;
  for (int i = 0; i < 103; ++i) first.schedule_lag.Record(40);
  TimelinePoint point;
  point.seconds = 1.0;
  metrics.OnInterval(first, point);

  IntervalSlice second(2);
  for (int i = 0; i < 3; ++i) second.operations[0].Record(800, 800, 0);
  second.sent = 3;
  point.offset_seconds = 1.0;
  point.seconds = 0.5;
  metrics.OnInterval(second, point);

  const auto families = registry.Collect();
  const std::map<std::string, std::string> submit = {{"operation", "submit"}};
  EXPECT_EQ(Sample(families, "aurigraph_loadgen_requests_total",
                   {{"operation", "submit"}, {"grpc_code", "OK"}}),
            93);
  EXPECT_EQ(Sample(families, "aurigraph_loadgen_requests_total",
                   {{"operation", "submit"}, {"grpc_code", "UNAVAILABLE"}}),
            10);
  EXPECT_EQ(Sample(families, "aurigraph_loadgen_errors_total",
                   {{"operation", "submit"}, {"grpc_code", "UNAVAILABLE"}}),
            10);
  EXPECT_EQ(Sample(families, "aurigraph_loadgen_items_total", submit), 7);
  EXPECT_EQ(Sample(families, "aurigraph_loadgen_stream_messages_received_total",
                   {{"operation", "watch"}}),
            1000);
  // Streams are not requests.
  EXPECT_EQ(Sample(families, "aurigraph_loadgen_requests_total", {{"operation", "watch"}}), -1);
  // Buckets from the HDR histogram: 0.5 ms in le=0.0005, 30 ms in le=0.03.
  EXPECT_EQ(Sample(families, "aurigraph_loadgen_latency_seconds", submit, 0.0005), 90);
  EXPECT_EQ(Sample(families, "aurigraph_loadgen_latency_seconds", submit, 0.001), 93);
  EXPECT_EQ(Sample(families, "aurigraph_loadgen_latency_seconds", submit, 0.025), 93);
  // Successful calls only: the 10 failures at 30 ms have their own histogram.
  EXPECT_EQ(Sample(families, "aurigraph_loadgen_latency_seconds", submit, 0.03), 93);
  EXPECT_EQ(Sample(families, "aurigraph_loadgen_latency_seconds", submit), 93);
  const std::map<std::string, std::string> unavailable = {{"operation", "submit"},
                                                          {"grpc_code", "UNAVAILABLE"}};
  EXPECT_EQ(Sample(families, "aurigraph_loadgen_failed_latency_seconds", unavailable, 0.025), 0);
  EXPECT_EQ(Sample(families, "aurigraph_loadgen_failed_latency_seconds", unavailable, 0.03), 10);
  EXPECT_EQ(Sample(families, "aurigraph_loadgen_failed_latency_seconds", unavailable), 10);
  EXPECT_EQ(Sample(families, "aurigraph_loadgen_latency_seconds", {{"operation", "watch"}}), 200);
  // The last interval's exact percentiles: the second interval's 0.8 ms.
  EXPECT_DOUBLE_EQ(Sample(families, "aurigraph_loadgen_last_interval_latency_seconds",
                          {{"operation", "submit"}, {"percentile", "99"}}),
                   0.0008);
  EXPECT_DOUBLE_EQ(
      Sample(families, "aurigraph_loadgen_last_interval_completions_per_second", submit), 6);
  EXPECT_EQ(Sample(families, "aurigraph_loadgen_requests_sent_total", {}), 106);
  EXPECT_EQ(Sample(families, "aurigraph_loadgen_in_flight_requests", {}), 3);  // 106 sent, 103 done
  EXPECT_DOUBLE_EQ(Sample(families, "aurigraph_loadgen_run_elapsed_seconds", {}), 1.5);
  EXPECT_EQ(Sample(families, "aurigraph_loadgen_target_requests_per_second", {}), 100);
  EXPECT_EQ(Sample(families, "aurigraph_loadgen_schedule_lag_seconds", {}, 0.0001), 103);
}

}  // namespace
}  // namespace aurigraph::loadgen
