#include "loadgen/gates/gates.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <optional>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "absl/strings/strip.h"
#include "common/units/units.h"
#include "loadgen/trends/trends.h"

namespace aurigraph::loadgen {
namespace {

// The reason a gate gives when its operation recorded no figure at all.
constexpr const char* kNothingMeasured = "nothing measured";

bool LatencyPercentile(absl::string_view metric, double* percentile) {
  if (metric == "max") {
    *percentile = 100;
    return true;
  }
  if (metric.size() < 2 || metric[0] != 'p') return false;
  char* end = nullptr;
  const std::string number(metric.substr(1));
  *percentile = std::strtod(number.c_str(), &end);
  return end == number.c_str() + number.size() && *percentile > 0 && *percentile <= 100;
}

constexpr absl::string_view kHistogramPrefixes[] = {
    "uncorrected_",   "first_message_", "inter_arrival_", "send_lag_",
    "close_latency_", "phase_",         "webhook_"};

// Splits "first_message_p99" into the histogram ("first_message", or "" for the
// corrected latency) and the statistic ("p99", "max", "mean").
bool LatencyMetric(absl::string_view metric, std::string* histogram, double* percentile) {
  histogram->clear();
  for (absl::string_view prefix : kHistogramPrefixes) {
    if (absl::ConsumePrefix(&metric, prefix)) {
      *histogram = std::string(prefix.substr(0, prefix.size() - 1));
      break;
    }
  }
  if (metric == "mean") {
    *percentile = -1;
    return true;
  }
  return LatencyPercentile(metric, percentile);
}

constexpr absl::string_view kRateMetrics[] = {"rate", "items_rate", "received_rate", "sent_rate",
                                              "webhook_rate"};
constexpr absl::string_view kCountMetrics[] = {"requests",
                                               "items",
                                               "min_open_streams",
                                               "streams_ended_early",
                                               "streams_ended_by_server",
                                               "webhook_deliveries",
                                               "webhook_missing",
                                               "webhook_invalid_signatures",
                                               "webhook_duplicates",
                                               "webhook_dead_lettered",
                                               "webhook_unfinished",
                                               "lost",
                                               "duplicates",
                                               "final_without_ack",
                                               "not_final_unacked"};

constexpr absl::string_view kScrapedPrefix = "scraped_";

// A figure of a histogram scraped from the target (server_metrics:), named by
// the gate's operation or the run's only one: a quantile as the upper bound of
// its bucket (the most it can be), mean, count.
void ScrapedFigure(const RunResult& result, const Gate& gate, double* measured,
                   std::string* unmeasured) {
  // A run scraping nothing (server_metrics dropped, say for a run without the
  // cluster) measured nothing: the gate fails, as any unmeasured one does.
  if (result.server_histograms.empty()) {
    *unmeasured = "no server_metrics scraped";
    return;
  }
  const ServerHistogramResult* found = nullptr;
  for (const ServerHistogramResult& h : result.server_histograms) {
    if (gate.operation.empty() ? result.server_histograms.size() == 1 : h.name == gate.operation) {
      found = &h;
    }
  }
  // The scenario's check (CheckGateScope) refuses these before a run; a result
  // read back may still have them, and its figures are not thrown away for it.
  if (found == nullptr) {
    *unmeasured = gate.operation.empty()
                      ? std::string("several server histograms: name one with 'operation:'")
                      : absl::StrCat("no server histogram named '", gate.operation, "'");
    return;
  }
  absl::string_view figure = gate.metric;
  absl::ConsumePrefix(&figure, kScrapedPrefix);
  if (figure == "count") {
    *measured = found->count;
  } else if (found->count <= 0) {
    *unmeasured = kNothingMeasured;
  } else if (figure == "mean") {
    *measured = found->sum_seconds / found->count * 1e6;
  } else {
    double percentile = 0;
    LatencyPercentile(figure, &percentile);
    const double bound = found->UpperBoundSeconds(percentile / 100);
    if (std::isinf(bound)) {
      *measured = found->buckets.empty() ? 0 : found->buckets.back().le_seconds * 1e6;
      *unmeasured = "above the highest bucket";
    } else {
      *measured = bound * 1e6;
    }
  }
  if (!found->missing.empty()) {
    *unmeasured = absl::StrCat("figures from ", found->sources.size(), " of ",
                               found->sources.size() + found->missing.size(), " endpoints");
  }
}

// A webhook figure by gate name, from a run with a webhook sink.
int64_t WebhookCount(const WebhookResult& w, absl::string_view metric) {
  if (metric == "webhook_deliveries") return w.deliveries;
  if (metric == "webhook_missing") return w.missing;
  if (metric == "webhook_invalid_signatures") return w.invalid_signatures + w.malformed_bodies;
  if (metric == "webhook_duplicates") return w.duplicates;
  if (metric == "webhook_dead_lettered") return w.dead_lettered;
  return w.unfinished;
}
constexpr absl::string_view kFinalityCounts[] = {"lost", "duplicates", "final_without_ack",
                                                 "not_final_unacked"};
constexpr absl::string_view kFinalityPrefix = "finality_";

int64_t FinalityCount(const FinalityResult& f, absl::string_view metric) {
  if (metric == "lost") return f.lost;
  if (metric == "duplicates") return f.duplicates;
  if (metric == "final_without_ack") return f.final_without_ack;
  return f.not_final_unacked;
}

// The finality operation a finality gate is about: named by itself or by the
// operation it tracks, or the run's only one.
absl::StatusOr<const OperationResult*> FinalityOperation(const RunResult& result,
                                                         const Gate& gate) {
  const OperationResult* found = nullptr;
  int candidates = 0;
  for (const OperationResult& op : result.operations) {
    if (!op.finality) continue;
    if (gate.operation.empty() || op.name == gate.operation ||
        op.finality->tracks == gate.operation) {
      found = &op;
      ++candidates;
    }
  }
  if (candidates == 1) return found;
  return absl::InvalidArgumentError(absl::StrCat(
      "gate '", gate.expression, "': ", gate.metric,
      candidates == 0
          ? absl::StrCat(
                " needs an operation with finality:",
                gate.operation.empty() ? "" : absl::StrCat(" ('", gate.operation, "' has none)"))
          : " is ambiguous: name the operation with 'operation:'"));
}

constexpr absl::string_view kEventMetrics[] = {"recovery_time", "unavailable_max",
                                               "back_to_baseline"};

// The worst of the run's events on an event metric (us); why there is none, if not.
double WorstEventFigure(const RunResult& result, absl::string_view metric,
                        std::string* unmeasured) {
  if (result.events.empty()) {
    *unmeasured = "no events in the run";
    return 0;
  }
  double worst = 0;
  for (const EventResult& e : result.events) {
    if (!e.recovery_measured) {
      *unmeasured = "recovery not measured (no unary calls, or a run rebuilt from its logs)";
      return 0;
    }
    const double seconds = metric == "recovery_time"     ? e.first_success_after_seconds
                           : metric == "unavailable_max" ? e.unavailable_max_seconds
                                                         : e.recovered_seconds;
    if (seconds < 0) {
      *unmeasured =
          absl::StrCat(e.name, ": never",
                       e.recovery_note.empty() ? "" : absl::StrCat(" (", e.recovery_note, ")"));
      return 0;
    }
    worst = std::max(worst, seconds * 1e6);
  }
  return worst;
}

constexpr absl::string_view kStreamMetrics[] = {"received_rate",           "sent_rate",
                                                "min_open_streams",        "streams_ended_early",
                                                "streams_ended_by_server", "message_error_ratio"};
// The figures of an operation's measured calls or messages: over none, no verdict.
constexpr absl::string_view kOperationCounts[] = {"error_ratio",
                                                  "rate",
                                                  "rate_ratio",
                                                  "requests",
                                                  "items",
                                                  "items_rate",
                                                  "received_rate",
                                                  "sent_rate",
                                                  "streams_ended_early",
                                                  "streams_ended_by_server"};

bool OneOf(absl::string_view value, const auto& set) {
  return std::find(std::begin(set), std::end(set), value) != std::end(set);
}

std::string FormatValue(double value, const std::string& unit) {
  char buf[64];
  if (unit == "us") return FormatDuration(static_cast<int64_t>(value * 1000));
  if (unit == "bytes") return FormatBytes(static_cast<int64_t>(value));
  if (unit == "bytes/h") {
    return (value < 0 ? "-" : "") + FormatBytes(static_cast<int64_t>(std::abs(value))) + "/h";
  }
  if (unit == "ratio") {
    std::snprintf(buf, sizeof buf, "%.4g%%", value * 100);
  } else {
    std::snprintf(buf, sizeof buf, "%.6g", value);
  }
  return buf;
}

const char* ComparisonText(Gate::Comparison c) {
  switch (c) {
    case Gate::Comparison::kLess:
      return "<";
    case Gate::Comparison::kLessOrEqual:
      return "<=";
    case Gate::Comparison::kGreater:
      return ">";
    case Gate::Comparison::kGreaterOrEqual:
      return ">=";
    case Gate::Comparison::kEqual:
      return "==";
  }
  return "?";
}

}  // namespace

absl::StatusOr<Gate> ParseGate(const std::string& expression, const std::string& operation) {
  const auto error = [&](const std::string& why) {
    return absl::InvalidArgumentError(absl::StrCat("gate '", expression, "': ", why));
  };
  std::vector<std::string> parts = absl::StrSplit(expression, ' ', absl::SkipWhitespace());
  if (parts.size() != 3) return error("expected METRIC OP VALUE, e.g. 'p99 < 20ms'");
  Gate gate;
  gate.expression = expression;
  gate.operation = operation;
  gate.metric = parts[0];
  const std::string& op = parts[1];
  if (op == "<")
    gate.comparison = Gate::Comparison::kLess;
  else if (op == "<=")
    gate.comparison = Gate::Comparison::kLessOrEqual;
  else if (op == ">")
    gate.comparison = Gate::Comparison::kGreater;
  else if (op == ">=")
    gate.comparison = Gate::Comparison::kGreaterOrEqual;
  else if (op == "==")
    gate.comparison = Gate::Comparison::kEqual;
  else
    return error(absl::StrCat("unknown comparison '", op, "' (use <, <=, >, >=, ==)"));

  std::string histogram;
  double percentile = 0;
  absl::string_view latency_metric = gate.metric;
  if (absl::ConsumePrefix(&latency_metric, kScrapedPrefix)) {
    if (latency_metric == "count") {
      gate.unit = "count";
    } else if (LatencyMetric(latency_metric, &histogram, &percentile) && histogram.empty()) {
      gate.unit = "us";
    } else {
      return error(absl::StrCat("unknown metric '", gate.metric,
                                "' (scraped_p50 ... scraped_max, scraped_mean, scraped_count)"));
    }
    if (gate.unit == "us") {
      auto nanos = ParseDuration(parts[2]);
      if (!nanos.ok()) return error(std::string(nanos.status().message()));
      gate.limit = static_cast<double>(*nanos) / 1000.0;
    } else {
      char* end = nullptr;
      gate.limit = std::strtod(parts[2].c_str(), &end);
      if (end != parts[2].c_str() + parts[2].size()) return error("expected a number");
    }
    return gate;
  }
  const bool finality = absl::ConsumePrefix(&latency_metric, kFinalityPrefix);
  if ((LatencyMetric(latency_metric, &histogram, &percentile) &&
       (!finality || histogram.empty())) ||
      OneOf(gate.metric, kEventMetrics)) {
    auto nanos = ParseDuration(parts[2]);
    if (!nanos.ok()) return error(std::string(nanos.status().message()));
    gate.limit = static_cast<double>(*nanos) / 1000.0;
    gate.unit = "us";
    return gate;
  }
  if (gate.metric == "error_ratio" || gate.metric == "message_error_ratio" ||
      gate.metric == "rate_ratio" || gate.metric == "p99_drift" || gate.metric == "rate_drift") {
    auto ratio = ParseRatio(parts[2]);
    if (!ratio.ok()) return error(std::string(ratio.status().message()));
    gate.limit = *ratio;
    gate.unit = "ratio";
    return gate;
  }
  if (OneOf(gate.metric, kRateMetrics) || OneOf(gate.metric, kCountMetrics)) {
    char* end = nullptr;
    gate.limit = std::strtod(parts[2].c_str(), &end);
    if (end != parts[2].c_str() + parts[2].size()) return error("expected a number");
    gate.unit = OneOf(gate.metric, kRateMetrics) ? "1/s" : "count";
    return gate;
  }
  const bool slope = gate.metric == "loadgen_rss_slope" || gate.metric == "server_rss_slope";
  if (slope || gate.metric == "loadgen_peak_rss" || gate.metric == "server_peak_rss") {
    auto bytes = ParseBytes(parts[2]);
    if (!bytes.ok()) return error(std::string(bytes.status().message()));
    gate.limit = static_cast<double>(*bytes);
    gate.unit = slope ? "bytes/h" : "bytes";  // a slope's limit is per hour
    return gate;
  }
  return error(absl::StrCat(
      "unknown metric '", gate.metric,
      "' (p50, p99, p99.9, max, mean, uncorrected_p99, first_message_p99, inter_arrival_p99, "
      "send_lag_p99, close_latency_p99, phase_p99, error_ratio, message_error_ratio, rate_ratio, "
      "rate, requests, "
      "items, items_rate, received_rate, sent_rate, min_open_streams, streams_ended_early, "
      "streams_ended_by_server, "
      "loadgen_peak_rss, server_peak_rss, loadgen_rss_slope, server_rss_slope, p99_drift, "
      "rate_drift, webhook_p99, webhook_rate, webhook_deliveries, webhook_missing, "
      "webhook_invalid_signatures, webhook_duplicates, webhook_dead_lettered, "
      "webhook_unfinished, finality_p99, lost, duplicates, final_without_ack, "
      "not_final_unacked, recovery_time, unavailable_max, back_to_baseline, scraped_p99, "
      "scraped_count)"));
}

absl::StatusOr<std::vector<GateResult>> EvaluateGates(const std::vector<Gate>& gates,
                                                      const RunResult& result) {
  std::vector<GateResult> out;
  for (const Gate& gate : gates) {
    const OperationResult* op = &result.total;
    // A scraped histogram's gate names the histogram, not an operation.
    const bool scraped = absl::StartsWith(gate.metric, kScrapedPrefix);
    if (!gate.operation.empty() && !scraped) {
      op = nullptr;
      for (const auto& candidate : result.operations) {
        if (candidate.name == gate.operation) op = &candidate;
      }
      if (op == nullptr) {
        return absl::InvalidArgumentError(absl::StrCat(
            "gate '", gate.expression, "' names unknown operation '", gate.operation, "'"));
      }
    }
    absl::string_view latency_metric = gate.metric;
    const bool finality_metric = absl::ConsumePrefix(&latency_metric, kFinalityPrefix) ||
                                 OneOf(gate.metric, kFinalityCounts);
    // Finality counts without an operation add up every finality operation's.
    FinalityResult finality_counts;
    if (finality_metric && gate.operation.empty() && OneOf(gate.metric, kFinalityCounts)) {
      for (const OperationResult& candidate : result.operations) {
        if (!candidate.finality) continue;
        finality_counts.tracked += candidate.finality->tracked;
        finality_counts.lost += candidate.finality->lost;
        finality_counts.duplicates += candidate.finality->duplicates;
        finality_counts.final_without_ack += candidate.finality->final_without_ack;
        finality_counts.not_final_unacked += candidate.finality->not_final_unacked;
      }
    } else if (finality_metric) {
      auto finality_op = FinalityOperation(result, gate);
      if (!finality_op.ok()) return finality_op.status();
      op = *finality_op;
      finality_counts = *op->finality;
    }
    const StreamResult* stream = op->stream.get();
    std::string histogram_name;
    double percentile = 0;
    const bool is_latency = LatencyMetric(latency_metric, &histogram_name, &percentile);
    const bool webhook_metric = absl::StartsWith(gate.metric, "webhook_");
    const bool needs_stream =
        OneOf(gate.metric, kStreamMetrics) || (is_latency && !histogram_name.empty() &&
                                               histogram_name != "uncorrected" && !webhook_metric);
    if (needs_stream && stream == nullptr) {
      return absl::InvalidArgumentError(
          absl::StrCat("gate '", gate.expression, "': ", gate.metric,
                       " needs a streaming operation; name one with 'operation:'"));
    }
    double measured = 0;
    // Nothing measured is never a pass.
    std::string unmeasured;
    std::string note;              // how the figure was judged, when it is not plain
    std::optional<double> judged;  // what is held against the limit, when not `measured`
    const bool operation_measured =
        op->requests > 0 ||
        (stream != nullptr && (stream->measured_sent > 0 || stream->measured_received > 0));
    if (scraped) {
      ScrapedFigure(result, gate, &measured, &unmeasured);
    } else if (OneOf(gate.metric, kEventMetrics)) {
      measured = WorstEventFigure(result, gate.metric, &unmeasured);
    } else if (!operation_measured && OneOf(gate.metric, kOperationCounts)) {
      unmeasured = kNothingMeasured;
    } else if (finality_metric && !is_latency) {
      measured = static_cast<double>(FinalityCount(finality_counts, gate.metric));
      if (finality_counts.tracked == 0) unmeasured = "nothing tracked";
    } else if (webhook_metric && !result.webhooks) {
      unmeasured = "no webhook_sink in the scenario";
    } else if (webhook_metric && !result.webhooks->error.empty()) {
      unmeasured = result.webhooks->error;
    } else if (webhook_metric && !is_latency) {
      const WebhookResult& w = *result.webhooks;
      measured = gate.metric == "webhook_rate" ? w.delivery_rate
                                               : static_cast<double>(WebhookCount(w, gate.metric));
    } else if (is_latency) {
      const Histogram* histogram = op->corrected.get();
      if (webhook_metric) {
        histogram = result.webhooks->latency.get();
      } else if (histogram_name == "uncorrected") {
        histogram = op->uncorrected.get();
      } else if (!histogram_name.empty()) {
        const auto it = stream->histograms.find(histogram_name);
        histogram = it == stream->histograms.end() ? nullptr : it->second.get();
      }
      if (histogram == nullptr || histogram->TotalCount() == 0) {
        unmeasured = kNothingMeasured;
      } else if (percentile < 0) {
        measured = histogram->Mean();
      } else {
        measured = static_cast<double>(
            percentile >= 100 ? histogram->Max() : histogram->ValueAtPercentile(percentile));
      }
    } else if (gate.metric == "error_ratio") {
      measured = op->error_ratio();
    } else if (gate.metric == "message_error_ratio") {
      // A stream's own error_ratio is of its streams; this one is of the
      // messages whose status it read (stream.status_field).
      int64_t with_status = 0;
      int64_t failed = 0;
      for (const auto& [code, count] : stream->message_codes) {
        with_status += count;
        if (code != "OK") failed += count;
      }
      if (with_status == 0) {
        unmeasured = "no message with a status (stream.status_field)";
      } else {
        measured = static_cast<double>(failed) / static_cast<double>(with_status);
      }
    } else if (gate.metric == "rate") {
      measured = op->achieved_rate;
    } else if (gate.metric == "requests") {
      measured = static_cast<double>(op->requests);
    } else if (gate.metric == "rate_ratio") {
      measured = op->target_rate > 0 ? op->achieved_rate / op->target_rate : 0;
    } else if (gate.metric == "items") {
      measured = static_cast<double>(op->items);
    } else if (gate.metric == "items_rate") {
      measured = op->items_rate;
    } else if (gate.metric == "received_rate") {
      measured = stream->received_rate;
    } else if (gate.metric == "sent_rate") {
      measured = stream->sent_rate;
    } else if (gate.metric == "min_open_streams") {
      measured = static_cast<double>(std::max<int64_t>(0, stream->min_open_streams));
      if (stream->min_open_streams < 0) unmeasured = "not sampled";
    } else if (gate.metric == "streams_ended_early") {
      measured = static_cast<double>(stream->streams_ended_early);
    } else if (gate.metric == "streams_ended_by_server") {
      measured = static_cast<double>(stream->streams_ended_by_server);
    } else if (gate.metric == "loadgen_rss_slope" || gate.metric == "server_rss_slope") {
      const Trend trend =
          RssTrend(result.timeline,
                   gate.metric == "loadgen_rss_slope" ? Process::kLoadgen : Process::kTarget);
      // A slope is judged by the end of its noise band (two standard errors)
      // nearer the limit: a bound on growth fails on growth beyond it past
      // the noise, so an allocator's sawtooth in a short run does not read
      // as a leak; the message says when the band is too wide to tell much.
      measured = trend.slope_per_hour;
      const double band = 2 * trend.standard_error_per_hour;
      if (!trend.measured) {
        unmeasured = absl::StrCat("only ", trend.samples, " memory samples after warm-up");
      } else if (gate.comparison != Gate::Comparison::kEqual) {
        const bool upper = gate.comparison == Gate::Comparison::kLess ||
                           gate.comparison == Gate::Comparison::kLessOrEqual;
        judged = upper ? measured - band : measured + band;
        char r2[16];
        std::snprintf(r2, sizeof r2, "%.2f", trend.r2);
        note = absl::StrCat("judged by ", FormatValue(*judged, gate.unit), ": +- ",
                            FormatValue(band, gate.unit), ", r2 ", r2,
                            band > std::abs(gate.limit)
                                ? "; the band is wider than the limit: run longer to tell"
                                : "");
      }
    } else if (gate.metric == "p99_drift" || gate.metric == "rate_drift") {
      const Drift drift =
          gate.metric == "p99_drift" ? P99Drift(result.timeline) : RateDrift(result);
      measured = drift.change;
      if (!drift.measured) unmeasured = "too few intervals";
      // A load profile changes the rate on purpose: no drift can be told from it.
      if (gate.metric == "rate_drift" && !result.load_profile.empty()) {
        unmeasured = "the rate follows a load profile";
      }
    } else {
      const int64_t bytes = gate.metric == "loadgen_peak_rss"
                                ? result.resources.loadgen_peak_rss_bytes
                                : result.resources.server_peak_rss_bytes;
      measured = static_cast<double>(std::max<int64_t>(0, bytes));
      if (bytes < 0) unmeasured = "not measured";
    }
    bool passed = false;
    const double held = judged.value_or(measured);
    switch (gate.comparison) {
      case Gate::Comparison::kLess:
        passed = held < gate.limit;
        break;
      case Gate::Comparison::kLessOrEqual:
        passed = held <= gate.limit;
        break;
      case Gate::Comparison::kGreater:
        passed = held > gate.limit;
        break;
      case Gate::Comparison::kGreaterOrEqual:
        passed = held >= gate.limit;
        break;
      case Gate::Comparison::kEqual:
        passed = held == gate.limit;
        break;
    }
    if (!unmeasured.empty()) passed = false;
    GateResult r;
    r.expression = gate.expression;
    r.operation = gate.operation;
    r.metric = gate.metric;
    r.unit = gate.unit;
    r.measured = measured;
    r.limit = gate.limit;
    r.passed = passed;
    r.message = absl::StrCat(
        gate.metric, gate.operation.empty() ? "" : absl::StrCat("[", gate.operation, "]"), " = ",
        FormatValue(measured, gate.unit), ", limit ", ComparisonText(gate.comparison), " ",
        FormatValue(gate.limit, gate.unit),
        unmeasured.empty() ? "" : absl::StrCat(" (", unmeasured, ")"),
        note.empty() ? "" : absl::StrCat(" (", note, ")"));
    out.push_back(std::move(r));
  }
  return out;
}

bool MeasuredNothing(const GateResult& gate) {
  return !gate.passed && absl::EndsWith(gate.message, absl::StrCat("(", kNothingMeasured, ")"));
}

}  // namespace aurigraph::loadgen
