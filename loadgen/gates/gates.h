// SLO gates: expressions such as "p99 < 20ms", "error_ratio < 0.1%",
// "rate_ratio >= 99%" or "rate >= 50000", checked against a saved result.
// A pure function of the result, so a report can re-check a run's gates.
#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "loadgen/result/run_result.h"

namespace aurigraph::loadgen {

struct Gate {
  std::string expression;
  std::string operation;  // empty = all operations together
  // Latency: p50 p90 p99 p99.9 p99.99 max mean (corrected latency; for streams the
  // per-message latency), or one of those prefixed by a histogram: uncorrected_,
  // and for streams first_message_, inter_arrival_, send_lag_, close_latency_, phase_.
  // Counts and rates: error_ratio, rate_ratio, rate, requests, items, items_rate; for
  // streams received_rate, sent_rate, min_open_streams, streams_ended_early,
  // streams_ended_by_server.
  // Memory: loadgen_peak_rss, server_peak_rss; growth over the run (soak):
  // loadgen_rss_slope, server_rss_slope (per hour, e.g. "server_rss_slope < 50MB").
  // Drift, end against beginning: p99_drift, rate_drift (e.g. "p99_drift < 25%").
  // Webhooks (with webhook_sink:): webhook_p50 ... webhook_max (event to delivery),
  // webhook_rate, and counts webhook_deliveries, webhook_missing,
  // webhook_invalid_signatures, webhook_duplicates, webhook_dead_lettered, webhook_unfinished.
  // Finality (an operation with finality:, named by itself or its finality
  // operation): finality_p50 ... finality_max, finality_mean (submit -> final;
  // without a name, the run's only one), and counts lost, duplicates,
  // final_without_ack, not_final_unacked (without a name, all together).
  // Scheduled events (events:), the worst over them: recovery_time (to the first
  // success of a request sent after it), unavailable_max (the longest time with
  // no success), back_to_baseline (until p99 and rate were within 10% again).
  // The target's own histograms (server_metrics:), named by operation: NAME or
  // the run's only one: scraped_p50 ... scraped_max (the upper bound of the
  // quantile's bucket), scraped_mean, scraped_count.
  std::string metric;
  enum class Comparison { kLess, kLessOrEqual, kGreater, kGreaterOrEqual, kEqual } comparison;
  double limit = 0;  // latency in microseconds, ratios as fractions, rates per second
  std::string unit;  // "us", "ratio", "1/s", "count", "bytes", "bytes/h"
};

absl::StatusOr<Gate> ParseGate(const std::string& expression, const std::string& operation);

// Whether a checked gate failed because its operation recorded nothing it measures.
bool MeasuredNothing(const GateResult& gate);

// Fails with INVALID_ARGUMENT when a gate names an operation the result does not have.
absl::StatusOr<std::vector<GateResult>> EvaluateGates(const std::vector<Gate>& gates,
                                                      const RunResult& result);

}  // namespace aurigraph::loadgen
