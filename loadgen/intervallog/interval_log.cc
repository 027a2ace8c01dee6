#include "loadgen/intervallog/interval_log.h"

#include <cmath>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "common/input/input_file.h"
#include "common/input/json_check.h"
#include "common/units/units.h"
#include "loadgen/assemble/result_builder.h"
#include "loadgen/histogram/histogram_codec.h"
#include "loadgen/histogram/latency.h"
#include "loadgen/recorder/run_totals.h"
#include "loadgen/result/profile_json.h"
#include "loadgen/scenario/scenario.h"

namespace aurigraph::loadgen {
namespace {

constexpr const char* kIntervalsSchema = "aurigraph-loadbench/intervals";
// Version 2: every interval whole (all histograms and counts), and the run's end.
constexpr int kIntervalsVersion = 2;
constexpr const char* kScheduleLagTag = "schedule_lag";
constexpr const char* kGeneratorLagTag = "generator_lag";
constexpr const char* kUncorrectedSuffix = ".uncorrected";
// Interval times beyond this (about 31 years) cannot come from a run.
constexpr double kMaxOffsetSeconds = 1e9;
constexpr int64_t kMaxOffsetNanos = 1'000'000'000'000'000'000;

// HdrHistogram tags may not hold commas or white space.
std::string Tag(const std::string& name) {
  std::string tag = name;
  // A tag is one token of one line: separators and control characters (a
  // line break in an operation's name) become '_'.
  for (char& c : tag) {
    if (c == ',' || c == ' ' || c == '=' || static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
      c = '_';
    }
  }
  return tag;
}

void AppendHistogramLine(std::string& out, const std::string& tag, const TimelinePoint& point,
                         const Histogram& h) {
  if (h.TotalCount() == 0) return;
  // Interval_Max in milliseconds (values are microseconds), as HdrHistogram's
  // own writers scale it to a readable unit.
  absl::StrAppendFormat(&out, "Tag=%s,%.3f,%.3f,%.3f,%s\n", tag, point.offset_seconds,
                        point.seconds, static_cast<double>(h.Max()) / 1000.0, EncodeBase64(h));
}

// The tag of an operation's failed calls with one status code.
std::string FailedTag(const std::string& operation_tag, int code) {
  return absl::StrCat(operation_tag, ".failed.", StatusCodeName(code));
}

// A stream operation's histograms other than its message latency, by tag suffix.
std::vector<std::pair<const char*, Histogram StreamStats::*>> StreamHistograms() {
  return {{".first_message", &StreamStats::first_message},
          {".inter_arrival", &StreamStats::inter_arrival},
          {".send_lag", &StreamStats::send_lag},
          {".close_latency", &StreamStats::close_latency},
          {".phase", &StreamStats::phase}};
}

// Where `tag` belongs in a slice whose operations have `tags`; null when nowhere.
Histogram* HistogramForTag(IntervalSlice& slice, const std::vector<std::string>& tags,
                           const std::string& tag) {
  if (tag == kScheduleLagTag) return &slice.schedule_lag;
  if (tag == kGeneratorLagTag) return &slice.generator_lag;
  for (size_t i = 0; i < tags.size(); ++i) {
    if (tag.size() < tags[i].size() || tag.compare(0, tags[i].size(), tags[i]) != 0) continue;
    IntervalOperation& op = slice.operations[i];
    const std::string suffix = tag.substr(tags[i].size());
    if (suffix.empty()) return &op.latency;
    if (suffix == kUncorrectedSuffix) return &op.uncorrected;
    for (int code = 1; code < kStatusCodeCount; ++code) {
      if (tag != FailedTag(tags[i], code)) continue;
      if (!op.failed[code]) op.failed[code].emplace(MakeLatencyHistogram());
      return &*op.failed[code];
    }
    for (const auto& [name, member] : StreamHistograms()) {
      if (suffix == name) return &(op.streams().*member);
    }
  }
  return nullptr;
}

// Counts in one interval beyond this (10^12) cannot come from a run; with at
// most kMaxIntervals intervals their totals cannot overflow.
constexpr int64_t kMaxIntervalCount = int64_t{1} << 40;
constexpr size_t kMaxIntervals = size_t{1} << 22;

// A count of an interval log's line; throws nlohmann's exceptions when it is
// missing or outside [minimum, kMaxIntervalCount].
int64_t CountField(const nlohmann::json& j, const char* key, int64_t minimum = 0) {
  const int64_t value = j.at(key).get<int64_t>();
  if (value < minimum || value > kMaxIntervalCount) {
    throw nlohmann::json::out_of_range::create(406, std::string(key) + " out of range", &j);
  }
  return value;
}

// Status messages by code name, as result.json lists them.
nlohmann::ordered_json ErrorMessagesJson(const ErrorMessages& kept) {
  nlohmann::ordered_json codes = nlohmann::ordered_json::object();
  for (int code = 1; code < kStatusCodeCount; ++code) {
    const std::vector<ErrorMessages::Entry> top = kept.Top(code);
    if (top.empty() && kept.other(code) == 0) continue;
    nlohmann::ordered_json messages = nlohmann::ordered_json::array();
    for (const ErrorMessages::Entry& entry : top) {
      messages.push_back({{"message", entry.message}, {"count", entry.count}});
    }
    codes[StatusCodeName(code)] = {{"messages", std::move(messages)}, {"other", kept.other(code)}};
  }
  return codes;
}

// Reads what ErrorMessagesJson wrote; throws nlohmann's exceptions on wrong fields.
void ReadErrorMessages(const nlohmann::json& j, ErrorMessages& kept) {
  if (!j.is_object()) throw nlohmann::json::type_error::create(302, "messages not an object", &j);
  for (const auto& [name, jc] : j.items()) {
    const absl::StatusOr<int> code = ParseStatusCode(name);
    if (!code.ok() || *code == 0) {
      throw nlohmann::json::other_error::create(501, "no failed calls with status " + name, &j);
    }
    for (const auto& jm : jc.at("messages")) {
      const absl::Status added =
          kept.Add(*code, jm.at("message").get<std::string>(), CountField(jm, "count"));
      if (!added.ok()) {
        throw nlohmann::json::other_error::create(501, std::string(added.message()), &j);
      }
    }
    kept.AddOther(*code, CountField(jc, "other"));
  }
}

// Whether `kept` counts every failed call (stream) of `codes` once.
bool CountsEveryFailure(const ErrorMessages& kept,
                        const std::array<int64_t, kStatusCodeCount>& codes) {
  for (int code = 1; code < kStatusCodeCount; ++code) {
    if (kept.total(code) != codes[code]) return false;
  }
  return true;
}

// The counts of a stream operation's interval (its histograms go to the .hlog).
nlohmann::ordered_json StreamCountsJson(const StreamStats& s) {
  nlohmann::ordered_json codes = nlohmann::ordered_json::object();
  for (int code = 0; code < kStatusCodeCount; ++code) {
    if (s.close_codes[code] > 0) codes[StatusCodeName(code)] = s.close_codes[code];
  }
  return {{"opened", s.streams_opened},
          {"completed", s.streams_completed},
          {"failed", s.streams_failed},
          {"ended_early", s.streams_ended_early},
          {"ended_by_server", s.streams_ended_by_server},
          {"failed_to_open", s.streams_failed_to_open},
          {"close_codes", codes},
          {"close_messages", ErrorMessagesJson(s.close_messages)},
          {"messages_sent", s.messages_sent},
          {"messages_received", s.messages_received},
          {"measured_sent", s.measured_sent},
          {"measured_received", s.measured_received},
          {"unmatched_replies", s.unmatched_replies},
          {"delayed_sends", s.delayed_sends},
          {"messages_not_sent", s.messages_not_sent},
          {"min_open", s.min_open_streams},
          {"max_open", s.max_open_streams}};
}

// A finality operation's counts, by name (FinalityCounts).
std::vector<std::pair<const char*, int64_t FinalityCounts::*>> FinalityCountFields() {
  return {{"tracked", &FinalityCounts::tracked},
          {"lost", &FinalityCounts::lost},
          {"final_without_ack", &FinalityCounts::final_without_ack},
          {"duplicates", &FinalityCounts::duplicates},
          {"not_final_unacked", &FinalityCounts::not_final_unacked},
          {"unmatched_events", &FinalityCounts::unmatched_events},
          {"untracked", &FinalityCounts::untracked},
          {"subscription_breaks", &FinalityCounts::subscription_breaks}};
}

nlohmann::ordered_json FinalityCountsJson(const FinalityCounts& counts) {
  nlohmann::ordered_json j = nlohmann::ordered_json::object();
  for (const auto& [name, member] : FinalityCountFields()) j[name] = counts.*member;
  return j;
}

void ReadFinalityCounts(const nlohmann::json& j, FinalityCounts& counts) {
  for (const auto& [name, member] : FinalityCountFields()) counts.*member = CountField(j, name);
}

// Reads what StreamCountsJson wrote; throws nlohmann's exceptions on wrong fields.
void ReadStreamCounts(const nlohmann::json& j, StreamStats& s) {
  s.streams_opened = CountField(j, "opened");
  s.streams_completed = CountField(j, "completed");
  s.streams_failed = CountField(j, "failed");
  s.streams_ended_early = CountField(j, "ended_early");
  // Logs written before the count existed have none.
  s.streams_ended_by_server = j.contains("ended_by_server") ? CountField(j, "ended_by_server") : 0;
  s.streams_failed_to_open = CountField(j, "failed_to_open");
  for (const auto& [name, count] : j.at("close_codes").items()) {
    const absl::StatusOr<int> code = ParseStatusCode(name);
    if (!code.ok()) {
      throw nlohmann::json::other_error::create(501, "unknown status code " + name, &j);
    }
    s.close_codes[*code] = CountField(j.at("close_codes"), name.c_str());
  }
  if (j.contains("close_messages")) ReadErrorMessages(j.at("close_messages"), s.close_messages);
  s.messages_sent = CountField(j, "messages_sent");
  s.messages_received = CountField(j, "messages_received");
  s.measured_sent = CountField(j, "measured_sent");
  s.measured_received = CountField(j, "measured_received");
  s.unmatched_replies = CountField(j, "unmatched_replies");
  s.delayed_sends = CountField(j, "delayed_sends");
  // Absent from logs written before it was counted.
  if (j.contains("messages_not_sent")) s.messages_not_sent = CountField(j, "messages_not_sent");
  s.min_open_streams = CountField(j, "min_open", -1);
  s.max_open_streams = CountField(j, "max_open");
}

nlohmann::ordered_json GeneratorCountsJson(const GeneratorCounts& g) {
  return {{"delayed_by_in_flight_bound", g.delayed_by_in_flight_bound},
          {"not_sent_generator_behind", g.not_sent_generator_behind},
          {"not_sent_in_flight_bound", g.not_sent_in_flight_bound},
          {"cancelled_at_drain", g.cancelled_at_drain},
          {"request_build_errors", g.request_build_errors},
          {"warmup_completions", g.warmup_completions},
          {"last_completion_nanos", g.last_completion_nanos}};
}

void ReadGeneratorCounts(const nlohmann::json& j, GeneratorCounts& g) {
  g.delayed_by_in_flight_bound = CountField(j, "delayed_by_in_flight_bound");
  g.not_sent_generator_behind = CountField(j, "not_sent_generator_behind");
  g.not_sent_in_flight_bound = CountField(j, "not_sent_in_flight_bound");
  g.cancelled_at_drain = CountField(j, "cancelled_at_drain");
  g.request_build_errors = CountField(j, "request_build_errors");
  g.warmup_completions = CountField(j, "warmup_completions");
  g.last_completion_nanos = j.at("last_completion_nanos").get<int64_t>();
  if (g.last_completion_nanos < -1 || g.last_completion_nanos > kMaxOffsetNanos) {
    throw nlohmann::json::out_of_range::create(406, "last_completion_nanos out of range", &j);
  }
}

absl::Status Corrupt(const std::string& file, size_t line, absl::string_view what) {
  return absl::DataLossError(absl::StrCat(file, ":", line, ": ", what));
}

// The string `key` of a JSON object, or "" (nlohmann's value() throws on other types).
std::string TextField(const nlohmann::json& j, const char* key) {
  if (!j.is_object() || !j.contains(key) || !j[key].is_string()) return "";
  return j[key].get<std::string>();
}

// Everything of a run the first line of intervals.jsonl holds.
nlohmann::ordered_json DescriptionJson(const RunDescription& run) {
  nlohmann::ordered_json operations = nlohmann::ordered_json::array();
  for (const OperationDescription& op : run.operations) {
    operations.push_back({{"name", op.name},
                          {"rpc", op.rpc},
                          {"kind", op.kind},
                          {"tag", Tag(op.name)},
                          {"target_rate", op.target_rate},
                          {"streams_target", op.streams_target},
                          {"phase_name", op.phase_name}});
    if (op.finality()) {
      operations.back()["tracks"] = op.tracks;
      operations.back()["finality_timeout_nanos"] = op.finality_timeout_nanos;
    }
  }
  nlohmann::ordered_json head = {
      {"schema", kIntervalsSchema},
      {"version", kIntervalsVersion},
      {"tool_version", run.tool_version},
      {"host", run.host},
      {"scenario_name", run.scenario_name},
      {"scenario", nlohmann::ordered_json::parse(
                       run.scenario_json.empty() ? "{}" : run.scenario_json, nullptr, false)},
      {"target", run.target},
      {"load_model", run.load_model},
      {"target_rate", run.target_rate},
      {"load_profile", run.load_profile},
      {"start_unix_nanos", run.start_unix_nanos},
      {"interval_nanos", run.interval_nanos},
      {"duration_nanos", run.duration_nanos},
      {"warmup_nanos", run.warmup_nanos},
      {"request_budget", run.request_budget},
      {"max_generator_lag_p99_us", run.max_generator_lag_p99_us},
      {"watched_pid", run.watched_pid},
      {"partition_index", run.partition_index},
      {"partition_count", run.partition_count},
      {"operations", operations}};
  if (!run.reflection.empty()) head["reflection"] = run.reflection;
  return head;
}

// Reads DescriptionJson's output into `run` and the operations' tags; throws
// nlohmann's exceptions on wrong fields.
void ReadDescription(const nlohmann::json& head, RunDescription& run,
                     std::vector<std::string>& tags) {
  run.tool_version = head.at("tool_version").get<std::string>();
  run.host = head.at("host").get<std::string>();
  run.scenario_name = head.at("scenario_name").get<std::string>();
  run.scenario_json = head.at("scenario").dump();
  run.target = head.at("target").get<std::string>();
  run.reflection = head.value("reflection", "");
  run.load_model = head.at("load_model").get<std::string>();
  run.target_rate = head.at("target_rate").get<double>();
  run.load_profile = head.value("load_profile", std::vector<ProfileCorner>{});
  run.start_unix_nanos = head.at("start_unix_nanos").get<int64_t>();
  run.interval_nanos = head.at("interval_nanos").get<int64_t>();
  run.duration_nanos = head.at("duration_nanos").get<int64_t>();
  run.warmup_nanos = head.at("warmup_nanos").get<int64_t>();
  run.request_budget = head.at("request_budget").get<bool>();
  run.max_generator_lag_p99_us = head.at("max_generator_lag_p99_us").get<int64_t>();
  run.watched_pid = head.at("watched_pid").get<int64_t>();
  // Logs written before runs were split have none: the whole run.
  run.partition_index = head.value("partition_index", 0);
  run.partition_count = head.value("partition_count", 1);
  for (const auto& op : head.at("operations")) {
    OperationDescription d;
    d.name = op.at("name").get<std::string>();
    d.rpc = op.at("rpc").get<std::string>();
    d.kind = op.at("kind").get<std::string>();
    d.target_rate = op.at("target_rate").get<double>();
    d.streams_target = op.at("streams_target").get<int64_t>();
    d.phase_name = op.at("phase_name").get<std::string>();
    d.tracks = op.value("tracks", "");
    d.finality_timeout_nanos = op.value("finality_timeout_nanos", int64_t{0});
    tags.push_back(op.at("tag").get<std::string>());
    run.operations.push_back(std::move(d));
  }
}

nlohmann::ordered_json EndJson(const RunEnd& end) {
  nlohmann::ordered_json out = {{"end_offset_nanos", end.end_offset_nanos},
                                {"cpu_seconds", end.cpu_seconds},
                                {"cpu_cores", end.cpu_cores},
                                {"loadgen_peak_rss_bytes", end.loadgen_peak_rss_bytes},
                                {"server_peak_rss_bytes", end.server_peak_rss_bytes},
                                {"server_rss_bytes", end.server_rss_bytes}};
  if (!end.wire.empty()) {
    nlohmann::ordered_json wire = nlohmann::ordered_json::array();
    for (const std::optional<WireTotals>& w : end.wire) {
      wire.push_back(w ? nlohmann::ordered_json::parse(WireTotalsToJson(*w))
                       : nlohmann::ordered_json());
    }
    out["wire"] = std::move(wire);
  }
  return out;
}

// A record that is not one throws, as nlohmann's accessors do.
void ReadEnd(const nlohmann::json& j, RunEnd& end) {
  end.end_offset_nanos = j.at("end_offset_nanos").get<int64_t>();
  end.cpu_seconds = j.at("cpu_seconds").get<double>();
  end.cpu_cores = j.at("cpu_cores").get<int>();
  end.loadgen_peak_rss_bytes = j.at("loadgen_peak_rss_bytes").get<int64_t>();
  end.server_peak_rss_bytes = j.at("server_peak_rss_bytes").get<int64_t>();
  end.server_rss_bytes = j.at("server_rss_bytes").get<int64_t>();
  end.wire.clear();
  if (!j.contains("wire")) return;
  for (const nlohmann::json& w : j.at("wire")) {
    if (w.is_null()) {
      end.wire.emplace_back();
      continue;
    }
    auto read = WireTotalsFromJson(w.dump());
    if (!read.ok()) {
      throw nlohmann::json::other_error::create(
          501, absl::StrCat("wire: ", read.status().message()), &w);
    }
    end.wire.emplace_back(*std::move(read));
  }
}

}  // namespace

int64_t OffsetKey(double seconds) { return std::llround(seconds * 1000); }

IntervalLogText IntervalLogFormatter::Start(const RunDescription& run) {
  IntervalLogText text;
  const double start_seconds = static_cast<double>(run.start_unix_nanos) / 1e9;
  text.histograms = absl::StrFormat(
      "#[Histogram log format version 1.3]\n"
      "#[StartTime: %.3f (seconds since epoch), %s]\n"
      "#[aurigraph-loadgen %s: latency in microseconds from the intended send time, "
      "tags per operation; Interval_Max in milliseconds]\n"
      "\"StartTimestamp\",\"Interval_Length\",\"Interval_Max\","
      "\"Interval_Compressed_Histogram\"\n",
      start_seconds, FormatUnixTime(run.start_unix_nanos), run.tool_version);
  tags_.clear();
  for (const OperationDescription& op : run.operations) tags_.push_back(Tag(op.name));
  text.intervals = DescriptionJson(run).dump() + "\n";
  return text;
}

IntervalLogText IntervalLogFormatter::Interval(const IntervalSlice& slice,
                                               const TimelinePoint& point) const {
  IntervalLogText text;
  nlohmann::ordered_json line = nlohmann::ordered_json::parse(TimelinePointToJson(point));
  nlohmann::ordered_json streams = nlohmann::ordered_json::array();
  nlohmann::ordered_json finality = nlohmann::ordered_json::array();
  nlohmann::ordered_json messages = nlohmann::ordered_json::array();
  bool any_finality = false;
  for (size_t i = 0; i < slice.operations.size() && i < tags_.size(); ++i) {
    const IntervalOperation& op = slice.operations[i];
    AppendHistogramLine(text.histograms, tags_[i], point, op.latency);
    AppendHistogramLine(text.histograms, tags_[i] + kUncorrectedSuffix, point, op.uncorrected);
    for (int code = 1; code < kStatusCodeCount; ++code) {
      if (!op.failed[code]) continue;
      AppendHistogramLine(text.histograms, FailedTag(tags_[i], code), point, *op.failed[code]);
    }
    if (op.stream) {
      for (const auto& [suffix, member] : StreamHistograms()) {
        AppendHistogramLine(text.histograms, tags_[i] + suffix, point, (*op.stream).*member);
      }
    }
    streams.push_back(op.stream ? StreamCountsJson(*op.stream) : nlohmann::ordered_json());
    finality.push_back(op.finality ? FinalityCountsJson(*op.finality) : nlohmann::ordered_json());
    any_finality = any_finality || op.finality;
    messages.push_back(ErrorMessagesJson(op.error_messages));
  }
  AppendHistogramLine(text.histograms, kScheduleLagTag, point, slice.schedule_lag);
  AppendHistogramLine(text.histograms, kGeneratorLagTag, point, slice.generator_lag);
  line["counts"] = {{"generator", GeneratorCountsJson(slice.generator)},
                    {"streams", streams},
                    {"error_messages", messages}};
  if (any_finality) line["counts"]["finality"] = std::move(finality);
  text.intervals = line.dump() + "\n";
  return text;
}

IntervalLogText IntervalLogFormatter::Event(const EventResult& event) const {
  return IntervalLogText{absl::StrCat("{\"event\":", EventToJson(event), "}\n"), ""};
}

IntervalLogText IntervalLogFormatter::End(const RunEnd& end) const {
  return IntervalLogText{nlohmann::ordered_json({{"end", EndJson(end)}}).dump() + "\n", ""};
}

absl::StatusOr<std::unique_ptr<IntervalLogFiles>> IntervalLogFiles::Create(const std::string& dir) {
  const std::string histograms_path = (std::filesystem::path(dir) / kHistogramLogName).string();
  const std::string intervals_path = (std::filesystem::path(dir) / kIntervalsLogName).string();
  std::FILE* histograms = std::fopen(histograms_path.c_str(), "w");
  if (histograms == nullptr) {
    return absl::PermissionDeniedError(absl::StrCat(histograms_path, ": cannot write"));
  }
  std::FILE* intervals = std::fopen(intervals_path.c_str(), "w");
  if (intervals == nullptr) {
    std::fclose(histograms);
    return absl::PermissionDeniedError(absl::StrCat(intervals_path, ": cannot write"));
  }
  return std::unique_ptr<IntervalLogFiles>(new IntervalLogFiles(histograms, intervals));
}

IntervalLogFiles::IntervalLogFiles(std::FILE* histograms, std::FILE* intervals)
    : histograms_(histograms), intervals_(intervals) {}

IntervalLogFiles::~IntervalLogFiles() {
  std::fclose(histograms_);
  std::fclose(intervals_);
}

void IntervalLogFiles::Append(const IntervalLogText& text) {
  // The histograms first: a reader takes an interval only once its line of
  // intervals.jsonl is whole, and then finds all of its histograms.
  std::fwrite(text.histograms.data(), 1, text.histograms.size(), histograms_);
  std::fflush(histograms_);
  std::fwrite(text.intervals.data(), 1, text.intervals.size(), intervals_);
  std::fflush(intervals_);
}

absl::StatusOr<std::unique_ptr<IntervalLogWriter>> IntervalLogWriter::Create(
    const std::string& dir) {
  auto files = IntervalLogFiles::Create(dir);
  if (!files.ok()) return files.status();
  return std::unique_ptr<IntervalLogWriter>(new IntervalLogWriter(*std::move(files)));
}

IntervalLogWriter::IntervalLogWriter(std::unique_ptr<IntervalLogFiles> files)
    : files_(std::move(files)) {}

void IntervalLogWriter::OnRunStart(const RunDescription& run) {
  files_->Append(formatter_.Start(run));
}

// Each interval reaches the kernel before the next is taken: a killed process
// loses at most the interval in progress.
void IntervalLogWriter::OnInterval(const IntervalSlice& slice, const TimelinePoint& point) {
  files_->Append(formatter_.Interval(slice, point));
}

void IntervalLogWriter::OnRunEnd(const RunEnd& end) { files_->Append(formatter_.End(end)); }

void IntervalLogWriter::OnEvent(const EventResult& event) {
  files_->Append(formatter_.Event(event));
}

absl::StatusOr<std::unique_ptr<IntervalLogReader>> IntervalLogReader::Open(const std::string& dir) {
  const std::string intervals_path = (std::filesystem::path(dir) / kIntervalsLogName).string();
  const std::string histograms_path = (std::filesystem::path(dir) / kHistogramLogName).string();
  if (!std::filesystem::exists(intervals_path)) {
    return absl::NotFoundError(absl::StrCat(intervals_path, ": no interval log"));
  }
  auto intervals = LineReader::Open(intervals_path, intervals_path);
  if (!intervals.ok()) return intervals.status();
  std::string line;
  auto read = intervals->Next(&line);
  if (!read.ok()) return read.status();
  if (!*read) return Corrupt(intervals_path, 1, "empty (the run never started)");
  const nlohmann::json head = nlohmann::json::parse(line, nullptr, false);
  if (head.is_discarded() || TextField(head, "schema") != kIntervalsSchema) {
    return Corrupt(intervals_path, 1, "not an aurigraph-loadgen interval log");
  }
  if (auto checked = CheckUntrustedJson(head); !checked.ok()) {
    return Corrupt(intervals_path, 1, checked.message());
  }
  if (!head.contains("version") || head["version"] != kIntervalsVersion) {
    return Corrupt(
        intervals_path, 1,
        absl::StrCat("interval log version ", head.value("version", nlohmann::json()).dump(),
                     ": this aurigraph-loadgen reads version ", kIntervalsVersion));
  }
  std::unique_ptr<IntervalLogReader> reader(
      new IntervalLogReader(intervals_path, histograms_path, *std::move(intervals)));
  try {
    ReadDescription(head, reader->run_, reader->tags_);
  } catch (const nlohmann::json::exception& e) {
    return Corrupt(intervals_path, 1, absl::StrCat("wrong run header: ", e.what()));
  }
  const RunDescription& run = reader->run_;
  // A run starts between 1970 and about 2116; its end (start + offsets) then fits in 64 bits.
  if (run.start_unix_nanos < 0 || run.start_unix_nanos > (int64_t{1} << 62)) {
    return Corrupt(intervals_path, 1, "start_unix_nanos out of range");
  }
  const auto offset_in_range = [](int64_t nanos) { return nanos >= 0 && nanos <= kMaxOffsetNanos; };
  if (run.interval_nanos <= 0 || !offset_in_range(run.interval_nanos) ||
      !offset_in_range(run.duration_nanos) || !offset_in_range(run.warmup_nanos)) {
    return Corrupt(intervals_path, 1, "interval, duration or warm-up out of range");
  }
  if (run.partition_count < 1 || run.partition_count > kMaxPartitions || run.partition_index < 0 ||
      run.partition_index >= run.partition_count) {
    return Corrupt(intervals_path, 1, "partition out of range");
  }
  // A run killed before its first interval may have left no histogram log.
  auto histograms = LineReader::Open(histograms_path, histograms_path);
  if (!histograms.ok() && !absl::IsNotFound(histograms.status())) return histograms.status();
  if (histograms.ok()) reader->histograms_.emplace(*std::move(histograms));
  return reader;
}

IntervalLogReader::IntervalLogReader(std::string intervals_path, std::string histograms_path,
                                     LineReader intervals)
    : intervals_path_(std::move(intervals_path)),
      histograms_path_(std::move(histograms_path)),
      intervals_(std::move(intervals)) {}

IntervalLogReader::~IntervalLogReader() = default;

absl::StatusOr<bool> IntervalLogReader::Next(IntervalSlice& slice, TimelinePoint& point) {
  const size_t operation_count = run_.operations.size();
  nlohmann::json counts;
  std::string line;
  for (;;) {
    auto read = intervals_.Next(&line);
    if (!read.ok()) return read.status();
    if (!*read) return false;
    ++line_number_;
    const nlohmann::json j = nlohmann::json::parse(line, nullptr, false);
    if (j.is_object() && j.contains("event")) {
      auto event = EventFromJson(j["event"].dump());
      if (!event.ok()) return Corrupt(intervals_path_, line_number_, event.status().message());
      const auto same = std::find_if(events_.begin(), events_.end(),
                                     [&](const EventResult& e) { return e.name == event->name; });
      if (same != events_.end()) {
        *same = *std::move(event);
      } else {
        events_.push_back(*std::move(event));
      }
      continue;
    }
    if (j.is_object() && j.contains("end")) {
      try {
        ReadEnd(j["end"], end_);
      } catch (const nlohmann::json::exception& e) {
        return Corrupt(intervals_path_, line_number_, absl::StrCat("wrong end record: ", e.what()));
      }
      if (end_.end_offset_nanos < -1 || end_.end_offset_nanos > kMaxOffsetNanos) {
        return Corrupt(intervals_path_, line_number_, "end_offset_nanos out of range");
      }
      continue;
    }
    auto parsed = TimelinePointFromJson(line);
    const bool whole = parsed.ok() && parsed->operations.size() == operation_count &&
                       j.is_object() && j.contains("counts");
    if (!whole) {
      if (!intervals_.complete()) return false;  // cut off as the process died
      return Corrupt(
          intervals_path_, line_number_,
          parsed.ok() ? "operations do not match the header" : parsed.status().message());
    }
    point = *std::move(parsed);
    counts = j["counts"];
    break;
  }
  if (!(point.offset_seconds >= 0 && point.offset_seconds <= kMaxOffsetSeconds &&
        point.seconds >= 0 && point.seconds <= kMaxOffsetSeconds)) {
    return Corrupt(intervals_path_, line_number_, "interval times out of range");
  }
  if (intervals_read_ == kMaxIntervals) {
    return Corrupt(intervals_path_, line_number_, "more intervals than a run can have");
  }
  ++intervals_read_;

  // The interval's counts, then its histograms from the .hlog, which holds them
  // in the same order.
  slice.Reset();
  // Logs written before status messages were kept have none.
  const bool with_messages = counts.contains("error_messages");
  try {
    ReadGeneratorCounts(counts.at("generator"), slice.generator);
    const nlohmann::json& streams = counts.at("streams");
    for (size_t op = 0; op < operation_count && op < streams.size(); ++op) {
      if (!streams[op].is_null()) ReadStreamCounts(streams[op], slice.operations[op].streams());
    }
    if (counts.contains("finality")) {
      const nlohmann::json& finality = counts.at("finality");
      for (size_t op = 0; op < operation_count && op < finality.size(); ++op) {
        if (!finality[op].is_null())
          ReadFinalityCounts(finality[op], slice.operations[op].finals());
      }
    }
    if (with_messages) {
      const nlohmann::json& messages = counts.at("error_messages");
      if (!messages.is_array() || messages.size() != operation_count) {
        throw nlohmann::json::type_error::create(302, "error_messages not one per operation",
                                                 &messages);
      }
      for (size_t op = 0; op < operation_count; ++op) {
        ReadErrorMessages(messages[op], slice.operations[op].error_messages);
      }
    }
  } catch (const nlohmann::json::exception& e) {
    return Corrupt(intervals_path_, line_number_, absl::StrCat("wrong counts: ", e.what()));
  }
  const auto in_range = [](int64_t count) { return count >= 0 && count <= kMaxIntervalCount; };
  bool counted = in_range(point.sent);
  slice.sent = point.sent;
  for (size_t op = 0; op < operation_count; ++op) {
    const TimelineOperation& t = point.operations[op];
    counted = counted && in_range(t.count) && in_range(t.items);
    slice.operations[op].count = t.count;
    slice.operations[op].items = t.items;
    for (const auto& [name, count] : t.codes) {
      const absl::StatusOr<int> code = ParseStatusCode(name);
      counted = counted && code.ok() && in_range(count);
      if (code.ok()) slice.operations[op].codes[*code] = count;
    }
  }
  if (!counted) {
    return Corrupt(intervals_path_, line_number_, "counts out of range (negative, or too large)");
  }
  // Unary operations' messages count their failed calls; streams', their failed streams.
  for (size_t op = 0; op < operation_count && with_messages; ++op) {
    const IntervalOperation& o = slice.operations[op];
    const bool exact =
        run_.operations[op].streaming()
            ? o.error_messages.empty() &&
                  (!o.stream || CountsEveryFailure(o.stream->close_messages, o.stream->close_codes))
            : CountsEveryFailure(o.error_messages, o.codes);
    if (!exact) {
      return Corrupt(intervals_path_, line_number_,
                     "error messages do not count the failed calls (or streams) exactly");
    }
  }
  if (absl::Status read = ReadHistograms(OffsetKey(point.offset_seconds), slice); !read.ok()) {
    return read;
  }
  return true;
}

absl::Status IntervalLogReader::ReadHistograms(int64_t offset_key, IntervalSlice& slice) {
  while (histograms_) {
    if (!held_histogram_) {
      std::string line;
      auto read = histograms_->Next(&line);
      if (!read.ok()) return read.status();
      if (!*read) {
        histograms_.reset();
        break;
      }
      ++histogram_line_number_;
      if (line.empty() || line[0] == '#' || line[0] == '"') continue;
      const std::vector<std::string> fields = absl::StrSplit(line, ',');
      double start = 0;
      std::unique_ptr<Histogram> h;
      if (fields.size() == 5 && fields[0].rfind("Tag=", 0) == 0 &&
          absl::SimpleAtod(fields[1], &start)) {
        auto decoded = DecodeBase64(fields[4]);
        if (decoded.ok()) h = *std::move(decoded);
      }
      if (h == nullptr) {
        if (!histograms_->complete()) {  // cut off as the process died
          histograms_.reset();
          break;
        }
        return Corrupt(histograms_path_, histogram_line_number_, "not an interval histogram line");
      }
      held_histogram_.emplace(HeldHistogram{OffsetKey(start), fields[0].substr(4), std::move(h),
                                            histogram_line_number_});
    }
    HeldHistogram& held = *held_histogram_;
    if (held.offset_key > offset_key) break;  // a later interval's
    // Earlier: an interval the JSON log does not hold (lost as the process died), left out.
    if (held.offset_key == offset_key) {
      Histogram* to = HistogramForTag(slice, tags_, held.tag);
      if (to == nullptr || !to->Add(*held.histogram)) {
        return Corrupt(histograms_path_, held.line_number,
                       "histogram does not fit the run's (its tag, its configuration, or a count "
                       "overflow)");
      }
    }
    held_histogram_.reset();
  }
  return absl::OkStatus();
}

namespace {

// The gates of the scenario a logged run ran.
absl::StatusOr<std::vector<Gate>> GatesOfLoggedRun(const RunDescription& run,
                                                   const std::string& log_path) {
  auto scenario = ParseScenario(run.scenario_json, log_path, {});
  if (!scenario.ok()) return Corrupt(log_path, 1, scenario.status().message());
  auto gates = GatesFromScenario(*scenario);
  if (!gates.ok()) return Corrupt(log_path, 1, gates.status().message());
  return gates;
}

}  // namespace

absl::StatusOr<RunResult> RecoverRun(const std::string& dir) {
  auto reader = IntervalLogReader::Open(dir);
  if (!reader.ok()) return reader.status();
  const RunDescription& run = (*reader)->run();
  RunTotals totals(run.operations.size());
  IntervalSlice slice(run.operations.size());
  Timeline timeline;
  timeline.interval_seconds = static_cast<double>(run.interval_nanos) / 1e9;
  for (;;) {
    TimelinePoint point;
    auto next = (*reader)->Next(slice, point);
    if (!next.ok()) return next.status();
    if (!*next) break;
    totals.Add(slice, !point.warmup);
    timeline.points.push_back(std::move(point));
  }
  const std::string& path = (*reader)->intervals_path();
  RunResult result = BuildRunResult(run, totals, std::move(timeline), (*reader)->end());
  result.recovered_from = path;
  result.events = (*reader)->events();
  JudgeGenerator(result);
  // The scenario's gates, checked on what was recovered.
  auto gates = GatesOfLoggedRun(run, path);
  if (!gates.ok()) return gates.status();
  auto evaluated = EvaluateGates(*gates, result);
  if (!evaluated.ok()) return Corrupt(path, 1, evaluated.status().message());
  result.gates = *std::move(evaluated);
  return result;
}

}  // namespace aurigraph::loadgen
