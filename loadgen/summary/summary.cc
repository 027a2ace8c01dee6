#include "loadgen/summary/summary.h"

#include <cstdio>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/units/units.h"

namespace aurigraph::loadgen {
namespace {

std::string Us(int64_t micros) { return FormatDuration(micros * 1000); }

std::string LatencyLine(const char* label, const Histogram& h) {
  return absl::StrCat("    ", label, " p50 ", Us(h.ValueAtPercentile(50)), "  p90 ",
                      Us(h.ValueAtPercentile(90)), "  p99 ", Us(h.ValueAtPercentile(99)),
                      "  p99.9 ", Us(h.ValueAtPercentile(99.9)), "  p99.99 ",
                      Us(h.ValueAtPercentile(99.99)), "  max ", Us(h.Max()), "\n");
}

std::string OperationBlock(const OperationResult& op) {
  char rate[96];
  if (op.target_rate > 0) {
    std::snprintf(rate, sizeof rate, "%.1f/s of %.1f/s target (%.1f%%)", op.achieved_rate,
                  op.target_rate, 100 * op.achieved_rate / op.target_rate);
  } else {
    std::snprintf(rate, sizeof rate, "%.1f/s", op.achieved_rate);
  }
  std::string out = absl::StrCat(
      "  ", op.name, op.rpc == "*" ? "" : absl::StrCat(" (", op.rpc, ")"), "\n    requests ",
      op.requests, "  ok ", op.ok, "  errors ", op.errors(), "  rate ", rate, "\n");
  if (op.errors() > 0) {
    out += "    codes";
    for (const auto& [code, count] : op.status_codes) absl::StrAppend(&out, " ", code, "=", count);
    out += "\n";
  }
  out += LatencyLine("latency    ", *op.corrected);
  out += LatencyLine("uncorrected", *op.uncorrected);
  return out;
}

}  // namespace

std::string FormatSummary(const RunResult& r) {
  std::string out =
      absl::StrCat("scenario ", r.scenario_name, " against ", r.target, " (", r.load_model, " loop",
                   r.target_rate > 0 ? absl::StrCat(", ", r.target_rate, "/s") : "", "), measured ",
                   absl::StrFormat("%.2f", r.measured_seconds), " s\n");
  for (const auto& op : r.operations) out += OperationBlock(op);
  if (r.operations.size() > 1) out += OperationBlock(r.total);
  const GeneratorHealth& g = r.generator;
  absl::StrAppend(&out, "  generator: sent ", g.sent, ", schedule lag p99 ",
                  Us(g.schedule_lag->ValueAtPercentile(99)), " (own p99 ",
                  Us(g.generator_lag->ValueAtPercentile(99)), ", max ", Us(g.generator_lag->Max()),
                  "), ", g.delayed_by_in_flight_bound, " waited for an in-flight slot");
  if (g.cancelled_at_drain > 0)
    absl::StrAppend(&out, ", ", g.cancelled_at_drain, " cancelled at drain");
  out += g.kept_up ? ", kept up\n" : absl::StrCat("\n  INVALID RUN: ", g.verdict, "\n");
  for (const auto& gate : r.gates) {
    absl::StrAppend(&out, "  gate ", gate.passed ? "PASS" : "FAIL", "  ", gate.expression,
                    gate.operation.empty() ? "" : absl::StrCat(" [", gate.operation, "]"), ": ",
                    gate.message, "\n");
  }
  return out;
}

}  // namespace aurigraph::loadgen
