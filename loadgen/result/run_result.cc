#include "loadgen/result/run_result.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/input/input_file.h"
#include "common/input/json_check.h"
#include "common/output/atomic_file.h"
#include "common/status_codes/status_message.h"
#include "common/units/units.h"
#include "loadgen/histogram/histogram_codec.h"
#include "loadgen/result/profile_json.h"

namespace aurigraph::loadgen {
namespace {

using nlohmann::ordered_json;

constexpr const char* kSchemaName = "aurigraph-loadbench/result";

struct PercentilePoint {
  const char* key;
  double percentile;
};
constexpr PercentilePoint kPercentiles[] = {
    {"p50", 50}, {"p90", 90}, {"p99", 99}, {"p99_9", 99.9}, {"p99_99", 99.99}};

ordered_json Percentiles(const Histogram& h) {
  ordered_json out;
  out["count"] = h.TotalCount();
  out["min"] = h.Min();
  out["mean"] = std::round(h.Mean() * 10) / 10;
  for (const auto& p : kPercentiles) out[p.key] = h.ValueAtPercentile(p.percentile);
  out["max"] = h.Max();
  return out;
}

constexpr const char* kStreamHistograms[] = {"first_message", "inter_arrival", "send_lag",
                                             "close_latency", "phase"};

// FinalityResult's counts, by name.
std::vector<std::pair<const char*, int64_t FinalityResult::*>> FinalityFields() {
  return {{"timeout_us", &FinalityResult::timeout_us},
          {"subscriptions", &FinalityResult::subscriptions},
          {"tracked", &FinalityResult::tracked},
          {"lost", &FinalityResult::lost},
          {"final_without_ack", &FinalityResult::final_without_ack},
          {"duplicates", &FinalityResult::duplicates},
          {"not_final_unacked", &FinalityResult::not_final_unacked},
          {"unmatched_events", &FinalityResult::unmatched_events},
          {"untracked", &FinalityResult::untracked},
          {"subscription_breaks", &FinalityResult::subscription_breaks}};
}

ordered_json FinalityJson(const FinalityResult& f) {
  ordered_json out;
  out["tracks"] = f.tracks;
  for (const auto& [name, member] : FinalityFields()) out[name] = f.*member;
  return out;
}

ordered_json StreamJson(const StreamResult& s) {
  ordered_json out;
  out["mode"] = s.mode;
  out["streams_target"] = s.streams_target;
  out["streams_opened"] = s.streams_opened;
  out["streams_completed"] = s.streams_completed;
  out["streams_failed"] = s.streams_failed;
  out["streams_ended_early"] = s.streams_ended_early;
  out["streams_ended_by_server"] = s.streams_ended_by_server;
  out["streams_failed_to_open"] = s.streams_failed_to_open;
  out["min_open_streams"] = s.min_open_streams;
  out["max_open_streams"] = s.max_open_streams;
  out["messages_sent"] = s.messages_sent;
  out["messages_received"] = s.messages_received;
  out["measured_sent"] = s.measured_sent;
  out["measured_received"] = s.measured_received;
  out["unmatched_replies"] = s.unmatched_replies;
  out["delayed_sends"] = s.delayed_sends;
  out["messages_not_sent"] = s.messages_not_sent;
  out["sent_rate"] = s.sent_rate;
  out["received_rate"] = s.received_rate;
  out["message_codes"] = s.message_codes;
  out["phase_name"] = s.phase_name;
  ordered_json percentiles, encoded;
  for (const char* name : kStreamHistograms) {
    const auto it = s.histograms.find(name);
    if (it == s.histograms.end()) continue;
    percentiles[name] = Percentiles(*it->second);
    encoded[name] = EncodeBase64(*it->second);
  }
  out["latency_us"] = percentiles;
  out["histograms"] = encoded;
  return out;
}

// Count fields of WebhookResult, in the order result.json lists them.
struct WebhookCount {
  const char* key;
  int64_t WebhookResult::*field;
};
constexpr WebhookCount kWebhookCounts[] = {
    {"records", &WebhookResult::records},
    {"succeeded", &WebhookResult::succeeded},
    {"dead_lettered", &WebhookResult::dead_lettered},
    {"failed", &WebhookResult::failed},
    {"unfinished", &WebhookResult::unfinished},
    {"attempts", &WebhookResult::attempts},
    {"requests", &WebhookResult::requests},
    {"deliveries", &WebhookResult::deliveries},
    {"duplicates", &WebhookResult::duplicates},
    {"injected_failures", &WebhookResult::injected_failures},
    {"invalid_signatures", &WebhookResult::invalid_signatures},
    {"stale_timestamps", &WebhookResult::stale_timestamps},
    {"unknown_webhooks", &WebhookResult::unknown_webhooks},
    {"malformed_bodies", &WebhookResult::malformed_bodies},
    {"missing", &WebhookResult::missing},
    {"sink_delay_us", &WebhookResult::sink_delay_us},
};

ordered_json WebhookJson(const WebhookResult& w) {
  ordered_json out;
  out["webhook_id"] = w.webhook_id;
  out["events"] = w.events;
  out["sink_fail_ratio"] = w.sink_fail_ratio;
  for (const auto& count : kWebhookCounts) out[count.key] = w.*count.field;
  out["accepted_by_attempt"] = w.accepted_by_attempt;
  out["delivery_rate"] = w.delivery_rate;
  out["drain_seconds"] = w.drain_seconds;
  out["latency_us"] = Percentiles(*w.latency);
  out["histogram"] = EncodeBase64(*w.latency);
  if (!w.error.empty()) out["error"] = w.error;
  return out;
}

ordered_json WireJson(const WireTotals& w) {
  ordered_json by_status = ordered_json::object();
  for (const auto& [status, count] : w.by_status) by_status[absl::StrCat(status)] = count;
  return {{"requests", w.requests},
          {"request_bytes", w.request_bytes},
          {"request_payload_bytes", w.request_payload_bytes},
          {"responses", w.responses},
          {"response_bytes", w.response_bytes},
          {"response_payload_bytes", w.response_payload_bytes},
          {"by_status", std::move(by_status)}};
}

absl::StatusOr<WireTotals> ReadWireTotals(const nlohmann::json& j) {
  if (!j.is_object()) return absl::InvalidArgumentError("not an object");
  WireTotals w;
  // The whole-bytes figures may be -1: not seen.
  for (const auto& [name, member, least] :
       std::vector<std::tuple<const char*, int64_t WireTotals::*, int64_t>>{
           {"requests", &WireTotals::requests, 0},
           {"request_bytes", &WireTotals::request_bytes, -1},
           {"request_payload_bytes", &WireTotals::request_payload_bytes, 0},
           {"responses", &WireTotals::responses, 0},
           {"response_bytes", &WireTotals::response_bytes, -1},
           {"response_payload_bytes", &WireTotals::response_payload_bytes, 0}}) {
    if (!j.contains(name) || !j.at(name).is_number_integer() || j.at(name).get<int64_t>() < least) {
      return absl::InvalidArgumentError(absl::StrCat(name, " is not a count"));
    }
    w.*member = j.at(name).get<int64_t>();
  }
  if (!j.contains("by_status") || !j.at("by_status").is_object()) {
    return absl::InvalidArgumentError("by_status is not an object");
  }
  for (const auto& [status, count] : j.at("by_status").items()) {
    int code = 0;
    if (!absl::SimpleAtoi(status, &code)) {
      return absl::InvalidArgumentError(absl::StrCat("by_status.", status, " is not a status"));
    }
    if (!count.is_number_integer() || count.get<int64_t>() < 0) {
      return absl::InvalidArgumentError(absl::StrCat("by_status.", status, " is not a count"));
    }
    w.by_status[code] = count.get<int64_t>();
  }
  return w;
}

ordered_json OperationJson(const OperationResult& op) {
  ordered_json out;
  out["name"] = op.name;
  out["rpc"] = op.rpc;
  out["kind"] = op.kind;
  out["requests"] = op.requests;
  out["ok"] = op.ok;
  out["errors"] = op.errors();
  out["error_ratio"] = op.error_ratio();
  out["status_codes"] = op.status_codes;
  out["achieved_rate"] = op.achieved_rate;
  out["target_rate"] = op.target_rate;
  out["latency_us"] = {{"corrected", Percentiles(*op.corrected)},
                       {"uncorrected", Percentiles(*op.uncorrected)}};
  out["histograms"] = {{"encoding", "HdrHistogram-V2-compressed-base64"},
                       {"unit", "us"},
                       {"corrected", EncodeBase64(*op.corrected)},
                       {"uncorrected", EncodeBase64(*op.uncorrected)}};
  if (!op.failed.empty()) {
    ordered_json percentiles, encoded;
    for (const auto& [code, histogram] : op.failed) {
      percentiles[code] = Percentiles(*histogram);
      encoded[code] = EncodeBase64(*histogram);
    }
    out["failed_latency_us"] = std::move(percentiles);
    out["histograms"]["failed"] = std::move(encoded);
  }
  if (!op.error_messages.empty()) {
    ordered_json codes;
    for (const auto& [code, kept] : op.error_messages) {
      ordered_json messages = ordered_json::array();
      for (const MessageCount& m : kept.messages) {
        messages.push_back({{"message", m.message}, {"count", m.count}});
      }
      codes[code] = {{"messages", std::move(messages)}, {"other", kept.other}};
    }
    out["error_messages"] = std::move(codes);
  }
  out["items"] = op.items;
  out["items_rate"] = op.items_rate;
  if (op.stream) out["stream"] = StreamJson(*op.stream);
  if (op.finality) out["finality"] = FinalityJson(*op.finality);
  if (op.wire) out["wire"] = WireJson(*op.wire);
  return out;
}

ordered_json PointJson(const TimelinePoint& p) {
  ordered_json ops = ordered_json::array();
  for (const TimelineOperation& o : p.operations) {
    ops.push_back({{"count", o.count},
                   {"errors", o.errors},
                   {"codes", o.codes},
                   {"items", o.items},
                   {"timed", o.timed},
                   {"p50", o.p50},
                   {"p90", o.p90},
                   {"p99", o.p99},
                   {"p99_9", o.p99_9},
                   {"max", o.max}});
  }
  return {{"offset_seconds", p.offset_seconds},
          {"seconds", p.seconds},
          {"warmup", p.warmup},
          {"sent", p.sent},
          {"schedule_lag_p99_us", p.schedule_lag_p99_us},
          {"schedule_lag_max_us", p.schedule_lag_max_us},
          {"loadgen_rss_bytes", p.loadgen_rss_bytes},
          {"target_rss_bytes", p.target_rss_bytes},
          {"target_cpu_seconds", p.target_cpu_seconds},
          {"target_open_fds", p.target_open_fds},
          {"operations", std::move(ops)}};
}

TimelinePoint ReadPoint(const nlohmann::json& jp) {
  TimelinePoint p;
  p.offset_seconds = jp.at("offset_seconds").get<double>();
  p.seconds = jp.at("seconds").get<double>();
  p.warmup = jp.at("warmup").get<bool>();
  p.sent = jp.at("sent").get<int64_t>();
  p.schedule_lag_p99_us = jp.at("schedule_lag_p99_us").get<int64_t>();
  p.schedule_lag_max_us = jp.at("schedule_lag_max_us").get<int64_t>();
  // Process samples are optional: intervals written without them read as unmeasured.
  p.loadgen_rss_bytes = jp.value("loadgen_rss_bytes", int64_t{-1});
  p.target_rss_bytes = jp.value("target_rss_bytes", int64_t{-1});
  p.target_cpu_seconds = jp.value("target_cpu_seconds", -1.0);
  p.target_open_fds = jp.value("target_open_fds", int64_t{-1});
  for (const auto& jo : jp.at("operations")) {
    TimelineOperation o;
    o.count = jo.at("count").get<int64_t>();
    o.errors = jo.at("errors").get<int64_t>();
    o.codes = jo.at("codes").get<std::map<std::string, int64_t>>();
    o.items = jo.at("items").get<int64_t>();
    o.timed = jo.at("timed").get<int64_t>();
    o.p50 = jo.at("p50").get<int64_t>();
    o.p90 = jo.at("p90").get<int64_t>();
    o.p99 = jo.at("p99").get<int64_t>();
    o.p99_9 = jo.at("p99_9").get<int64_t>();
    o.max = jo.at("max").get<int64_t>();
    p.operations.push_back(std::move(o));
  }
  return p;
}

ordered_json TimelineJson(const Timeline& t) {
  ordered_json points = ordered_json::array();
  for (const TimelinePoint& p : t.points) points.push_back(PointJson(p));
  return {{"interval_seconds", t.interval_seconds},
          {"latency_unit", "us"},
          {"points", std::move(points)}};
}

Timeline ReadTimeline(const nlohmann::json& j) {
  Timeline t;
  t.interval_seconds = j.at("interval_seconds").get<double>();
  for (const auto& jp : j.at("points")) t.points.push_back(ReadPoint(jp));
  return t;
}

absl::Status Corrupt(const std::string& source, const std::string& what) {
  return absl::DataLossError(absl::StrCat(source, ": ", what));
}

absl::StatusOr<std::shared_ptr<Histogram>> ReadHistogram(const nlohmann::json& j, const char* key,
                                                         const std::string& source,
                                                         const std::string& where) {
  if (!j.contains(key) || !j[key].is_string()) {
    return Corrupt(source, absl::StrCat(where, ".", key, " is missing"));
  }
  auto h = DecodeBase64(j[key].get<std::string>());
  if (!h.ok()) return Corrupt(source, absl::StrCat(where, ".", key, ": ", h.status().message()));
  return std::shared_ptr<Histogram>(std::move(*h));
}

// An operation's error_messages, checked against its status codes: each
// failing code's messages bounded, as kept, and counting its calls exactly.
// Throws nlohmann's exceptions on wrong fields.
absl::Status ReadErrorMessages(const nlohmann::json& j, OperationResult& op,
                               const std::string& source, const std::string& where) {
  if (!j.contains("error_messages")) return absl::OkStatus();  // written before they were kept
  const nlohmann::json& codes = j.at("error_messages");
  if (!codes.is_object()) return Corrupt(source, where + ".error_messages is not an object");
  for (const auto& [code, jc] : codes.items()) {
    const std::string at = absl::StrCat(where, ".error_messages.", code);
    const auto counted = op.status_codes.find(code);
    if (code == "OK" || counted == op.status_codes.end()) {
      return Corrupt(source, absl::StrCat(at, ": no failed calls with that status code"));
    }
    CodeMessages kept;
    kept.other = jc.at("other").get<int64_t>();
    const nlohmann::json& messages = jc.at("messages");
    if (!messages.is_array() || messages.size() > kMaxStatusMessagesPerCode) {
      return Corrupt(source, absl::StrCat(at, ".messages: not a list of at most ",
                                          kMaxStatusMessagesPerCode, " messages"));
    }
    int64_t total = kept.other;
    bool counts_fit = kept.other >= 0;
    for (const auto& jm : messages) {
      MessageCount m{jm.at("message").get<std::string>(), jm.at("count").get<int64_t>()};
      if (!IsKeptStatusMessage(m.message) ||
          std::any_of(kept.messages.begin(), kept.messages.end(),
                      [&](const MessageCount& k) { return k.message == m.message; })) {
        return Corrupt(source,
                       absl::StrCat(at, ".messages: a message longer than ", kMaxStatusMessageBytes,
                                    " bytes, with control characters, or listed twice"));
      }
      counts_fit = counts_fit && m.count >= 1 && !__builtin_add_overflow(total, m.count, &total);
      kept.messages.push_back(std::move(m));
    }
    if (!counts_fit || total != counted->second) {
      return Corrupt(source, absl::StrCat(at, ": the messages' counts do not add up to the ",
                                          counted->second, " calls with that status code"));
    }
    std::sort(kept.messages.begin(), kept.messages.end(),
              [](const MessageCount& a, const MessageCount& b) {
                return a.count != b.count ? a.count > b.count : a.message < b.message;
              });
    op.error_messages[code] = std::move(kept);
  }
  return absl::OkStatus();
}

absl::StatusOr<OperationResult> ReadOperation(const nlohmann::json& j, int schema_version,
                                              const std::string& source, const std::string& where) {
  OperationResult op;
  op.name = j.at("name").get<std::string>();
  op.rpc = j.at("rpc").get<std::string>();
  op.requests = j.at("requests").get<int64_t>();
  op.ok = j.at("ok").get<int64_t>();
  op.status_codes = j.at("status_codes").get<std::map<std::string, int64_t>>();
  op.achieved_rate = j.at("achieved_rate").get<double>();
  op.target_rate = j.at("target_rate").get<double>();
  const auto& histograms = j.at("histograms");
  auto corrected = ReadHistogram(histograms, "corrected", source, where + ".histograms");
  if (!corrected.ok()) return corrected.status();
  auto uncorrected = ReadHistogram(histograms, "uncorrected", source, where + ".histograms");
  if (!uncorrected.ok()) return uncorrected.status();
  op.corrected = *corrected;
  op.uncorrected = *uncorrected;
  int64_t failed_count = 0;
  if (histograms.contains("failed")) {
    for (const auto& [code, encoded] : histograms.at("failed").items()) {
      auto h = ReadHistogram(histograms.at("failed"), code.c_str(), source,
                             where + ".histograms.failed");
      if (!h.ok()) return h.status();
      const auto counted = op.status_codes.find(code);
      if (code == "OK" || counted == op.status_codes.end() ||
          counted->second != (*h)->TotalCount()) {
        return Corrupt(
            source, absl::StrCat(where, ".histograms.failed.", code, " holds ", (*h)->TotalCount(),
                                 " values, not the count of that status code"));
      }
      if (__builtin_add_overflow(failed_count, (*h)->TotalCount(), &failed_count)) {
        return Corrupt(source, absl::StrCat(where, ".histograms.failed: counts overflow"));
      }
      op.failed[code] = *h;
    }
  }
  if (absl::Status read = ReadErrorMessages(j, op, source, where); !read.ok()) return read;
  op.kind = j.at("kind").get<std::string>();
  op.items = j.at("items").get<int64_t>();
  op.items_rate = j.at("items_rate").get<double>();
  if (j.contains("finality")) {
    const auto& jf = j.at("finality");
    auto f = std::make_shared<FinalityResult>();
    f->tracks = jf.at("tracks").get<std::string>();
    for (const auto& [name, member] : FinalityFields()) {
      f.get()->*member = jf.at(name).get<int64_t>();
      if (f.get()->*member < 0)
        return Corrupt(source, absl::StrCat(where, ".finality.", name, " is negative"));
    }
    op.finality = std::move(f);
  }
  if (j.contains("wire")) {
    auto wire = ReadWireTotals(j.at("wire"));
    if (!wire.ok()) {
      return Corrupt(source, absl::StrCat(where, ".wire: ", wire.status().message()));
    }
    op.wire = std::make_shared<WireTotals>(*std::move(wire));
  }
  if (j.contains("stream")) {
    const auto& js = j.at("stream");
    auto s = std::make_shared<StreamResult>();
    s->mode = js.at("mode").get<std::string>();
    s->streams_target = js.at("streams_target").get<int64_t>();
    s->streams_opened = js.at("streams_opened").get<int64_t>();
    s->streams_completed = js.at("streams_completed").get<int64_t>();
    s->streams_failed = js.at("streams_failed").get<int64_t>();
    s->streams_ended_early = js.at("streams_ended_early").get<int64_t>();
    s->streams_ended_by_server = js.value("streams_ended_by_server", int64_t{0});
    s->streams_failed_to_open = js.value("streams_failed_to_open", int64_t{0});
    s->min_open_streams = js.at("min_open_streams").get<int64_t>();
    s->max_open_streams = js.at("max_open_streams").get<int64_t>();
    s->messages_sent = js.at("messages_sent").get<int64_t>();
    s->messages_received = js.at("messages_received").get<int64_t>();
    s->measured_sent = js.at("measured_sent").get<int64_t>();
    s->measured_received = js.at("measured_received").get<int64_t>();
    s->unmatched_replies = js.at("unmatched_replies").get<int64_t>();
    s->delayed_sends = js.at("delayed_sends").get<int64_t>();
    s->messages_not_sent = js.value("messages_not_sent", int64_t{0});
    s->sent_rate = js.at("sent_rate").get<double>();
    s->received_rate = js.at("received_rate").get<double>();
    s->message_codes = js.at("message_codes").get<std::map<std::string, int64_t>>();
    s->phase_name = js.at("phase_name").get<std::string>();
    for (const char* name : kStreamHistograms) {
      if (!js.at("histograms").contains(name)) continue;
      auto h = ReadHistogram(js.at("histograms"), name, source, where + ".stream.histograms");
      if (!h.ok()) return h.status();
      s->histograms[name] = *h;
    }
    op.stream = std::move(s);
    return op;
  }
  // Before schema 4 the latency histograms held failed calls too.
  const int64_t timed = schema_version >= 4 ? op.ok : op.requests;
  if (op.corrected->TotalCount() != timed) {
    return Corrupt(source, absl::StrCat(where, ": histogram holds ", op.corrected->TotalCount(),
                                        " values but ", schema_version >= 4 ? "ok" : "requests",
                                        " is ", timed));
  }
  int64_t errors = 0;
  if (schema_version >= 4 && __builtin_sub_overflow(op.requests, op.ok, &errors)) {
    return Corrupt(source, absl::StrCat(where, ": requests out of range"));
  }
  if (schema_version >= 4 && failed_count != errors) {
    return Corrupt(source, absl::StrCat(where, ": failed-call histograms hold ", failed_count,
                                        " values but errors is ", errors));
  }
  return op;
}

}  // namespace

std::string DescribeLoadProfile(const std::vector<ProfileCorner>& corners, absl::string_view unit) {
  std::string out;
  // A long profile (a generated one, steps of milliseconds) in one line of its extent.
  constexpr size_t kMaxSegmentsSpelled = 12;
  if (corners.size() / 2 > kMaxSegmentsSpelled) {
    double low = corners.front().value, high = low;
    for (const ProfileCorner& corner : corners) {
      low = std::min(low, corner.value);
      high = std::max(high, corner.value);
    }
    return absl::StrCat(corners.size() / 2, " segments over ",
                        FormatDuration(std::llround(corners.back().offset_seconds * 1e9)),
                        " between ", low, unit, " and ", high, unit);
  }
  // The runner writes each segment as its two corners.
  for (size_t i = 0; i + 1 < corners.size(); i += 2) {
    const ProfileCorner& from = corners[i];
    const ProfileCorner& to = corners[i + 1];
    const std::string length =
        FormatDuration(std::llround((to.offset_seconds - from.offset_seconds) * 1e9));
    absl::StrAppend(&out, out.empty() ? "" : ", ",
                    from.value == to.value
                        ? absl::StrCat(to.value, unit, " for ", length)
                        : absl::StrCat("ramp to ", to.value, unit, " over ", length));
  }
  return out;
}

double LoadProfileMean(const std::vector<ProfileCorner>& corners, double from_seconds,
                       double to_seconds) {
  if (corners.empty() || to_seconds <= from_seconds) return 0;
  double area = 0;
  for (size_t i = 0; i + 1 < corners.size(); ++i) {
    const ProfileCorner& a = corners[i];
    const ProfileCorner& b = corners[i + 1];
    const double lo = std::max(from_seconds, a.offset_seconds);
    const double hi = std::min(to_seconds, b.offset_seconds);
    if (hi <= lo) continue;  // outside the window, or a step
    const auto at = [&](double t) {
      return a.value +
             (b.value - a.value) * (t - a.offset_seconds) / (b.offset_seconds - a.offset_seconds);
    };
    area += (at(lo) + at(hi)) / 2 * (hi - lo);
  }
  return area / (to_seconds - from_seconds);
}

std::string WireTotalsToJson(const WireTotals& wire) { return WireJson(wire).dump(); }

void AddWireTotals(const WireTotals& from, WireTotals& into) {
  const auto seen = [](int64_t a, int64_t b) { return a < 0 || b < 0 ? -1 : a + b; };
  into.requests += from.requests;
  into.request_bytes = seen(into.request_bytes, from.request_bytes);
  into.request_payload_bytes += from.request_payload_bytes;
  into.responses += from.responses;
  into.response_bytes = seen(into.response_bytes, from.response_bytes);
  into.response_payload_bytes += from.response_payload_bytes;
  for (const auto& [status, count] : from.by_status) into.by_status[status] += count;
}

absl::StatusOr<WireTotals> WireTotalsFromJson(const std::string& json) {
  const nlohmann::json j = nlohmann::json::parse(json, nullptr, /*allow_exceptions=*/false);
  return ReadWireTotals(j);
}

std::string TimelinePointToJson(const TimelinePoint& point) { return PointJson(point).dump(); }

absl::StatusOr<TimelinePoint> TimelinePointFromJson(const std::string& line) {
  const nlohmann::json j = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) return absl::DataLossError("not a JSON object");
  if (auto checked = CheckUntrustedJson(j); !checked.ok()) {
    return absl::DataLossError(checked.message());
  }
  try {
    return ReadPoint(j);
  } catch (const nlohmann::json::exception& e) {
    return absl::DataLossError(absl::StrCat("wrong fields: ", e.what()));
  }
}

