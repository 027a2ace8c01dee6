#include "loadgen/metrics/run_metrics.h"

#include "common/status_codes/status_codes.h"

namespace aurigraph::loadgen {
namespace {

struct PercentileGauge {
  const char* label;
  double percentile;
};
constexpr PercentileGauge kPercentiles[] = {
    {"50", 50}, {"90", 90}, {"99", 99}, {"99.9", 99.9}, {"100", 100}};

constexpr const char* kLastInterval =
    " in the last completed interval, exact from its HDR histogram.";

// Adds a histogram recorded in microseconds to a Prometheus histogram in seconds:
// per-bucket increments and the sum, attributing each HDR bucket by its value.
void ObserveHistogram(const Histogram& h, prometheus::Histogram& out) {
  if (h.TotalCount() == 0) return;
  const std::vector<double>& bounds = LatencyBucketsSeconds();
  std::vector<double> increments(bounds.size() + 1, 0);
  double sum = 0;
  size_t bucket = 0;
  for (int32_t i = 0; i < h.counts_length(); ++i) {
    const int64_t count = h.count_at_index(i);
    if (count == 0) continue;
    const double value_seconds = static_cast<double>(h.ValueAtIndex(i)) / 1e6;
    while (bucket < bounds.size() && value_seconds > bounds[bucket]) ++bucket;
    increments[bucket] += static_cast<double>(count);
    sum += static_cast<double>(count) * static_cast<double>(h.MedianEquivalent(h.ValueAtIndex(i))) /
           1e6;
  }
  out.ObserveMultiple(increments, sum);
}

}  // namespace

// The outcome labels of aurigraph_loadgen_finality_items_total, in the order OnInterval counts
// them.
constexpr const char* kFinalityOutcomes[] = {
    "final",           "lost",     "final_without_ack", "duplicate", "not_final_unacked",
    "unmatched_event", "untracked"};

const std::vector<double>& LatencyBucketsSeconds() {
  static const std::vector<double> bounds = {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.0075,
                                             0.01,   0.015,   0.02,   0.025, 0.03,   0.05,  0.1,
                                             0.25,   0.5,     1,      2.5,   5,      10};
  return bounds;
}

RunMetrics::RunMetrics(prometheus::Registry& registry)
    : registry_(registry),
      latency_(prometheus::BuildHistogram()
                   .Name("aurigraph_loadgen_latency_seconds")
                   .Help("Latency of successful calls from the intended send time (corrected "
                         "for coordinated omission); streams: per message.")
                   .Register(registry)),
      failed_latency_(prometheus::BuildHistogram()
                          .Name("aurigraph_loadgen_failed_latency_seconds")
                          .Help("Latency of failed unary calls from the intended send time, by "
                                "gRPC status code (kept apart from the successful calls').")
                          .Register(registry)),
      items_(prometheus::BuildCounter()
                 .Name("aurigraph_loadgen_items_total")
                 .Help("Items counted in OK responses (count_field), e.g. transactions accepted.")
                 .Register(registry)),
      messages_(prometheus::BuildCounter()
                    .Name("aurigraph_loadgen_stream_messages_received_total")
                    .Help("Messages received on streaming operations.")
                    .Register(registry)),
      rate_(prometheus::BuildGauge()
                .Name("aurigraph_loadgen_last_interval_completions_per_second")
                .Help("Completions (streams: messages received) per second in the last "
                      "completed interval.")
                .Register(registry)),
      percentiles_(prometheus::BuildGauge()
                       .Name("aurigraph_loadgen_last_interval_latency_seconds")
                       .Help(std::string("Latency percentile") + kLastInterval)
                       .Register(registry)),
      requests_(prometheus::BuildCounter()
                    .Name("aurigraph_loadgen_requests_total")
                    .Help("Unary requests completed, by operation and gRPC status code "
                          "(warm-up included).")
                    .Register(registry)),
      errors_(prometheus::BuildCounter()
                  .Name("aurigraph_loadgen_errors_total")
                  .Help("Requests completed, or stream messages received, with a status other "
                        "than OK, by operation and gRPC status code.")
                  .Register(registry)),
      finality_(prometheus::BuildCounter()
                    .Name("aurigraph_loadgen_finality_items_total")
                    .Help("Request items of operations with a finality stream, by outcome: final, "
                          "lost (acknowledged, not seen final within the timeout), "
                          "final_without_ack, duplicate, not_final_unacked, unmatched_event, "
                          "untracked.")
                    .Register(registry)),
      sent_(prometheus::BuildCounter()
                .Name("aurigraph_loadgen_requests_sent_total")
                .Help("Unary requests sent.")
                .Register(registry)
                .Add({})),
      in_flight_(prometheus::BuildGauge()
                     .Name("aurigraph_loadgen_in_flight_requests")
                     .Help("Unary requests sent and not yet completed, at the end of the last "
                           "completed interval.")
                     .Register(registry)
                     .Add({})),
      elapsed_(prometheus::BuildGauge()
                   .Name("aurigraph_loadgen_run_elapsed_seconds")
                   .Help("Time since the run started, at the end of the last completed interval.")
                   .Register(registry)
                   .Add({})),
      schedule_lag_(prometheus::BuildHistogram()
                        .Name("aurigraph_loadgen_schedule_lag_seconds")
                        .Help("Actual minus intended send time of each unary request.")
                        .Register(registry)
                        .Add({}, LatencyBucketsSeconds())),
      schedule_lag_last_(prometheus::BuildGauge()
                             .Name("aurigraph_loadgen_last_interval_schedule_lag_seconds")
                             .Help(std::string("Schedule lag percentile") + kLastInterval)
                             .Register(registry)),
      schedule_lag_p99_(schedule_lag_last_.Add({{"percentile", "99"}})),
      schedule_lag_max_(schedule_lag_last_.Add({{"percentile", "100"}})) {}

void RunMetrics::OnRunStart(const RunDescription& run) {
  auto& info_family = prometheus::BuildGauge()
                          .Name("aurigraph_loadgen_run_info")
                          .Help("The run: scenario, target and tool version (value 1).")
                          .Register(registry_);
  info_family
      .Add({{"scenario", run.scenario_name}, {"target", run.target}, {"version", run.tool_version}})
      .Set(1);
  prometheus::BuildGauge()
      .Name("aurigraph_loadgen_target_requests_per_second")
      .Help("Open-loop target arrival rate of unary requests (0 when closed loop or streams only).")
      .Register(registry_)
      .Add({})
      .Set(run.target_rate);
  prometheus::BuildGauge()
      .Name("aurigraph_loadgen_run_duration_seconds")
      .Help("Planned run duration (0 for a request budget).")
      .Register(registry_)
      .Add({})
      .Set(static_cast<double>(run.duration_nanos) / 1e9);

  operation_info_ = run.operations;
  for (const OperationDescription& op : run.operations) {
    const prometheus::Labels labels = {{"operation", op.name}, {"rpc", op.rpc}};
    OperationMetrics m{&latency_.Add(labels, LatencyBucketsSeconds()),
                       &items_.Add(labels),
                       op.streaming() ? &messages_.Add(labels) : nullptr,
                       &rate_.Add(labels),
                       {},
                       std::vector<prometheus::Counter*>(kStatusCodeCount, nullptr),
                       std::vector<prometheus::Counter*>(kStatusCodeCount, nullptr),
                       std::vector<prometheus::Histogram*>(kStatusCodeCount, nullptr)};
    if (op.finality()) {
      for (const char* outcome : kFinalityOutcomes) {
        prometheus::Labels with = labels;
        with["outcome"] = outcome;
        m.finality.push_back(&finality_.Add(with));
      }
    }
    for (const PercentileGauge& p : kPercentiles) {
      prometheus::Labels with = labels;
      with["percentile"] = p.label;
      m.percentiles.push_back(&percentiles_.Add(with));
    }
    operations_.push_back(std::move(m));
  }
}

prometheus::Counter& RunMetrics::CodeCounter(prometheus::Family<prometheus::Counter>& family,
                                             std::vector<prometheus::Counter*>& cache,
                                             size_t operation, int code) {
  if (cache[code] == nullptr) {
    const OperationDescription& op = operation_info_[operation];
    cache[code] =
        &family.Add({{"operation", op.name}, {"rpc", op.rpc}, {"grpc_code", StatusCodeName(code)}});
  }
  return *cache[code];
}

void RunMetrics::OnInterval(const IntervalSlice& slice, const TimelinePoint& point) {
  const double seconds = point.seconds;
  for (size_t i = 0; i < operations_.size() && i < slice.operations.size(); ++i) {
    const IntervalOperation& in = slice.operations[i];
    OperationMetrics& m = operations_[i];
    const bool streaming = operation_info_[i].streaming();
    const bool finality = operation_info_[i].finality();
    for (int code = 0; code < kStatusCodeCount; ++code) {
      if (in.codes[code] == 0) continue;
      const auto count = static_cast<double>(in.codes[code]);
      if (!streaming && !finality) CodeCounter(requests_, m.by_code, i, code).Increment(count);
      if (code != 0) CodeCounter(errors_, m.errors_by_code, i, code).Increment(count);
    }
    if (streaming) {
      m.messages->Increment(static_cast<double>(in.count));
    } else if (finality) {
      const FinalityCounts f = in.finality ? *in.finality : FinalityCounts();
      const int64_t outcomes[] = {
          in.codes[0],        f.lost,     f.final_without_ack, f.duplicates, f.not_final_unacked,
          f.unmatched_events, f.untracked};
      for (size_t k = 0; k < m.finality.size(); ++k) {
        m.finality[k]->Increment(static_cast<double>(outcomes[k]));
      }
    } else {
      unary_completed_total_ += in.count;
    }
    m.items->Increment(static_cast<double>(in.items));
    m.rate->Set(seconds > 0 ? static_cast<double>(in.count) / seconds : 0);
    ObserveHistogram(in.latency, *m.latency);
    for (int code = 1; code < kStatusCodeCount; ++code) {
      if (!in.failed[code] || in.failed[code]->TotalCount() == 0) continue;
      if (m.failed_latency[code] == nullptr) {
        const OperationDescription& op = operation_info_[i];
        m.failed_latency[code] = &failed_latency_.Add(
            {{"operation", op.name}, {"rpc", op.rpc}, {"grpc_code", StatusCodeName(code)}},
            LatencyBucketsSeconds());
      }
      ObserveHistogram(*in.failed[code], *m.failed_latency[code]);
    }
    for (size_t p = 0; p < m.percentiles.size(); ++p) {
      m.percentiles[p]->Set(
          in.latency.TotalCount() == 0
              ? 0
              : static_cast<double>(in.latency.ValueAtPercentile(kPercentiles[p].percentile)) /
                    1e6);
    }
  }
  sent_total_ += slice.sent;
  sent_.Increment(static_cast<double>(slice.sent));
  in_flight_.Set(static_cast<double>(sent_total_ - unary_completed_total_));
  ObserveHistogram(slice.schedule_lag, schedule_lag_);
  schedule_lag_p99_.Set(static_cast<double>(slice.schedule_lag.ValueAtPercentile(99)) / 1e6);
  schedule_lag_max_.Set(static_cast<double>(slice.schedule_lag.Max()) / 1e6);
  elapsed_.Increment(seconds);
}

}  // namespace aurigraph::loadgen
