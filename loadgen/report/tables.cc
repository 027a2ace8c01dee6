#include <cmath>
#include <nlohmann/json.hpp>
#include <string_view>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/units/units.h"
#include "loadgen/report/report.h"

namespace aurigraph::loadgen {
namespace {

// A CSV field as RFC 4180 writes it: quoted when it holds a comma, a quote or a line break.
std::string CsvField(std::string_view text) {
  if (text.find_first_of(",\"\r\n") == std::string_view::npos) return std::string(text);
  std::string out = "\"";
  for (char c : text) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"";
}

// The rate an operation was asked for over an interval: its share of the run's
// target, which a load profile changes over time (its mean over the interval).
double TargetRateOver(const RunResult& r, const OperationResult& op, const TimelinePoint& point) {
  if (op.target_rate <= 0 || r.target_rate <= 0 || r.load_profile.empty()) return op.target_rate;
  const double mean =
      LoadProfileMean(r.load_profile, point.offset_seconds, point.offset_seconds + point.seconds);
  return op.target_rate * mean / r.target_rate;
}

double Milliseconds(int64_t micros) { return static_cast<double>(micros) / 1000; }

nlohmann::ordered_json DashboardRow(const LoadedResult& loaded, size_t index,
                                    const OperationResult& op) {
  const RunResult& r = loaded.result;
  int gates_failed = 0;
  for (const GateResult& gate : r.gates) gates_failed += gate.passed ? 0 : 1;
  const Histogram& latency = *op.corrected;
  const bool timed = latency.TotalCount() > 0;
  const auto percentile = [&](double p) {
    return timed ? nlohmann::ordered_json(Milliseconds(latency.ValueAtPercentile(p)))
                 : nlohmann::ordered_json(nullptr);
  };
  return {{"run", index},
          {"source", loaded.source},
          {"scenario", r.scenario_name},
          {"target", r.target},
          {"tool_version", r.tool_version},
          {"start_time", FormatUnixTime(r.start_unix_nanos)},
          {"end_time", FormatUnixTime(r.end_unix_nanos)},
          {"measured_seconds", r.measured_seconds},
          {"load_model", r.load_model},
          {"verdict", r.passed() ? "pass" : "fail"},
          {"generator_kept_up", r.generator.kept_up},
          {"gates", r.gates.size()},
          {"gates_failed", gates_failed},
          {"operation", op.name},
          {"rpc", op.rpc},
          {"kind", op.kind},
          {"requests", op.requests},
          {"ok", op.ok},
          {"errors", op.errors()},
          {"error_ratio", op.error_ratio()},
          {"rate", op.achieved_rate},
          {"target_rate", op.target_rate},
          {"p50_ms", percentile(50)},
          {"p90_ms", percentile(90)},
          {"p99_ms", percentile(99)},
          {"p99_9_ms", percentile(99.9)},
          {"max_ms", timed ? nlohmann::ordered_json(Milliseconds(latency.Max()))
                           : nlohmann::ordered_json(nullptr)}};
}

}  // namespace

std::string RenderIntervalsCsv(const std::vector<LoadedResult>& runs) {
  std::string out =
      "run,scenario,time,offset_s,seconds,warmup,operation,kind,count,errors,rate,target_rate,"
      "p50_us,p90_us,p99_us,p99_9_us,max_us,sent,schedule_lag_p99_us\n";
  for (size_t i = 0; i < runs.size(); ++i) {
    const RunResult& r = runs[i].result;
    for (const TimelinePoint& point : r.timeline.points) {
      for (size_t o = 0; o < point.operations.size() && o < r.operations.size(); ++o) {
        const TimelineOperation& op = point.operations[o];
        const int64_t start = r.start_unix_nanos + std::llround(point.offset_seconds * 1e9);
        const double rate = point.seconds > 0 ? static_cast<double>(op.count) / point.seconds : 0;
        // Percentiles are empty where nothing was timed, so no chart draws a false 0.
        const auto latency = [&](int64_t micros) {
          return op.timed > 0 ? absl::StrCat(micros) : std::string();
        };
        absl::StrAppend(
            &out,
            absl::StrJoin({absl::StrCat(i), CsvField(r.scenario_name), FormatUnixTime(start),
                           absl::StrCat(point.offset_seconds), absl::StrCat(point.seconds),
                           std::string(point.warmup ? "1" : "0"), CsvField(r.operations[o].name),
                           r.operations[o].kind, absl::StrCat(op.count), absl::StrCat(op.errors),
                           absl::StrCat(rate),
                           absl::StrCat(TargetRateOver(r, r.operations[o], point)), latency(op.p50),
                           latency(op.p90), latency(op.p99), latency(op.p99_9), latency(op.max),
                           absl::StrCat(point.sent), absl::StrCat(point.schedule_lag_p99_us)},
                          ","),
            "\n");
      }
    }
  }
  return out;
}

std::string RenderDashboardJson(const std::vector<LoadedResult>& runs) {
  nlohmann::ordered_json rows = nlohmann::ordered_json::array();
  for (size_t i = 0; i < runs.size(); ++i) {
    const RunResult& r = runs[i].result;
    int unary = 0;
    for (const OperationResult& op : r.operations) {
      rows.push_back(DashboardRow(runs[i], i, op));
      unary += op.kind == "unary" ? 1 : 0;
    }
    if (unary > 1) rows.push_back(DashboardRow(runs[i], i, r.total));
  }
  return rows.dump(2) + "\n";
}

}  // namespace aurigraph::loadgen