namespace {

ordered_json EventJson(const EventResult& e) {
  ordered_json out = {{"name", e.name},
                      {"action", e.action},
                      {"at_seconds", e.at_seconds},
                      {"started_seconds", e.started_seconds},
                      {"finished_seconds", e.finished_seconds},
                      {"ok", e.ok},
                      {"exit_code", e.exit_code},
                      {"output", e.output},
                      {"error", e.error}};
  if (e.recovery_measured) {
    out["recovery"] = {{"first_success_after_seconds", e.first_success_after_seconds},
                       {"unavailable_max_seconds", e.unavailable_max_seconds},
                       {"recovered_seconds", e.recovered_seconds},
                       {"failed_by_code", e.failed_by_code},
                       {"baseline_p99_us", e.baseline_p99_us},
                       {"baseline_rate", e.baseline_rate},
                       {"note", e.recovery_note}};
  }
  return out;
}

// Throws nlohmann's exceptions on wrong fields.
EventResult ReadEvent(const nlohmann::json& j) {
  EventResult e;
  e.name = j.at("name").get<std::string>();
  e.action = j.at("action").get<std::string>();
  e.at_seconds = j.at("at_seconds").get<double>();
  e.started_seconds = j.at("started_seconds").get<double>();
  e.finished_seconds = j.at("finished_seconds").get<double>();
  e.ok = j.at("ok").get<bool>();
  e.exit_code = j.at("exit_code").get<int>();
  e.output = j.at("output").get<std::string>();
  e.error = j.at("error").get<std::string>();
  if (j.contains("recovery")) {
    const auto& jr = j.at("recovery");
    e.recovery_measured = true;
    e.first_success_after_seconds = jr.at("first_success_after_seconds").get<double>();
    e.unavailable_max_seconds = jr.at("unavailable_max_seconds").get<double>();
    e.recovered_seconds = jr.at("recovered_seconds").get<double>();
    e.failed_by_code = jr.at("failed_by_code").get<std::map<std::string, int64_t>>();
    e.baseline_p99_us = jr.at("baseline_p99_us").get<double>();
    e.baseline_rate = jr.at("baseline_rate").get<double>();
    e.recovery_note = jr.at("note").get<std::string>();
  }
  return e;
}

ordered_json ServerHistogramJson(const ServerHistogramResult& h) {
  ordered_json buckets = ordered_json::array();
  for (const ServerHistogramResult::Bucket& b : h.buckets) {
    buckets.push_back({{"le_seconds", b.le_seconds}, {"cumulative", b.cumulative}});
  }
  return {{"name", h.name},       {"metric", h.metric},           {"labels", h.labels},
          {"sources", h.sources}, {"restarted", h.restarted},     {"missing", h.missing},
          {"count", h.count},     {"sum_seconds", h.sum_seconds}, {"buckets", std::move(buckets)}};
}

// Throws nlohmann's exceptions on wrong fields.
ServerHistogramResult ReadServerHistogram(const nlohmann::json& j) {
  ServerHistogramResult h;
  h.name = j.at("name").get<std::string>();
  h.metric = j.at("metric").get<std::string>();
  h.labels = j.at("labels").get<std::map<std::string, std::string>>();
  h.sources = j.at("sources").get<std::vector<std::string>>();
  h.missing = j.at("missing").get<std::vector<std::string>>();
  h.restarted = j.at("restarted").get<std::vector<std::string>>();
  h.count = j.at("count").get<double>();
  h.sum_seconds = j.at("sum_seconds").get<double>();
  for (const auto& b : j.at("buckets")) {
    h.buckets.push_back({b.at("le_seconds").get<double>(), b.at("cumulative").get<double>()});
  }
  return h;
}

}  // namespace

