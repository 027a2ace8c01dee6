#include "loadgen/summary/summary.h"

#include <cmath>
#include <cstdio>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/units/units.h"
#include "loadgen/trends/trends.h"

namespace aurigraph::loadgen {
namespace {

std::string Us(int64_t micros) { return FormatDuration(micros * 1000); }

std::string LatencyLine(const std::string& label, const Histogram& h) {
  return absl::StrCat("    ", label, " p50 ", Us(h.ValueAtPercentile(50)), "  p90 ",
                      Us(h.ValueAtPercentile(90)), "  p99 ", Us(h.ValueAtPercentile(99)),
                      "  p99.9 ", Us(h.ValueAtPercentile(99.9)), "  p99.99 ",
                      Us(h.ValueAtPercentile(99.99)), "  max ", Us(h.Max()), "\n");
}

// The most frequent status messages of each failing code, then the rest's count.
constexpr size_t kMessagesPerCode = 3;

std::string MessageLines(const OperationResult& op) {
  std::string out;
  for (const auto& [code, kept] : op.error_messages) {
    int64_t rest = kept.other;
    for (size_t i = 0; i < kept.messages.size(); ++i) {
      const MessageCount& m = kept.messages[i];
      if (i >= kMessagesPerCode) {
        rest += m.count;
        continue;
      }
      absl::StrAppend(&out, "    error ", code, "=", m.count, " ",
                      m.message.empty() ? "(no message)" : absl::StrCat("\"", m.message, "\""),
                      "\n");
    }
    if (rest > 0) absl::StrAppend(&out, "    error ", code, "=", rest, " (other messages)\n");
  }
  return out;
}

// Bytes per request and response as the client saw them (whole where the
// transport saw the framing, and their payloads), and answers by HTTP status.
std::string WireLine(const WireTotals& w) {
  const auto per = [](int64_t bytes, int64_t count) { return count > 0 ? bytes / count : 0; };
  std::string out = "    wire";
  if (w.request_bytes >= 0 && w.response_bytes >= 0) {
    absl::StrAppend(&out, " ", per(w.request_bytes, w.requests), " B/request, ",
                    per(w.response_bytes, w.responses), " B/response;");
  }
  absl::StrAppend(&out, " payload ", per(w.request_payload_bytes, w.requests), " B/request, ",
                  per(w.response_payload_bytes, w.responses), " B/response");
  if (!w.by_status.empty()) {
    out += "; HTTP";
    for (const auto& [status, count] : w.by_status) absl::StrAppend(&out, " ", status, "=", count);
  }
  return out + "\n";
}

std::string StreamBlock(const OperationResult& op) {
  const StreamResult& s = *op.stream;
  std::string out = absl::StrCat("  ", op.name, " (", op.rpc, ", ", s.mode, ")\n");
  absl::StrAppend(&out, "    streams ", s.streams_target, " wanted, ", s.streams_opened,
                  " opened, open during the window ", s.min_open_streams, "..", s.max_open_streams,
                  "; ended: ", s.streams_completed, " as planned, ", s.streams_failed, " failed, ",
                  s.streams_ended_early, " early",
                  s.streams_ended_by_server > 0
                      ? absl::StrCat(", ", s.streams_ended_by_server, " closed OK by the server")
                      : "",
                  "\n");
  if (s.streams_failed_to_open > 0) {
    absl::StrAppend(&out, "    OUTAGE: ", s.streams_failed_to_open,
                    " streams failed before any message arrived (codes below); each was reopened "
                    "after a backoff\n");
  }
  // The measured window's counts go with its rates; the whole run's (warm-up
  // and the drain included) only beside them, when they differ.
  absl::StrAppend(&out, "    messages received ", s.measured_received,
                  absl::StrFormat(" (%.1f/s)", s.received_rate), ", sent ", s.measured_sent,
                  absl::StrFormat(" (%.1f/s)", s.sent_rate));
  if (s.messages_received != s.measured_received || s.messages_sent != s.measured_sent) {
    absl::StrAppend(&out, "; whole run: received ", s.messages_received, ", sent ",
                    s.messages_sent);
  }
  if (s.unmatched_replies > 0) absl::StrAppend(&out, ", ", s.unmatched_replies, " unmatched");
  if (s.delayed_sends > 0) absl::StrAppend(&out, ", ", s.delayed_sends, " sends held up");
  if (s.messages_not_sent > 0) {
    absl::StrAppend(&out, ", ", s.messages_not_sent, " due but not sent by the end");
  }
  out += "\n";
  if (op.errors() > 0 || !s.message_codes.empty()) {
    out += "    codes";
    for (const auto& [code, count] : op.status_codes) absl::StrAppend(&out, " ", code, "=", count);
    for (const auto& [code, count] : s.message_codes)
      absl::StrAppend(&out, " message:", code, "=", count);
    out += "\n";
  }
  out += MessageLines(op);
  if (op.wire) out += WireLine(*op.wire);
  if (op.corrected->TotalCount() > 0) out += LatencyLine("message    ", *op.corrected);
  if (op.uncorrected->TotalCount() > 0) out += LatencyLine("uncorrected", *op.uncorrected);
  for (const auto& [name, label] :
       {std::pair{"first_message", "first msg  "}, std::pair{"inter_arrival", "gap        "},
        std::pair{"send_lag", "send lag   "}, std::pair{"close_latency", "close      "},
        std::pair{"phase", "phase      "}}) {
    const auto it = s.histograms.find(name);
    if (it == s.histograms.end() || it->second->TotalCount() == 0) continue;
    out += LatencyLine(std::string(name) == "phase" && !s.phase_name.empty()
                           ? absl::StrFormat("%-11s", s.phase_name)
                           : label,
                       *it->second);
  }
  return out;
}

// A finality operation: the tracked items, final or not, then the latency lines.
std::string FinalityBlock(const OperationResult& op) {
  const FinalityResult& f = *op.finality;
  std::string out = absl::StrCat(
      "  ", op.name, " (", f.tracks, "'s requests seen final on ", op.rpc, ", ", f.subscriptions,
      f.subscriptions == 1 ? " subscription" : " subscriptions", ", timeout ",
      FormatDuration(f.timeout_us * 1000), ")\n    tracked ", f.tracked, "  final ", op.ok,
      "  lost ", f.lost, "  duplicates ", f.duplicates, "  final without ack ", f.final_without_ack,
      absl::StrFormat("  rate %.1f/s", op.achieved_rate), "\n");
  if (f.not_final_unacked > 0 || f.untracked > 0 || f.subscription_breaks > 0) {
    absl::StrAppend(&out, "    failed and never final ", f.not_final_unacked, " (not lost)",
                    f.untracked > 0 ? absl::StrCat(", dropped untracked ", f.untracked) : "",
                    f.subscription_breaks > 0
                        ? absl::StrCat(", subscriptions broken ", f.subscription_breaks,
                                       " times (finals may have been missed)")
                        : "",
                    "\n");
  }
  out += op.corrected->TotalCount() > 0 ? LatencyLine("final      ", *op.corrected)
                                        : "    final       none: nothing seen final\n";
  if (op.uncorrected->TotalCount() > 0) out += LatencyLine("uncorrected", *op.uncorrected);
  return out;
}

std::string OperationBlock(const OperationResult& op) {
  if (op.stream) return StreamBlock(op);
  if (op.finality) return FinalityBlock(op);
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
  out += MessageLines(op);
  if (op.wire) out += WireLine(*op.wire);
  if (op.items > 0) {
    absl::StrAppend(&out, "    items ", op.items, absl::StrFormat(" (%.1f/s)", op.items_rate),
                    "\n");
  }
  // Successful calls only; each failing code's latency on its own line.
  out += op.corrected->TotalCount() > 0 ? LatencyLine("latency    ", *op.corrected)
                                        : "    latency     none: no call succeeded\n";
  if (op.uncorrected->TotalCount() > 0) out += LatencyLine("uncorrected", *op.uncorrected);
  for (const auto& [code, histogram] : op.failed) {
    out += LatencyLine(absl::StrFormat("%-11s", absl::StrCat("failed ", code)), *histogram);
  }
  return out;
}

}  // namespace

std::string FormatSummary(const RunResult& r) {
  std::string out = absl::StrCat(
      "scenario ", r.scenario_name, " against ", r.target, " (",
      r.load_model == "streams" ? "streams only" : absl::StrCat(r.load_model, " loop"),
      !r.load_profile.empty()
          ? absl::StrCat(
                ", ",
                DescribeLoadProfile(r.load_profile, r.load_model == "open" ? "/s" : " in flight"),
                r.target_rate > 0
                    ? absl::StrCat("; mean ", std::round(r.target_rate * 10) / 10, "/s")
                    : "")
      : r.target_rate <= 0        ? ""
      : r.load_model == "streams" ? absl::StrCat(", messages paced at ", r.target_rate, "/s")
                                  : absl::StrCat(", ", r.target_rate, "/s"),
      "), measured ", absl::StrFormat("%.2f", r.measured_seconds), " s\n");
  int unary = 0;
  for (const auto& op : r.operations) {
    out += OperationBlock(op);
    if (!op.stream && !op.finality) ++unary;
  }
  if (unary > 1) out += OperationBlock(r.total);
  const Resources& m = r.resources;
  if (m.loadgen_peak_rss_bytes >= 0 || m.server_peak_rss_bytes >= 0) {
    absl::StrAppend(
        &out, "  memory: loadgen peak ",
        m.loadgen_peak_rss_bytes >= 0 ? FormatBytes(m.loadgen_peak_rss_bytes) : "?",
        ", server peak ",
        m.server_peak_rss_bytes >= 0 ? FormatBytes(m.server_peak_rss_bytes) : "not reported",
        m.server_rss_bytes >= 0 ? absl::StrCat(" (now ", FormatBytes(m.server_rss_bytes), ")") : "",
        "\n");
  }
  // Over the run: memory growth of both processes, and drift of p99 and rate.
  std::string trends;
  for (const auto& [name, process] :
       {std::pair{"loadgen", Process::kLoadgen}, std::pair{"target", Process::kTarget}}) {
    const Trend trend = RssTrend(r.timeline, process);
    if (!trend.measured) continue;
    absl::StrAppend(&trends, trends.empty() ? "" : "; ", name,
                    process == Process::kTarget ? absl::StrCat(" (pid ", m.watched_pid, ")") : "",
                    " RSS ", trend.slope_per_hour < 0 ? "-" : "+",
                    FormatBytes(static_cast<int64_t>(std::abs(trend.slope_per_hour))), "/h (r2 ",
                    absl::StrFormat("%.2f", trend.r2), ")");
  }
  const Drift p99 = P99Drift(r.timeline), rate = RateDrift(r);
  if (p99.measured) {
    absl::StrAppend(&trends, trends.empty() ? "" : "; ", "p99 ",
                    Us(static_cast<int64_t>(p99.first)), " -> ", Us(static_cast<int64_t>(p99.last)),
                    absl::StrFormat(" (%+.1f%%)", p99.change * 100));
  }
  // A load profile changes the rate on purpose.
  if (rate.measured && r.load_profile.empty()) {
    absl::StrAppend(
        &trends, trends.empty() ? "" : "; ", "rate ",
        absl::StrFormat("%.0f -> %.0f/s (%+.1f%%)", rate.first, rate.last, rate.change * 100));
  }
  if (!trends.empty())
    absl::StrAppend(&out, "  trends (first vs last quarter, memory fit): ", trends, "\n");
  for (const EventResult& e : r.events) {
    absl::StrAppend(&out, "  event ", e.name, " at ", absl::StrFormat("%.3f", e.at_seconds), " s (",
                    e.action, "): ",
                    e.started_seconds < 0 ? std::string("not run")
                    : e.ok                ? std::string("ok")
                                          : absl::StrCat("failed, ", e.error),
                    "\n");
    if (!e.recovery_measured) continue;
    const auto seconds = [](double s) {
      return s < 0 ? std::string("never") : FormatDuration(static_cast<int64_t>(s * 1e9));
    };
    absl::StrAppend(&out, "    recovery: first success after ",
                    seconds(e.first_success_after_seconds), ", unavailable at most ",
                    seconds(e.unavailable_max_seconds), ", back to baseline after ",
                    seconds(e.recovered_seconds));
    for (const auto& [code, count] : e.failed_by_code)
      absl::StrAppend(&out, ", ", code, "=", count);
    if (!e.recovery_note.empty()) absl::StrAppend(&out, " (", e.recovery_note, ")");
    out += "\n";
  }
  for (const ServerHistogramResult& h : r.server_histograms) {
    absl::StrAppend(
        &out, "  server ", h.name, " (", h.Selector(),
        ", scraped): ", absl::StrFormat("%.0f", h.count), " observed",
        h.count > 0 ? absl::StrCat(", mean ", h.MeanText(), ", p50 ", h.UpperBoundText(0.5),
                                   ", p99 ", h.UpperBoundText(0.99), ", max ", h.UpperBoundText(1))
                    : "",
        "; from ", h.SourcesText(), "\n");
  }
  if (r.webhooks) {
    const WebhookResult& w = *r.webhooks;
    if (!w.error.empty()) {
      absl::StrAppend(&out, "  webhooks: not read back: ", w.error, "\n");
    } else {
      const Histogram& h = *w.latency;
      absl::StrAppend(&out, "  webhooks: ", w.records, " deliveries made, ", w.deliveries,
                      " received", absl::StrFormat(" (%.0f/s)", w.delivery_rate),
                      ", event to delivery p50 ", Us(h.ValueAtPercentile(50)), " p99 ",
                      Us(h.ValueAtPercentile(99)), " max ", Us(h.Max()), "; ", w.attempts,
                      " attempts, ", w.injected_failures, " failed on purpose, ", w.dead_lettered,
                      " dead-lettered, ", w.missing, " missing, ", w.duplicates, " duplicates, ",
                      w.invalid_signatures + w.malformed_bodies, " badly signed, ",
                      w.stale_timestamps, " stale",
                      absl::StrFormat("; settled %.1fs after the load\n", w.drain_seconds));
    }
  }
  const GeneratorHealth& g = r.generator;
  const std::string cpu =
      g.cpu_seconds >= 0 ? absl::StrFormat("%.1f CPU-s on %d cores", g.cpu_seconds, g.cpu_cores)
                         : "CPU not measured";
  if (r.load_model == "streams") {
    // No calls were scheduled: the streams' own send lag is in their blocks above.
    absl::StrAppend(&out, "  generator: streams only, ", cpu);
  } else {
    absl::StrAppend(&out, "  generator: sent ", g.sent, ", ", cpu, ", schedule lag p99 ",
                    Us(g.schedule_lag->ValueAtPercentile(99)), " (own p99 ",
                    Us(g.generator_lag->ValueAtPercentile(99)), ", max ",
                    Us(g.generator_lag->Max()), "), ", g.delayed_by_in_flight_bound,
                    " waited for an in-flight slot");
  }
  if (g.cancelled_at_drain > 0)
    absl::StrAppend(&out, ", ", g.cancelled_at_drain, " cancelled at drain");
  if (g.request_build_errors > 0) {
    absl::StrAppend(
        &out, ", not sent: ", g.request_build_errors,
        " (could not be built: a templated value out of its field's range, or map keys alike)");
  }
  if (g.not_sent_generator_behind > 0) {
    absl::StrAppend(&out, ", not sent: ", g.not_sent_generator_behind, " (generator behind)");
  }
  if (g.not_sent_in_flight_bound > 0) {
    absl::StrAppend(&out, ", not sent: ", g.not_sent_in_flight_bound,
                    " (every in-flight slot busy: the target did not keep up)");
  }
  out += g.kept_up ? ", kept up\n" : absl::StrCat("\n  INVALID RUN: ", g.verdict, "\n");
  for (const GeneratorProcess& w : r.workers) {
    absl::StrAppend(
        &out, "  process ", w.index, " (", w.host, "): sent ", w.sent, ", schedule lag p99 ",
        Us(w.schedule_lag_p99_us), " (own p99 ", Us(w.generator_lag_p99_us), ")",
        w.cpu_seconds >= 0 ? absl::StrFormat(", %.1f CPU-s", w.cpu_seconds) : "",
        w.clock_uncertainty_us >= 0 ? absl::StrCat(", clock offset ", w.clock_offset_us, "us +/- ",
                                                   w.clock_uncertainty_us, "us")
                                    : "",
        w.kept_up ? ", kept up" : absl::StrCat(", fell behind: ", w.verdict),
        w.stopped_at_seconds >= 0
            ? absl::StrFormat(", STOPPED at %.1fs (did not finish)", w.stopped_at_seconds)
            : "",
        "\n");
  }
  if (!r.complete()) {
    absl::StrAppend(&out,
                    "  INCOMPLETE RUN: a process did not finish; its figures up to where it "
                    "stopped are kept\n");
  }
  for (const auto& gate : r.gates) {
    absl::StrAppend(&out, "  gate ", gate.passed ? "PASS" : "FAIL", "  ", gate.expression,
                    gate.operation.empty() ? "" : absl::StrCat(" [", gate.operation, "]"), ": ",
                    gate.message, "\n");
  }
  return out;
}

}  // namespace aurigraph::loadgen
