#include "loadgen/assemble/result_builder.h"

#include <algorithm>
#include <memory>

#include "absl/strings/str_cat.h"
#include "common/units/units.h"

namespace aurigraph::loadgen {
namespace {

// Above this share of its cores the generator itself is the bottleneck.
constexpr double kMaxCpuShare = 0.95;

std::map<std::string, int64_t> CodeCounts(const std::array<int64_t, kStatusCodeCount>& codes) {
  std::map<std::string, int64_t> out;
  for (int code = 0; code < kStatusCodeCount; ++code) {
    if (codes[code] > 0) out[StatusCodeName(code)] = codes[code];
  }
  return out;
}

std::map<std::string, CodeMessages> MessagesByCode(const ErrorMessages& kept) {
  std::map<std::string, CodeMessages> out;
  for (int code = 1; code < kStatusCodeCount; ++code) {
    std::vector<ErrorMessages::Entry> top = kept.Top(code);
    if (top.empty() && kept.other(code) == 0) continue;
    CodeMessages& messages = out[StatusCodeName(code)];
    for (ErrorMessages::Entry& entry : top) {
      messages.messages.push_back(MessageCount{std::move(entry.message), entry.count});
    }
    messages.other = kept.other(code);
  }
  return out;
}

double PerSecond(int64_t count, double seconds) {
  return seconds > 0 ? static_cast<double>(count) / seconds : 0;
}

// The calls of a unary operation (or of all of them: the total).
OperationResult CallsResult(const IntervalOperation& calls, const std::string& name,
                            const std::string& rpc, double seconds, double target_rate) {
  OperationResult r;
  r.name = name;
  r.rpc = rpc;
  r.corrected = std::make_shared<Histogram>(calls.latency);
  r.uncorrected = std::make_shared<Histogram>(calls.uncorrected);
  r.requests = calls.completed();
  r.ok = calls.codes[0];
  r.status_codes = CodeCounts(calls.codes);
  for (int code = 1; code < kStatusCodeCount; ++code) {
    if (calls.failed[code] && calls.failed[code]->TotalCount() > 0) {
      r.failed[StatusCodeName(code)] = std::make_shared<Histogram>(*calls.failed[code]);
    }
  }
  r.error_messages = MessagesByCode(calls.error_messages);
  r.achieved_rate = PerSecond(r.requests, seconds);
  r.target_rate = target_rate;
  r.items = calls.items;
  r.items_rate = PerSecond(r.items, seconds);
  return r;
}

// A finality operation: the tracked request items, as seen final or not.
OperationResult FinalityOperationResult(const IntervalOperation& op, const OperationDescription& d,
                                        double seconds) {
  OperationResult r = CallsResult(op, d.name, d.rpc, seconds, 0);
  r.kind = d.kind;
  const FinalityCounts counts = op.finality ? *op.finality : FinalityCounts();
  auto f = std::make_shared<FinalityResult>();
  f->tracks = d.tracks;
  f->timeout_us = d.finality_timeout_nanos / 1000;
  f->subscriptions = d.streams_target;
  f->tracked = counts.tracked;
  f->lost = counts.lost;
  f->final_without_ack = counts.final_without_ack;
  f->duplicates = counts.duplicates;
  f->not_final_unacked = counts.not_final_unacked;
  f->unmatched_events = counts.unmatched_events;
  f->untracked = counts.untracked;
  f->subscription_breaks = counts.subscription_breaks;
  r.finality = std::move(f);
  return r;
}

// A stream operation: messages are its latency and codes, streams its requests.
OperationResult StreamsResult(const IntervalOperation& op, const OperationDescription& d,
                              double seconds) {
  const StreamStats stats = op.stream ? *op.stream : StreamStats();
  OperationResult r;
  r.name = d.name;
  r.rpc = d.rpc;
  r.kind = d.kind;
  r.corrected = std::make_shared<Histogram>(op.latency);
  r.uncorrected = std::make_shared<Histogram>(op.uncorrected);
  r.requests = stats.streams_completed + stats.streams_failed + stats.streams_ended_early +
               stats.streams_ended_by_server + stats.streams_failed_to_open;
  r.ok = stats.streams_completed + stats.streams_ended_by_server;
  r.status_codes = CodeCounts(stats.close_codes);
  r.error_messages = MessagesByCode(stats.close_messages);
  auto s = std::make_shared<StreamResult>();
  s->mode = d.kind;
  s->streams_target = d.streams_target;
  s->streams_opened = stats.streams_opened;
  s->streams_completed = stats.streams_completed;
  s->streams_failed = stats.streams_failed;
  s->streams_ended_early = stats.streams_ended_early;
  s->streams_ended_by_server = stats.streams_ended_by_server;
  s->streams_failed_to_open = stats.streams_failed_to_open;
  s->min_open_streams = stats.min_open_streams;
  s->max_open_streams = stats.max_open_streams;
  s->messages_sent = stats.messages_sent;
  s->messages_received = stats.messages_received;
  s->measured_sent = stats.measured_sent;
  s->measured_received = stats.measured_received;
  s->unmatched_replies = stats.unmatched_replies;
  s->delayed_sends = stats.delayed_sends;
  s->messages_not_sent = stats.messages_not_sent;
  s->sent_rate = PerSecond(stats.measured_sent, seconds);
  s->received_rate = PerSecond(stats.measured_received, seconds);
  s->message_codes = CodeCounts(op.codes);
  s->phase_name = d.phase_name;
  s->histograms = {{"first_message", std::make_shared<Histogram>(stats.first_message)},
                   {"inter_arrival", std::make_shared<Histogram>(stats.inter_arrival)},
                   {"send_lag", std::make_shared<Histogram>(stats.send_lag)},
                   {"close_latency", std::make_shared<Histogram>(stats.close_latency)},
                   {"phase", std::make_shared<Histogram>(stats.phase)}};
  // A streaming operation's rate is of its messages: those it sends for a
  // client stream (its one reply per stream says little), else those it receives.
  r.achieved_rate = d.kind == "client_streaming" ? s->sent_rate : s->received_rate;
  r.stream = std::move(s);
  return r;
}

// Where the run ended, from its start: as its end recorded it, or else the end
// of the last interval its logs hold.
int64_t RunEndOffset(const Timeline& timeline, const RunEnd& end) {
  if (end.end_offset_nanos >= 0) return end.end_offset_nanos;
  if (timeline.points.empty()) return 0;
  const TimelinePoint& last = timeline.points.back();
  return static_cast<int64_t>((last.offset_seconds + last.seconds) * 1e9 + 0.5);
}

// Rates are over the measured window: from the end of warm-up to the end of
// the schedule (or, for a request budget or an early stop, the last completion
// or the run's end).
double MeasuredSeconds(const RunDescription& run, const RunTotals& totals, int64_t end_offset) {
  int64_t measured_end = totals.all().generator.last_completion_nanos;
  if (run.duration_nanos > 0 && !run.request_budget) {
    measured_end = std::min(run.duration_nanos, std::max(end_offset, run.warmup_nanos));
    measured_end = std::min(measured_end, end_offset);
  }
  return std::max<double>(0, static_cast<double>(measured_end - run.warmup_nanos) / 1e9);
}

}  // namespace

RunResult BuildRunResult(const RunDescription& run, const RunTotals& totals, Timeline timeline,
                         const RunEnd& end) {
  RunResult result;
  result.tool_version = run.tool_version;
  result.host = run.host;
  result.scenario_name = run.scenario_name;
  result.scenario_json = run.scenario_json;
  result.target = run.target;
  result.reflection = run.reflection;
  result.load_model = run.load_model;
  result.target_rate = run.target_rate;
  result.load_profile = run.load_profile;
  result.start_unix_nanos = run.start_unix_nanos;
  const int64_t end_offset = RunEndOffset(timeline, end);
  result.end_unix_nanos = run.start_unix_nanos + end_offset;
  result.measured_seconds = MeasuredSeconds(run, totals, end_offset);
  // A profile's target is its mean over the window measured, which a killed
  // run's logs end early: every operation's share scales with it.
  double target_scale = 1;
  if (!run.load_profile.empty() && run.target_rate > 0 && result.measured_seconds > 0) {
    const double warmup = static_cast<double>(run.warmup_nanos) / 1e9;
    result.target_rate =
        LoadProfileMean(run.load_profile, warmup, warmup + result.measured_seconds);
    target_scale = result.target_rate / run.target_rate;
  }

  // Operations in the scenario's order; the total covers the unary ones
  // (streams measure messages, not requests, and have their own figures).
  IntervalOperation all;
  for (size_t i = 0; i < run.operations.size() && i < totals.operation_count(); ++i) {
    const OperationDescription& d = run.operations[i];
    const IntervalOperation& op = totals.operation(i);
    if (d.finality()) {  // the tracked operation's requests again: not in the total
      result.operations.push_back(FinalityOperationResult(op, d, result.measured_seconds));
      continue;
    }
    result.operations.push_back(d.streaming()
                                    ? StreamsResult(op, d, result.measured_seconds)
                                    : CallsResult(op, d.name, d.rpc, result.measured_seconds,
                                                  d.target_rate * target_scale));
    if (i < end.wire.size() && end.wire[i]) {
      result.operations.back().wire = std::make_shared<WireTotals>(*end.wire[i]);
    }
    if (!d.streaming()) all.MergeLater(op);
  }
  result.total = CallsResult(all, "total", "*", result.measured_seconds, result.target_rate);

  const IntervalSlice& generator_totals = totals.all();
  GeneratorHealth& g = result.generator;
  g.schedule_lag = std::make_shared<Histogram>(generator_totals.schedule_lag);
  g.generator_lag = std::make_shared<Histogram>(generator_totals.generator_lag);
  g.max_generator_lag_p99_us = run.max_generator_lag_p99_us;
  g.sent = generator_totals.sent;
  const GeneratorCounts& counts = generator_totals.generator;
  g.delayed_by_in_flight_bound = counts.delayed_by_in_flight_bound;
  g.not_sent_generator_behind = counts.not_sent_generator_behind;
  g.not_sent_in_flight_bound = counts.not_sent_in_flight_bound;
  g.cancelled_at_drain = counts.cancelled_at_drain;
  g.request_build_errors = counts.request_build_errors;
  g.warmup_completions = counts.warmup_completions;
  g.cpu_seconds = end.cpu_seconds;
  g.cpu_cores = end.cpu_cores;

  result.resources.watched_pid = run.watched_pid;
  result.resources.loadgen_peak_rss_bytes = end.loadgen_peak_rss_bytes;
  result.resources.server_peak_rss_bytes = end.server_peak_rss_bytes;
  result.resources.server_rss_bytes = end.server_rss_bytes;
  result.timeline = std::move(timeline);
  return result;
}

TimelinePoint SummarizeSlice(const IntervalSlice& slice) {
  TimelinePoint p;
  p.sent = slice.sent;
  p.schedule_lag_p99_us = slice.schedule_lag.ValueAtPercentile(99);
  p.schedule_lag_max_us = slice.schedule_lag.Max();
  for (const IntervalOperation& op : slice.operations) {
    TimelineOperation o;
    o.count = op.count;
    for (int code = 0; code < kStatusCodeCount; ++code) {
      if (op.codes[code] > 0) o.codes[StatusCodeName(code)] = op.codes[code];
      if (code > 0) o.errors += op.codes[code];
    }
    o.items = op.items;
    o.timed = op.latency.TotalCount();
    if (o.timed > 0) {
      o.p50 = op.latency.ValueAtPercentile(50);
      o.p90 = op.latency.ValueAtPercentile(90);
      o.p99 = op.latency.ValueAtPercentile(99);
      o.p99_9 = op.latency.ValueAtPercentile(99.9);
      o.max = op.latency.Max();
    }
    p.operations.push_back(std::move(o));
  }
  return p;
}

void JudgeGenerator(RunResult& result) {
  GeneratorHealth& g = result.generator;
  g.kept_up = true;
  g.verdict.clear();
  const int64_t own_lag_p99 = g.generator_lag ? g.generator_lag->ValueAtPercentile(99) : 0;
  const bool open_loop_calls =
      result.load_model == "open" &&
      std::any_of(result.operations.begin(), result.operations.end(),
                  [](const OperationResult& op) { return op.stream == nullptr; });
  const double wall_seconds =
      static_cast<double>(result.end_unix_nanos - result.start_unix_nanos) / 1e9;
  const double cpu_share = wall_seconds > 0 && g.cpu_cores > 0 && g.cpu_seconds >= 0
                               ? g.cpu_seconds / (wall_seconds * g.cpu_cores)
                               : 0;
  if (g.not_sent_generator_behind > 0) {
    g.kept_up = false;
    g.verdict =
        absl::StrCat("the generator fell behind its schedule: ", g.not_sent_generator_behind,
                     " requests due within the run were not sent by its end (p99 of its "
                     "own send lag ",
                     FormatDuration(own_lag_p99 * 1000),
                     "); latency figures describe the generator, not the target");
  } else if (open_loop_calls && own_lag_p99 > g.max_generator_lag_p99_us) {
    g.kept_up = false;
    g.verdict = absl::StrCat("the generator fell behind its schedule: p99 of its own send lag is ",
                             FormatDuration(own_lag_p99 * 1000), " (bound ",
                             FormatDuration(g.max_generator_lag_p99_us * 1000),
                             "); latency figures describe the generator, not the target");
  } else if (wall_seconds >= 1 && cpu_share > kMaxCpuShare) {
    g.kept_up = false;
    g.verdict = absl::StrCat("the generator used ", static_cast<int>(cpu_share * 100), "% of the ",
                             g.cpu_cores,
                             " CPU cores it may run on: it, not the target, set the pace; "
                             "give it more cores or less load");
  }
}

absl::StatusOr<std::vector<Gate>> GatesFromScenario(const Scenario& scenario) {
  std::vector<Gate> gates;
  for (const GateSpec& spec : scenario.gates) {
    auto gate = ParseGate(spec.expression, spec.operation);
    if (!gate.ok()) return gate.status();
    if (absl::Status scope = CheckGateScope(scenario, spec); !scope.ok()) return scope;
    gates.push_back(*std::move(gate));
  }
  return gates;
}

}  // namespace aurigraph::loadgen