double ServerHistogramResult::UpperBoundSeconds(double q) const {
  if (count <= 0) return std::numeric_limits<double>::quiet_NaN();
  // Less a hair, so that 99.9 / 100 (0.99900000000000011) of 1000 is the 999th.
  const double rank = std::clamp(q, 0.0, 1.0) * count * (1 - 1e-12);
  for (const Bucket& b : buckets) {
    if (b.cumulative > 0 && b.cumulative >= rank) return b.le_seconds;
  }
  return std::numeric_limits<double>::infinity();
}

namespace {
// Seconds as text, within what nanoseconds in 64 bits hold (a result file may say anything).
std::string SecondsText(double seconds) {
  return FormatDuration(static_cast<int64_t>(std::clamp(std::round(seconds * 1e9), -9e18, 9e18)));
}
}  // namespace

std::string ServerHistogramResult::UpperBoundText(double q) const {
  const double bound = UpperBoundSeconds(q);
  if (std::isnan(bound)) return "-";
  if (std::isinf(bound)) {
    return buckets.empty() ? "?" : absl::StrCat("> ", SecondsText(buckets.back().le_seconds));
  }
  return absl::StrCat("<= ", SecondsText(bound));
}

std::string ServerHistogramResult::MeanText() const {
  return count > 0 ? SecondsText(sum_seconds / count) : "-";
}

