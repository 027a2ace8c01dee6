#include "loadgen/report/report.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <nlohmann/json.hpp>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "common/units/units.h"
#include "loadgen/report/escape.h"
#include "loadgen/report/format.h"
#include "loadgen/report/html_page.h"
#include "loadgen/report/spectrum.h"
#include "loadgen/result/profile_json.h"

namespace aurigraph::loadgen {
namespace {

using nlohmann::ordered_json;

struct Percentile {
  const char* label;
  double percentile;
};
constexpr Percentile kTablePercentiles[] = {
    {"p50", 50}, {"p90", 90}, {"p99", 99}, {"p99.9", 99.9}, {"p99.99", 99.99}};

std::string Latency(const OperationResult& op, double percentile) {
  return op.corrected->TotalCount() == 0 ? "-"
                                         : Micros(op.corrected->ValueAtPercentile(percentile));
}

std::string MaxLatency(const OperationResult& op) {
  return op.corrected->TotalCount() == 0 ? "-" : Micros(op.corrected->Max());
}

std::string RateCell(const OperationResult& op) {
  std::string out = Grouped(op.achieved_rate);
  if (op.target_rate > 0) out += " / " + Grouped(op.target_rate);
  return out;
}

std::string LoadDescription(const RunResult& r) {
  if (r.load_model == "open" && !r.load_profile.empty()) {
    return absl::StrCat("open loop, ", DescribeLoadProfile(r.load_profile, "/s"), "; mean ",
                        Grouped(r.target_rate), "/s");
  }
  if (r.load_model == "open") return absl::StrCat("open loop at ", Grouped(r.target_rate), "/s");
  if (r.load_model == "closed" && !r.load_profile.empty()) {
    return absl::StrCat("closed loop, ", DescribeLoadProfile(r.load_profile, " in flight"));
  }
  if (r.load_model == "closed") return "closed loop";
  if (r.load_model == "streams" && r.target_rate > 0) {
    return absl::StrCat("streams only, messages paced at ", Grouped(r.target_rate), "/s");
  }
  return r.load_model == "streams" ? "streams only" : r.load_model;
}

std::string GateScope(const GateResult& gate) {
  if (absl::StartsWith(gate.metric, "webhook_")) return "webhook deliveries";
  if (absl::StartsWith(gate.metric, "scraped_")) {
    return gate.operation.empty() ? "the server histogram"
                                  : absl::StrCat("server histogram ", gate.operation);
  }
  return gate.operation.empty() ? "all operations" : gate.operation;
}

// --- HTML ------------------------------------------------------------------

std::string Cell(const std::string& text, bool is_text = false) {
  return absl::StrCat(is_text ? "<td class=\"text\">" : "<td>", HtmlEscape(text), "</td>");
}

std::string Header(std::initializer_list<const char*> names, size_t text_columns) {
  std::string out = "<tr>";
  size_t i = 0;
  for (const char* name : names) {
    absl::StrAppend(&out, i++ < text_columns ? "<th class=\"text\">" : "<th>", name, "</th>");
  }
  return out + "</tr>";
}

std::string ProvenanceHtml(const LoadedResult& run) {
  const RunResult& r = run.result;
  std::string out = "<dl class=\"provenance\">";
  const auto row = [&](const char* name, const std::string& value) {
    absl::StrAppend(&out, "<dt>", name, "</dt><dd>", HtmlEscape(value), "</dd>");
  };
  row("scenario", r.scenario_name);
  row("target", r.target);
  row("load", LoadDescription(r));
  row("start", FormatUnixTime(r.start_unix_nanos));
  row("end", FormatUnixTime(r.end_unix_nanos));
  row("measured window", Fixed(r.measured_seconds, 2) + " s");
  row("host", r.host);
  row("tool", "aurigraph-loadgen " + r.tool_version);
  row("result file", absl::StrCat(run.source, " (schema version ", r.schema_version, ")"));
  if (!r.recovered_from.empty()) {
    row("recovered from", r.recovered_from + ": the run did not finish; figures cover the " +
                              std::to_string(r.timeline.points.size()) + " intervals logged");
  }
  if (r.resources.loadgen_peak_rss_bytes > 0) {
    row("loadgen peak RSS", FormatBytes(r.resources.loadgen_peak_rss_bytes));
  }
  if (r.resources.server_peak_rss_bytes > 0) {
    row("server peak RSS", FormatBytes(r.resources.server_peak_rss_bytes));
  }
  return out + "</dl>";
}

std::string GatesHtml(const RunResult& r) {
  if (r.gates.empty()) return "<p class=\"note\">No SLO gates were set for this run.</p>";
  std::string out =
      "<table class=\"gates\">" + Header({"gate", "applies to", "measured", "result"}, 3);
  for (const GateResult& gate : r.gates) {
    absl::StrAppend(&out, "<tr>", Cell(gate.expression, true), Cell(GateScope(gate), true),
                    Cell(gate.message, true), "<td class=\"", gate.passed ? "pass" : "fail", "\">",
                    gate.passed ? "PASS" : "FAIL", "</td></tr>");
  }
  return out + "</table>";
}

// A failing code's status messages, most frequent first, with their counts.
std::string MessagesCell(const OperationResult& op, const std::string& code) {
  const auto kept = op.error_messages.find(code);
  if (kept == op.error_messages.end()) return Cell("-", true);
  std::vector<std::string> lines;
  for (const MessageCount& m : kept->second.messages) {
    lines.push_back(absl::StrCat(m.message.empty() ? "(no message)" : HtmlEscape(m.message), " (",
                                 Grouped(m.count), ")"));
  }
  if (kept->second.other > 0) {
    lines.push_back(absl::StrCat("other messages (", Grouped(kept->second.other), ")"));
  }
  return absl::StrCat("<td class=\"text\">", absl::StrJoin(lines, "<br>"), "</td>");
}

std::string OperationsHtml(const RunResult& r) {
  std::string out =
      "<table class=\"operations\">" +
      Header({"operation", "kind", "completed", "errors", "rate /s (achieved / target)", "p50",
              "p90", "p99", "p99.9", "p99.99", "max", "p99 uncorrected"},
             2);
  std::vector<const OperationResult*> rows;
  for (const OperationResult& op : r.operations) rows.push_back(&op);
  if (r.operations.size() > 1 && r.total.requests > 0) rows.push_back(&r.total);
  for (const OperationResult* op : rows) {
    absl::StrAppend(
        &out, "<tr>", Cell(op->name, true), Cell(op->kind, true), Cell(Grouped(op->requests)),
        Cell(absl::StrCat(Grouped(op->errors()), " (", Percent(op->error_ratio()), ")")),
        Cell(RateCell(*op)));
    for (const Percentile& p : kTablePercentiles)
      absl::StrAppend(&out, Cell(Latency(*op, p.percentile)));
    absl::StrAppend(
        &out, Cell(MaxLatency(*op)),
        Cell(op->uncorrected->TotalCount() == 0 ? "-"
                                                : Micros(op->uncorrected->ValueAtPercentile(99))),
        "</tr>");
  }
  out +=
      "</table><p class=\"note\">Latency of successful calls, corrected for coordinated "
      "omission (from each request's intended send time); failed calls are timed apart, by "
      "status code, below. Streams: per message. \"total\" covers the unary "
      "operations.</p>";
  std::string codes;
  for (const OperationResult& op : r.operations) {
    for (const auto& [code, count] : op.status_codes) {
      if (code == "OK") continue;
      absl::StrAppend(&codes, "<tr>", Cell(op.name, true), Cell(code, true), Cell(Grouped(count)));
      const auto failed = op.failed.find(code);
      for (const double percentile : {50.0, 99.0, 100.0}) {
        absl::StrAppend(&codes, Cell(failed == op.failed.end()
                                         ? "-"
                                         : Micros(failed->second->ValueAtPercentile(percentile))));
      }
      absl::StrAppend(&codes, MessagesCell(op, code), "</tr>");
    }
  }
  if (!codes.empty()) {
    absl::StrAppend(&out, "<h3>Errors by status code</h3><table class=\"codes\">",
                    Header({"operation", "code", "count", "p50 (failed)", "p99 (failed)",
                            "max (failed)", "status messages"},
                           2),
                    codes, "</table>");
  }
  return out;
}

// What went over the wire per operation, as the transport counted it, and
// the loadgen's CPU per request.
std::string WireHtml(const RunResult& r) {
  const auto per = [](int64_t bytes, int64_t count) {
    return bytes < 0 ? std::string("-") : Grouped(count > 0 ? bytes / count : 0);
  };
  std::string rows;
  int64_t requests = 0;
  for (const OperationResult& op : r.operations) {
    if (!op.wire) continue;
    const WireTotals& w = *op.wire;
    requests += w.requests;
    std::string statuses;
    for (const auto& [status, count] : w.by_status) {
      absl::StrAppend(&statuses, statuses.empty() ? "" : ", ", status, ": ", Grouped(count));
    }
    absl::StrAppend(
        &rows, "<tr>", Cell(op.name, true), Cell(Grouped(w.requests)),
        Cell(per(w.request_bytes, w.requests)), Cell(per(w.request_payload_bytes, w.requests)),
        Cell(per(w.response_bytes, w.responses)), Cell(per(w.response_payload_bytes, w.responses)),
        Cell(statuses, true), "</tr>");
  }
  if (rows.empty()) return "";
  std::string cpu;
  if (r.generator.cpu_seconds >= 0 && requests > 0) {
    cpu = absl::StrFormat(
        " The loadgen used %.1f us of CPU per request (%.2f CPU-s for %d requests).",
        1e6 * r.generator.cpu_seconds / static_cast<double>(requests), r.generator.cpu_seconds,
        requests);
  }
  return absl::StrCat(
      "<h3>On the wire</h3><table class=\"wire\">",
      Header({"operation", "requests", "bytes/request", "payload/request", "bytes/response",
              "payload/response", "responses by HTTP status"},
             1),
      rows,
      "</table><p class=\"note\">Bytes as the client saw them over the whole run (warm-up "
      "included): whole requests and responses where the transport sees their framing (HTTP: "
      "request and status lines, headers and bodies; gRPC: its connections' bytes as the kernel "
      "counted them, for a run of one operation, else \"-\"), and their payloads (JSON bodies, of "
      "every response; serialized messages, of "
      "OK responses).",
      cpu, "</p>");
}

std::string StreamP99(const StreamResult& s, const char* histogram) {
  const auto it = s.histograms.find(histogram);
  if (it == s.histograms.end() || it->second->TotalCount() == 0) return "-";
  return Micros(it->second->ValueAtPercentile(99));
}

std::string StreamsHtml(const RunResult& r) {
  std::string rows;
  for (const OperationResult& op : r.operations) {
    if (!op.stream) continue;
    const StreamResult& s = *op.stream;
    absl::StrAppend(
        &rows, "<tr>", Cell(op.name, true), Cell(Grouped(s.streams_target)),
        Cell(Grouped(s.streams_opened)), Cell(Grouped(s.streams_completed)),
        Cell(Grouped(s.streams_failed)), Cell(Grouped(s.streams_ended_early)),
        Cell(Grouped(s.streams_ended_by_server)), Cell(Grouped(s.streams_failed_to_open)),
        Cell(absl::StrCat(Grouped(s.min_open_streams), " / ", Grouped(s.max_open_streams))),
        Cell(Grouped(s.sent_rate)), Cell(Grouped(s.received_rate)),
        Cell(Grouped(s.unmatched_replies)), Cell(StreamP99(s, "first_message")),
        Cell(s.phase_name.empty() ? "-" : absl::StrCat(s.phase_name, " ", StreamP99(s, "phase"))),
        "</tr>");
  }
  if (rows.empty()) return "";
  return absl::StrCat(
      "<h3>Streams</h3><table class=\"streams\">",
      Header({"operation", "target open", "opened", "completed", "failed", "ended early (error)",
              "ended by the server (OK)", "failed to open", "open (min / max)", "sent /s",
              "received /s", "unmatched replies", "first message p99", "phase p99"},
             1),
      rows, "</table>");
}

// Scheduled events: what ran when, and the target's recovery from each.
std::string EventsHtml(const RunResult& r) {
  if (r.events.empty()) return "";
  const auto seconds = [](double s) {
    return s < 0 ? std::string("never") : FormatDuration(static_cast<int64_t>(s * 1e9));
  };
  std::string rows;
  for (const EventResult& e : r.events) {
    std::string failed;
    for (const auto& [code, count] : e.failed_by_code) {
      absl::StrAppend(&failed, failed.empty() ? "" : ", ", code, " ", Grouped(count));
    }
    absl::StrAppend(
        &rows, "<tr>", Cell(e.name, true), Cell(e.action, true), Cell(Fixed(e.at_seconds, 3)),
        Cell(e.started_seconds < 0 ? "not run" : Fixed(e.started_seconds, 3)),
        Cell(e.started_seconds < 0 ? "-"
             : e.ok                ? "ok"
                                   : e.error,
             true),
        Cell(e.recovery_measured ? seconds(e.first_success_after_seconds) : "-"),
        Cell(e.recovery_measured ? seconds(e.unavailable_max_seconds) : "-"),
        Cell(e.recovery_measured ? seconds(e.recovered_seconds) : "-"),
        Cell(failed.empty() ? "-" : failed, true), Cell(e.recovery_note, true), "</tr>");
  }
  return absl::StrCat(
      "<h3>Events</h3><p>Marked on every chart over time. Recovery: to the first success of a "
      "request meant after the event; the longest time without any successful call; until "
      "p99 and rate were within 10% of the 10 s before it, 3 intervals in a row.</p>"
      "<table class=\"events\">",
      Header({"event", "action", "at (s)", "ran at (s)", "outcome", "first success after",
              "unavailable (longest)", "back to baseline", "failed meanwhile", "note"},
             2),
      rows, "</table>");
}

// The cells of a scraped histogram's row, as in the HTML and Markdown tables.
std::vector<std::string> ServerHistogramCells(const ServerHistogramResult& h) {
  return {h.name,
          h.Selector(),
          Grouped(static_cast<int64_t>(h.count)),
          h.MeanText(),
          h.UpperBoundText(0.5),
          h.UpperBoundText(0.99),
          h.UpperBoundText(1),
          h.SourcesText()};
}

constexpr const char* kServerHistogramNote =
    "The target's own histograms, read from its Prometheus endpoints before and after the load "
    "(warm-up included) and added up over them. A quantile is known only to within its bucket: "
    "each is the upper bound of the bucket it falls in.";

std::string ServerHistogramsHtml(const RunResult& r) {
  if (r.server_histograms.empty()) return "";
  std::string rows;
  for (const ServerHistogramResult& h : r.server_histograms) {
    rows += "<tr>";
    const std::vector<std::string> cells = ServerHistogramCells(h);
    for (size_t i = 0; i < cells.size(); ++i) {
      rows += Cell(cells[i], i == 0 || i == 1 || i + 1 == cells.size());
    }
    rows += "</tr>";
  }
  return absl::StrCat(
      "<h3>Server histograms</h3><p>", kServerHistogramNote,
      "</p><table class=\"server-histograms\">",
      Header({"name", "metric", "observed", "mean", "p50", "p99", "max", "endpoints"}, 2), rows,
      "</table>");
}

// Finality: each tracked operation's items, final or not, and submit -> final.
std::string FinalityHtml(const RunResult& r) {
  std::string rows;
  for (const OperationResult& op : r.operations) {
    if (!op.finality) continue;
    const FinalityResult& f = *op.finality;
    const Histogram& h = *op.corrected;
    const auto latency = [&](double p) {
      return h.TotalCount() == 0 ? std::string("-") : Micros(h.ValueAtPercentile(p));
    };
    absl::StrAppend(&rows, "<tr>", Cell(f.tracks, true), Cell(op.rpc, true),
                    Cell(Grouped(f.subscriptions)), Cell(Micros(f.timeout_us)),
                    Cell(Grouped(f.tracked)), Cell(Grouped(op.ok)), Cell(Grouped(f.lost)),
                    Cell(Grouped(f.duplicates)), Cell(Grouped(f.final_without_ack)),
                    Cell(Grouped(f.not_final_unacked)), Cell(Grouped(f.subscription_breaks)),
                    Cell(latency(50)), Cell(latency(99)), Cell(latency(100)), "</tr>");
  }
  if (rows.empty()) return "";
  return absl::StrCat(
      "<h3>Finality</h3><p>Each request item from its intended send time until an event on the "
      "subscribed stream showed it final. Lost: acknowledged OK and not seen final within the "
      "timeout; failed and never final items are not lost.</p><table class=\"finality\">",
      Header({"operation", "stream", "subscriptions", "timeout", "tracked", "final", "lost",
              "duplicates", "final without ack", "failed, never final", "subscription breaks",
              "final p50", "final p99", "final max"},
             2),
      rows, "</table>");
}

// Webhook deliveries: what the target recorded, what the sink saw, the latency.
std::string WebhooksHtml(const RunResult& r) {
  if (!r.webhooks) return "";
  const WebhookResult& w = *r.webhooks;
  if (!w.error.empty()) {
    return absl::StrCat("<h3>Webhook deliveries</h3><p class=\"fail\">Not read back: ",
                        HtmlEscape(w.error), "</p>");
  }
  const Histogram& h = *w.latency;
  const auto latency = [&](double p) {
    return h.TotalCount() == 0 ? std::string("-") : Micros(h.ValueAtPercentile(p));
  };
  return absl::StrCat(
      "<h3>Webhook deliveries</h3><table class=\"webhooks\">",
      Header(
          {"webhook", "made", "received", "rate /s", "p50", "p99", "max", "attempts",
           "failed on purpose", "dead-lettered", "missing", "duplicates", "badly signed", "stale"},
          1),
      "<tr>", Cell(w.webhook_id, true), Cell(Grouped(w.records)), Cell(Grouped(w.deliveries)),
      Cell(Grouped(w.delivery_rate)), Cell(latency(50)), Cell(latency(99)),
      Cell(h.TotalCount() == 0 ? "-" : Micros(h.Max())), Cell(Grouped(w.attempts)),
      Cell(Grouped(w.injected_failures)), Cell(Grouped(w.dead_lettered)), Cell(Grouped(w.missing)),
      Cell(Grouped(w.duplicates)), Cell(Grouped(w.invalid_signatures + w.malformed_bodies)),
      Cell(Grouped(w.stale_timestamps)),
      "</tr></table><p class=\"note\">Latency from the event to the sink's first acceptance of "
      "its delivery; the sink answered ",
      Percent(w.sink_fail_ratio),
      " of deliveries with HTTP 500 on purpose. Missing: recorded by "
      "the target, neither received nor dead-lettered ",
      Fixed(w.drain_seconds, 1), " s after the load.</p>");
}

std::string GeneratorHtml(const RunResult& r) {
  const GeneratorHealth& g = r.generator;
  std::string out = absl::StrCat(
      "<p>", g.kept_up ? "<span class=\"pass\">The generator kept up with its schedule.</span>"
                       : "<span class=\"fail\">INVALID: " + HtmlEscape(g.verdict) + "</span>");
  if (g.sent > 0) {
    absl::StrAppend(
        &out, " Sent ", Grouped(g.sent), " requests; schedule lag p99 ",
        Micros(g.schedule_lag->ValueAtPercentile(99)), ", max ", Micros(g.schedule_lag->Max()),
        "; own lag p99 ", Micros(g.generator_lag->ValueAtPercentile(99)), " (bound ",
        Micros(g.max_generator_lag_p99_us), "); ", Grouped(g.delayed_by_in_flight_bound),
        " were due while every in-flight slot was busy.");
  }
  return out + "</p>";
}

ordered_json SpectrumJson(const Histogram& h) {
  ordered_json points = ordered_json::array();
  for (const auto& [x, value] : PercentileSpectrum(h)) {
    points.push_back({std::round(x * 1000) / 1000, value});
  }
  return points;
}

ordered_json TimelineJson(const RunResult& r) {
  const Timeline& t = r.timeline;
  ordered_json offsets = ordered_json::array(), sent_rate = ordered_json::array(),
               lag_p99 = ordered_json::array(), lag_max = ordered_json::array(),
               loadgen_rss = ordered_json::array(), target_rss = ordered_json::array();
  std::map<std::string, ordered_json> error_codes;
  ordered_json operations = ordered_json::array();
  for (size_t i = 0; i < r.operations.size(); ++i) {
    operations.push_back({{"rate", ordered_json::array()},
                          {"p50", ordered_json::array()},
                          {"p99", ordered_json::array()}});
  }
  double warmup_end = 0;
  for (const TimelinePoint& p : t.points) {
    for (const TimelineOperation& o : p.operations) {
      for (const auto& [code, count] : o.codes) {
        if (code != "OK") error_codes.emplace(code, ordered_json::array());
      }
    }
  }
  double end = 0;
  for (const TimelinePoint& p : t.points) {
    const double seconds = p.seconds > 0 ? p.seconds : 1;
    if (p.warmup) warmup_end = p.offset_seconds + p.seconds;
    end = std::max(end, p.offset_seconds + p.seconds);
    // A sliver of an interval at the run's end would show a rate, or percentiles,
    // from a handful of completions.
    const bool short_interval = p.seconds < t.interval_seconds / 2;
    const auto per_second = [&](int64_t count) {
      return short_interval
                 ? ordered_json(nullptr)
                 : ordered_json(std::round(static_cast<double>(count) / seconds * 10) / 10);
    };
    sent_rate.push_back(per_second(p.sent));
    offsets.push_back(std::round((p.offset_seconds + p.seconds / 2) * 1000) / 1000);

    lag_p99.push_back(p.schedule_lag_p99_us);
    const auto megabytes = [](int64_t bytes) {
      return bytes < 0 ? ordered_json(nullptr)
                       : ordered_json(std::round(static_cast<double>(bytes) / 1e4) / 100);
    };
    loadgen_rss.push_back(megabytes(p.loadgen_rss_bytes));
    target_rss.push_back(megabytes(p.target_rss_bytes));
    lag_max.push_back(p.schedule_lag_max_us);
    std::map<std::string, int64_t> errors;
    for (size_t i = 0; i < p.operations.size() && i < operations.size(); ++i) {
      const TimelineOperation& o = p.operations[i];
      operations[i]["rate"].push_back(per_second(o.count));
      const bool charted = o.timed > 0 && !short_interval;
      operations[i]["p50"].push_back(charted ? ordered_json(o.p50) : ordered_json(nullptr));
      operations[i]["p99"].push_back(charted ? ordered_json(o.p99) : ordered_json(nullptr));
      for (const auto& [code, count] : o.codes) errors[code] += count;
    }
    for (auto& [code, series] : error_codes) {
      series.push_back(per_second(errors[code]));
    }
  }
  ordered_json codes = ordered_json::object();
  for (auto& [code, series] : error_codes) codes[code] = std::move(series);
  ordered_json markers = ordered_json::array();
  for (const EventResult& e : r.events) {
    markers.push_back({e.started_seconds >= 0 ? e.started_seconds : e.at_seconds, e.name});
  }
  return {{"markers", markers},          {"offsets", offsets},      {"end", end},
          {"warmup_end", warmup_end},    {"sent_rate", sent_rate},  {"lag_p99", lag_p99},
          {"lag_max", lag_max},          {"error_codes", codes},    {"loadgen_rss_mb", loadgen_rss},
          {"target_rss_mb", target_rss}, {"operations", operations}};
}

ordered_json RunData(const RunResult& r) {
  ordered_json operations = ordered_json::array();
  for (const OperationResult& op : r.operations) {
    ordered_json spectrum = {{"corrected", SpectrumJson(*op.corrected)}};
    if (op.kind == "unary") spectrum["uncorrected"] = SpectrumJson(*op.uncorrected);
    operations.push_back({{"name", op.name}, {"kind", op.kind}, {"spectrum", spectrum}});
  }
  return {{"scenario", r.scenario_name},
          {"target_rate", r.target_rate},
          {"rate_profile", r.load_model == "open" ? r.load_profile : std::vector<ProfileCorner>{}},
          {"operations", operations},
          {"timeline", TimelineJson(r)}};
}

// --- Markdown --------------------------------------------------------------

// --- JUnit -----------------------------------------------------------------

int64_t Failures(const RunResult& r) {
  int64_t failures = r.generator.kept_up ? 0 : 1;
  for (const GateResult& gate : r.gates) failures += gate.passed ? 0 : 1;
  return failures;
}

}  // namespace

std::string RenderHtmlReport(const std::vector<LoadedResult>& runs) {
  std::string body;
  ordered_json data = {{"kind", "run"}, {"runs", ordered_json::array()}};
  for (size_t i = 0; i < runs.size(); ++i) {
    const RunResult& r = runs[i].result;
    absl::StrAppend(&body, "<section class=\"run\" id=\"run-", i, "\"><h1>",
                    HtmlEscape(r.scenario_name.empty() ? "run" : r.scenario_name),
                    " <span class=\"verdict ", r.passed() ? "pass\">PASS" : "fail\">FAIL",
                    "</span></h1>", ProvenanceHtml(runs[i]), "<h2>SLO gates</h2>", GatesHtml(r),
                    "<h2>Operations</h2>", OperationsHtml(r), WireHtml(r), StreamsHtml(r),
                    FinalityHtml(r), EventsHtml(r), ServerHistogramsHtml(r), WebhooksHtml(r),
                    "<h2>Load generator</h2>", GeneratorHtml(r), "<h2>Charts</h2>");
    if (r.timeline.points.empty()) {
      body +=
          "<p class=\"note\">This result holds no timeline (written by an older version): "
          "only the percentile spectra are drawn.</p>";
    }
    absl::StrAppend(&body, "<div class=\"charts\" id=\"charts-", i, "\"></div></section>");
    data["runs"].push_back(RunData(r));
  }
  const std::string title = runs.size() == 1
                                ? "aurigraph-loadgen report: " + runs[0].result.scenario_name
                                : absl::StrCat("aurigraph-loadgen report: ", runs.size(), " runs");
  return RenderPage(title, body, data.dump());
}

std::string RenderMarkdownSummary(const std::vector<LoadedResult>& runs) {
  std::string out;
  for (const LoadedResult& run : runs) {
    const RunResult& r = run.result;
    absl::StrAppend(&out, "## ", r.passed() ? "PASS" : "FAIL", ": ",
                    MarkdownEscape(r.scenario_name), " against ", MarkdownEscape(r.target), "\n\n",
                    LoadDescription(r), ", ", Fixed(r.measured_seconds, 1), " s measured, ",
                    FormatUnixTime(r.start_unix_nanos), ", aurigraph-loadgen ", r.tool_version,
                    "\n\n");
    if (!r.recovered_from.empty()) {
      absl::StrAppend(&out, "**Recovered from interval logs** (", MarkdownEscape(r.recovered_from),
                      "): the run did not finish.\n\n");
    }
    out += "| operation | completed | errors | rate /s | p50 | p90 | p99 | p99.9 | max |\n";
    out += "|---|--:|--:|--:|--:|--:|--:|--:|--:|\n";
    for (const OperationResult& op : r.operations) {
      absl::StrAppend(&out, "| ", MarkdownEscape(op.name), " | ", Grouped(op.requests), " | ",
                      Percent(op.error_ratio()), " | ", RateCell(op), " | ", Latency(op, 50), " | ",
                      Latency(op, 90), " | ", Latency(op, 99), " | ", Latency(op, 99.9), " | ",
                      MaxLatency(op), " |\n");
    }
    std::string failed;
    for (const OperationResult& op : r.operations) {
      for (const auto& [code, histogram] : op.failed) {
        absl::StrAppend(&failed, "| ", MarkdownEscape(op.name), " | ", code, " | ",
                        Grouped(histogram->TotalCount()), " | ",
                        Micros(histogram->ValueAtPercentile(50)), " | ",
                        Micros(histogram->ValueAtPercentile(99)), " | ", Micros(histogram->Max()),
                        " |\n");
      }
    }
    if (!failed.empty()) {
      absl::StrAppend(
          &out,
          "\nLatency above is of successful calls; failed calls, timed apart:\n\n"
          "| operation | code | failed | p50 | p99 | max |\n|---|---|--:|--:|--:|--:|\n",
          failed);
    }
    std::string finality;
    for (const OperationResult& op : r.operations) {
      if (!op.finality) continue;
      const FinalityResult& f = *op.finality;
      absl::StrAppend(&finality, "| ", MarkdownEscape(f.tracks), " | ", Grouped(f.tracked), " | ",
                      Grouped(op.ok), " | ", Latency(op, 50), " | ", Latency(op, 99), " | ",
                      Grouped(f.lost), " | ", Grouped(f.duplicates), " | ",
                      Grouped(f.final_without_ack), " | ", Grouped(f.not_final_unacked), " |\n");
    }
    if (!finality.empty()) {
      absl::StrAppend(
          &out,
          "\n| finality of | tracked | final | p50 | p99 | lost | duplicates | final "
          "without ack | failed, never final |\n|---|--:|--:|--:|--:|--:|--:|--:|--:|\n",
          finality);
    }
    if (!r.server_histograms.empty()) {
      absl::StrAppend(&out, "\n", kServerHistogramNote,
                      "\n\n| server histogram | metric | observed | mean | p50 | p99 | max | "
                      "endpoints |\n|---|---|--:|--:|--:|--:|--:|---|\n");
      for (const ServerHistogramResult& h : r.server_histograms) {
        for (const std::string& cell : ServerHistogramCells(h)) {
          absl::StrAppend(&out, "| ", MarkdownEscape(cell), " ");
        }
        out += "|\n";
      }
    }
    if (r.webhooks && r.webhooks->error.empty()) {
      const WebhookResult& w = *r.webhooks;
      const Histogram& h = *w.latency;
      absl::StrAppend(
          &out,
          "\n| webhook deliveries | made | received | p50 | p99 | max | dead-lettered | missing "
          "| badly signed |\n|---|--:|--:|--:|--:|--:|--:|--:|--:|\n| ",
          MarkdownEscape(w.webhook_id), " | ", Grouped(w.records), " | ", Grouped(w.deliveries),
          " | ", h.TotalCount() ? Micros(h.ValueAtPercentile(50)) : "-", " | ",
          h.TotalCount() ? Micros(h.ValueAtPercentile(99)) : "-", " | ",
          h.TotalCount() ? Micros(h.Max()) : "-", " | ", Grouped(w.dead_lettered), " | ",
          Grouped(w.missing), " | ", Grouped(w.invalid_signatures + w.malformed_bodies), " |\n");
    }
    if (!r.gates.empty()) {
      out += "\n| gate | applies to | measured | result |\n|---|---|---|---|\n";
      for (const GateResult& gate : r.gates) {
        absl::StrAppend(&out, "| `", gate.expression, "` | ", MarkdownEscape(GateScope(gate)),
                        " | ", MarkdownEscape(gate.message), " | ",
                        gate.passed ? "PASS" : "**FAIL**", " |\n");
      }
    }
    if (!r.generator.kept_up) {
      absl::StrAppend(&out, "\n**Result invalid:** ", MarkdownEscape(r.generator.verdict), "\n");
    }
    out += "\n";
  }
  return out;
}

std::string RenderJunit(const std::vector<LoadedResult>& runs) {
  int64_t tests = 0, failures = 0;
  for (const LoadedResult& run : runs) {
    tests += static_cast<int64_t>(run.result.gates.size()) + 1;
    failures += Failures(run.result);
  }
  std::string out = absl::StrCat(
      "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites name=\"aurigraph-loadgen\" tests=\"",
      tests, "\" failures=\"", failures, "\">\n");
  for (const LoadedResult& run : runs) {
    const RunResult& r = run.result;
    const std::string suite = HtmlEscape(r.scenario_name.empty() ? "run" : r.scenario_name);
    absl::StrAppend(&out, "  <testsuite name=\"", suite, "\" tests=\"", r.gates.size() + 1,
                    "\" failures=\"", Failures(r), "\" errors=\"0\" timestamp=\"",
                    FormatUnixTime(r.start_unix_nanos), "\" time=\"", Fixed(r.measured_seconds, 3),
                    "\" hostname=\"", HtmlEscape(r.host), "\">\n    <properties>\n");
    for (const auto& [name, value] : {std::pair<const char*, std::string>{"target", r.target},
                                      {"load", LoadDescription(r)},
                                      {"tool_version", r.tool_version},
                                      {"result_file", run.source}}) {
      absl::StrAppend(&out, "      <property name=\"", name, "\" value=\"", HtmlEscape(value),
                      "\"/>\n");
    }
    out += "    </properties>\n";
    const auto testcase = [&](const std::string& name, bool passed, const std::string& message) {
      absl::StrAppend(&out, "    <testcase classname=\"", suite, ".slo\" name=\"", HtmlEscape(name),
                      "\" time=\"0\"");
      if (passed) {
        out += "/>\n";
        return;
      }
      absl::StrAppend(&out, ">\n      <failure type=\"slo\" message=\"", HtmlEscape(message), "\">",
                      HtmlEscape(message), "</failure>\n    </testcase>\n");
    };
    testcase("generator kept up with its schedule", r.generator.kept_up, r.generator.verdict);
    for (const GateResult& gate : r.gates) {
      testcase(absl::StrCat(gate.expression, " [", GateScope(gate), "]"), gate.passed,
               gate.message);
    }
    out += "  </testsuite>\n";
  }
  return out + "</testsuites>\n";
}

}  // namespace aurigraph::loadgen