std::string ServerHistogramResult::SourcesText() const {
  std::string text =
      absl::StrCat(sources.size(), " of ", sources.size() + missing.size(), " endpoints");
  for (const std::string& url : restarted) {
    absl::StrAppend(&text, "; ", url, " restarted during the run: counted since");
  }
  for (const std::string& why : missing) absl::StrAppend(&text, "; missing ", why);
  return text;
}

std::string ServerHistogramResult::Selector() const {
  std::string selector = metric;
  if (labels.empty()) return selector;
  selector += "{";
  for (const auto& [label, value] : labels) {
    absl::StrAppend(&selector, selector.back() == '{' ? "" : ",", label, "=\"", value, "\"");
  }
  return selector + "}";
}

std::string EventToJson(const EventResult& event) { return EventJson(event).dump(); }

absl::StatusOr<EventResult> EventFromJson(const std::string& json) {
  const nlohmann::json j = nlohmann::json::parse(json, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) return absl::DataLossError("event: not a JSON object");
  try {
    return ReadEvent(j);
  } catch (const nlohmann::json::exception& e) {
    return absl::DataLossError(absl::StrCat("event: wrong fields: ", e.what()));
  }
}

bool RunResult::complete() const {
  for (const GeneratorProcess& worker : workers) {
    if (worker.stopped_at_seconds >= 0) return false;
  }
  return true;
}

bool RunResult::passed() const {
  if (!generator.kept_up || !complete()) return false;
  for (const GateResult& gate : gates) {
    if (!gate.passed) return false;
  }
  return true;
}

std::string ResultToJson(const RunResult& r) {
  ordered_json out;
  out["schema"] = kSchemaName;
  out["schema_version"] = kResultSchemaVersion;
  out["tool"] = {{"name", "aurigraph-loadgen"}, {"version", r.tool_version}};
  out["host"] = r.host;
  out["start_time"] = FormatUnixTime(r.start_unix_nanos);
  out["end_time"] = FormatUnixTime(r.end_unix_nanos);
  out["start_unix_nanos"] = r.start_unix_nanos;
  out["end_unix_nanos"] = r.end_unix_nanos;
  out["measured_seconds"] = r.measured_seconds;
  out["target"] = r.target;
  if (!r.reflection.empty()) out["reflection"] = r.reflection;
  out["load_model"] = r.load_model;
  out["target_rate"] = r.target_rate;
  if (!r.load_profile.empty()) out["load_profile"] = r.load_profile;
  out["scenario_name"] = r.scenario_name;
  out["scenario"] = ordered_json::parse(r.scenario_json.empty() ? "{}" : r.scenario_json);
  out["verdict"] = r.passed() ? "pass" : "fail";
  const GeneratorHealth& g = r.generator;
  out["generator"] = {{"kept_up", g.kept_up},
                      {"verdict", g.verdict},
                      {"sent", g.sent},
                      {"delayed_by_in_flight_bound", g.delayed_by_in_flight_bound},
                      {"not_sent_generator_behind", g.not_sent_generator_behind},
                      {"not_sent_in_flight_bound", g.not_sent_in_flight_bound},
                      {"cancelled_at_drain", g.cancelled_at_drain},
                      {"request_build_errors", g.request_build_errors},
                      {"warmup_completions", g.warmup_completions},
                      {"max_generator_lag_p99_us", g.max_generator_lag_p99_us},
                      {"cpu_seconds", g.cpu_seconds},
                      {"cpu_cores", g.cpu_cores},
                      {"schedule_lag_us", Percentiles(*g.schedule_lag)},
                      {"generator_lag_us", Percentiles(*g.generator_lag)},
                      {"histograms",
                       {{"schedule_lag", EncodeBase64(*g.schedule_lag)},
                        {"generator_lag", EncodeBase64(*g.generator_lag)}}}};
  out["resources"] = {{"loadgen_peak_rss_bytes", r.resources.loadgen_peak_rss_bytes},
                      {"server_peak_rss_bytes", r.resources.server_peak_rss_bytes},
                      {"server_rss_bytes", r.resources.server_rss_bytes},
                      {"watched_pid", r.resources.watched_pid}};
  out["total"] = OperationJson(r.total);
  out["operations"] = ordered_json::array();
  for (const auto& op : r.operations) out["operations"].push_back(OperationJson(op));
  if (!r.recovered_from.empty()) out["recovered_from"] = r.recovered_from;
  if (!r.workers.empty()) {
    out["complete"] = r.complete();
    out["workers"] = ordered_json::array();
    for (const GeneratorProcess& w : r.workers) {
      out["workers"].push_back({{"index", w.index},
                                {"host", w.host},
                                {"source", w.source},
                                {"sent", w.sent},
                                {"schedule_lag_p99_us", w.schedule_lag_p99_us},
                                {"generator_lag_p99_us", w.generator_lag_p99_us},
                                {"cpu_seconds", w.cpu_seconds},
                                {"cpu_cores", w.cpu_cores},
                                {"kept_up", w.kept_up},
                                {"verdict", w.verdict},
                                {"stopped_at_seconds", w.stopped_at_seconds},
                                {"clock_offset_us", w.clock_offset_us},
                                {"clock_uncertainty_us", w.clock_uncertainty_us}});
    }
  }
  out["timeline"] = TimelineJson(r.timeline);
  if (r.webhooks) out["webhooks"] = WebhookJson(*r.webhooks);
  if (!r.events.empty()) {
    out["events"] = ordered_json::array();
    for (const EventResult& e : r.events) out["events"].push_back(EventJson(e));
  }
  if (!r.server_histograms.empty()) {
    out["server_histograms"] = ordered_json::array();
    for (const ServerHistogramResult& h : r.server_histograms) {
      out["server_histograms"].push_back(ServerHistogramJson(h));
    }
  }
  out["gates"] = ordered_json::array();
  for (const auto& gate : r.gates) {
    out["gates"].push_back({{"expression", gate.expression},
                            {"operation", gate.operation},
                            {"metric", gate.metric},
                            {"unit", gate.unit},
                            {"measured", gate.measured},
                            {"limit", gate.limit},
                            {"passed", gate.passed},
                            {"message", gate.message}});
  }
  return out.dump(2) + "\n";
}

absl::StatusOr<RunResult> ResultFromJson(const std::string& text, const std::string& source) {
  const nlohmann::json j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return Corrupt(source, "not valid JSON (truncated or corrupt result file)");
  // Checked by type first: json::value() throws when a field has another type.
  if (!j.is_object() || !j.contains("schema") || j["schema"] != kSchemaName) {
    return Corrupt(source, absl::StrCat("not an aurigraph-loadgen result (schema is not '",
                                        kSchemaName, "')"));
  }
  if (j.contains("schema_version") && !j["schema_version"].is_number_integer()) {
    return Corrupt(source, "schema_version is not an integer");
  }
  const int64_t version = j.value("schema_version", int64_t{0});
  if (version < kOldestReadableSchemaVersion || version > kResultSchemaVersion) {
    return Corrupt(source,
                   absl::StrCat("unsupported schema_version ", version, " (this tool reads ",
                                kOldestReadableSchemaVersion, " to ", kResultSchemaVersion, ")"));
  }
  if (auto checked = CheckUntrustedJson(j); !checked.ok()) {
    return Corrupt(source, std::string(checked.message()));
  }
  try {
    RunResult r;
    r.schema_version = static_cast<int>(version);
    r.tool_version = j.at("tool").at("version").get<std::string>();
    r.host = j.at("host").get<std::string>();
    r.start_unix_nanos = j.at("start_unix_nanos").get<int64_t>();
    r.end_unix_nanos = j.at("end_unix_nanos").get<int64_t>();
    r.measured_seconds = j.at("measured_seconds").get<double>();
    r.target = j.at("target").get<std::string>();
    r.reflection = j.value("reflection", "");
    r.load_model = j.at("load_model").get<std::string>();
    r.target_rate = j.at("target_rate").get<double>();
    r.load_profile = j.value("load_profile", std::vector<ProfileCorner>{});
    r.scenario_name = j.at("scenario_name").get<std::string>();
    r.scenario_json = j.at("scenario").dump();
    const auto& g = j.at("generator");
    r.generator.kept_up = g.at("kept_up").get<bool>();
    r.generator.verdict = g.at("verdict").get<std::string>();
    r.generator.sent = g.at("sent").get<int64_t>();
    r.generator.delayed_by_in_flight_bound = g.at("delayed_by_in_flight_bound").get<int64_t>();
    r.generator.not_sent_generator_behind = g.value("not_sent_generator_behind", int64_t{0});
    r.generator.not_sent_in_flight_bound = g.value("not_sent_in_flight_bound", int64_t{0});
    r.generator.cancelled_at_drain = g.at("cancelled_at_drain").get<int64_t>();
    r.generator.request_build_errors = g.value("request_build_errors", int64_t{0});
    r.generator.warmup_completions = g.at("warmup_completions").get<int64_t>();
    r.generator.max_generator_lag_p99_us = g.at("max_generator_lag_p99_us").get<int64_t>();
    r.generator.cpu_seconds = g.value("cpu_seconds", -1.0);
    r.generator.cpu_cores = static_cast<int>(g.value("cpu_cores", int64_t{0}));
    auto lag = ReadHistogram(g.at("histograms"), "schedule_lag", source, "generator.histograms");
    if (!lag.ok()) return lag.status();
    auto own = ReadHistogram(g.at("histograms"), "generator_lag", source, "generator.histograms");
    if (!own.ok()) return own.status();
    r.generator.schedule_lag = *lag;
    r.generator.generator_lag = *own;
    const auto& resources = j.at("resources");
    r.resources.loadgen_peak_rss_bytes = resources.at("loadgen_peak_rss_bytes").get<int64_t>();
    r.resources.server_peak_rss_bytes = resources.at("server_peak_rss_bytes").get<int64_t>();
    r.resources.server_rss_bytes = resources.at("server_rss_bytes").get<int64_t>();
    r.resources.watched_pid = resources.value("watched_pid", int64_t{0});
    auto total = ReadOperation(j.at("total"), version, source, "total");
    if (!total.ok()) return total.status();
    r.total = *std::move(total);
    const auto& ops = j.at("operations");
    for (size_t i = 0; i < ops.size(); ++i) {
      auto op = ReadOperation(ops[i], version, source, absl::StrCat("operations[", i, "]"));
      if (!op.ok()) return op.status();
      r.operations.push_back(*std::move(op));
    }
    r.recovered_from = j.value("recovered_from", "");
    if (j.contains("workers")) {
      for (const auto& jw : j.at("workers")) {
        GeneratorProcess w;
        w.index = jw.at("index").get<int>();
        w.host = jw.at("host").get<std::string>();
        w.source = jw.at("source").get<std::string>();
        w.sent = jw.at("sent").get<int64_t>();
        w.schedule_lag_p99_us = jw.at("schedule_lag_p99_us").get<int64_t>();
        w.generator_lag_p99_us = jw.at("generator_lag_p99_us").get<int64_t>();
        w.cpu_seconds = jw.at("cpu_seconds").get<double>();
        w.cpu_cores = jw.at("cpu_cores").get<int>();
        w.kept_up = jw.at("kept_up").get<bool>();
        w.verdict = jw.at("verdict").get<std::string>();
        w.stopped_at_seconds = jw.at("stopped_at_seconds").get<double>();
        w.clock_offset_us = jw.at("clock_offset_us").get<int64_t>();
        w.clock_uncertainty_us = jw.at("clock_uncertainty_us").get<int64_t>();
        r.workers.push_back(std::move(w));
      }
    }
    if (version >= 3) {
      r.timeline = ReadTimeline(j.at("timeline"));
      for (size_t i = 0; i < r.timeline.points.size(); ++i) {
        if (r.timeline.points[i].operations.size() != r.operations.size()) {
          return Corrupt(source, absl::StrCat("timeline.points[", i, "] has ",
                                              r.timeline.points[i].operations.size(),
                                              " operations, the result has ", r.operations.size()));
        }
      }
    }
    if (j.contains("webhooks")) {
      const auto& jw = j.at("webhooks");
      auto w = std::make_shared<WebhookResult>();
      w->webhook_id = jw.at("webhook_id").get<std::string>();
      w->events = jw.at("events").get<std::vector<std::string>>();
      w->sink_fail_ratio = jw.at("sink_fail_ratio").get<double>();
      for (const auto& count : kWebhookCounts) (*w).*count.field = jw.at(count.key).get<int64_t>();
      w->accepted_by_attempt = jw.at("accepted_by_attempt").get<std::map<std::string, int64_t>>();
      w->delivery_rate = jw.at("delivery_rate").get<double>();
      w->drain_seconds = jw.at("drain_seconds").get<double>();
      auto latency = ReadHistogram(jw, "histogram", source, "webhooks");
      if (!latency.ok()) return latency.status();
      w->latency = *latency;
      w->error = jw.value("error", "");
      r.webhooks = std::move(w);
    }
    if (j.contains("events")) {
      for (const auto& je : j.at("events")) r.events.push_back(ReadEvent(je));
    }
    if (j.contains("server_histograms")) {
      for (const auto& jh : j.at("server_histograms")) {
        r.server_histograms.push_back(ReadServerHistogram(jh));
      }
    }
    for (const auto& gate : j.at("gates")) {
      r.gates.push_back(GateResult{
          gate.at("expression").get<std::string>(), gate.at("operation").get<std::string>(),
          gate.at("metric").get<std::string>(), gate.at("unit").get<std::string>(),
          gate.at("measured").get<double>(), gate.at("limit").get<double>(),
          gate.at("passed").get<bool>(), gate.at("message").get<std::string>()});
    }
    return r;
  } catch (const nlohmann::json::exception& e) {
    return Corrupt(source, absl::StrCat("wrong schema: ", e.what()));
  }
}

absl::StatusOr<RunResult> ReadResultFile(const std::string& path) {
  auto text = ReadInputFile(path, path);
  if (absl::IsNotFound(text.status())) {
    return absl::NotFoundError(absl::StrCat(path, ": cannot read result file"));
  }
  if (!text.ok()) return text.status();
  return ResultFromJson(*text, path);
}

absl::Status WriteResultFile(const RunResult& result, const std::string& path) {
  return WriteFileAtomically(path, ResultToJson(result));
}

}  // namespace aurigraph::loadgen
