#include "loadgen/intervallog/interval_log.h"

#include <cmath>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/input/input_file.h"
#include "common/input/json_check.h"
#include "common/units/units.h"
#include "loadgen/gates/gates.h"
#include "loadgen/histogram/histogram_codec.h"
#include "loadgen/recorder/operation_stats.h"

namespace aurigraph::loadgen {
namespace {

constexpr const char* kIntervalsSchema = "aurigraph-loadbench/intervals";
constexpr const char* kScheduleLagTag = "schedule_lag";

// HdrHistogram tags may not hold commas or white space.
std::string Tag(const std::string& name) {
  std::string tag = name;
  for (char& c : tag) {
    if (c == ',' || c == ' ' || c == '\t' || c == '=') c = '_';
  }
  return tag;
}

void WriteHistogramLine(std::FILE* out, const std::string& tag, const TimelinePoint& point,
                        const Histogram& h) {
  if (h.TotalCount() == 0) return;
  // Interval_Max in milliseconds (values are microseconds), as HdrHistogram's
  // own writers scale it to a readable unit.
  std::fprintf(out, "Tag=%s,%.3f,%.3f,%.3f,%s\n", tag.c_str(), point.offset_seconds, point.seconds,
               static_cast<double>(h.Max()) / 1000.0, EncodeBase64(h).c_str());
}

// The tag of an operation's failed calls with one status code.
std::string FailedTag(const std::string& operation_tag, int code) {
  return absl::StrCat(operation_tag, ".failed.", StatusCodeName(code));
}

absl::Status Corrupt(const std::string& file, size_t line, absl::string_view what) {
  return absl::DataLossError(absl::StrCat(file, ":", line, ": ", what));
}

// The string `key` of a JSON object, or "" (nlohmann's value() throws on other types).
std::string TextField(const nlohmann::json& j, const char* key) {
  if (!j.is_object() || !j.contains(key) || !j[key].is_string()) return "";
  return j[key].get<std::string>();
}

// Adds a count read from a log to a total: false when it is negative or the total overflows.
bool AddCount(int64_t* total, int64_t count) {
  return count >= 0 && !__builtin_add_overflow(*total, count, total);
}

// Interval times beyond this (about 31 years) cannot come from a run.
constexpr double kMaxOffsetSeconds = 1e9;

}  // namespace

absl::StatusOr<std::unique_ptr<IntervalLogWriter>> IntervalLogWriter::Create(
    const std::string& dir, IntervalLogHeader header) {
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
  return std::unique_ptr<IntervalLogWriter>(
      new IntervalLogWriter(std::move(header), histograms, intervals));
}

IntervalLogWriter::IntervalLogWriter(IntervalLogHeader header, std::FILE* histograms,
                                     std::FILE* intervals)
    : header_(std::move(header)), histograms_(histograms), intervals_(intervals) {}

IntervalLogWriter::~IntervalLogWriter() {
  std::fclose(histograms_);
  std::fclose(intervals_);
}

void IntervalLogWriter::OnRunStart(const IntervalRunInfo& run) {
  const double start_seconds = static_cast<double>(run.start_unix_nanos) / 1e9;
  std::fprintf(histograms_,
               "#[Histogram log format version 1.3]\n"
               "#[StartTime: %.3f (seconds since epoch), %s]\n"
               "#[aurigraph-loadgen %s: latency in microseconds from the intended send time, "
               "one tag per operation; Interval_Max in milliseconds]\n"
               "\"StartTimestamp\",\"Interval_Length\",\"Interval_Max\","
               "\"Interval_Compressed_Histogram\"\n",
               start_seconds, FormatUnixTime(run.start_unix_nanos).c_str(),
               header_.tool_version.c_str());
  nlohmann::ordered_json operations = nlohmann::ordered_json::array();
  for (const IntervalOperationInfo& op : run.operations) {
    tags_.push_back(Tag(op.name));
    operations.push_back(
        {{"name", op.name}, {"rpc", op.rpc}, {"kind", op.kind}, {"tag", tags_.back()}});
  }
  const nlohmann::ordered_json first = {
      {"schema", kIntervalsSchema},
      {"version", 1},
      {"tool_version", header_.tool_version},
      {"host", header_.host},
      {"scenario_name", header_.scenario_name},
      {"scenario",
       nlohmann::ordered_json::parse(header_.scenario_json.empty() ? "{}" : header_.scenario_json)},
      {"target", header_.target},
      {"load_model", header_.load_model},
      {"target_rate", run.target_rate},
      {"start_unix_nanos", run.start_unix_nanos},
      {"interval_seconds", static_cast<double>(run.interval_nanos) / 1e9},
      {"duration_seconds", static_cast<double>(run.duration_nanos) / 1e9},
      {"warmup_seconds", static_cast<double>(header_.warmup_nanos) / 1e9},
      {"operations", operations}};
  std::fprintf(intervals_, "%s\n", first.dump().c_str());
  std::fflush(histograms_);
  std::fflush(intervals_);
}

void IntervalLogWriter::OnInterval(const IntervalSlice& slice, const TimelinePoint& point) {
  for (size_t i = 0; i < slice.operations.size() && i < tags_.size(); ++i) {
    const IntervalOperation& op = slice.operations[i];
    WriteHistogramLine(histograms_, tags_[i], point, op.latency);
    for (int code = 1; code < kStatusCodeCount; ++code) {
      if (!op.failed[code]) continue;
      WriteHistogramLine(histograms_, FailedTag(tags_[i], code), point, *op.failed[code]);
    }
  }
  WriteHistogramLine(histograms_, kScheduleLagTag, point, slice.schedule_lag);
  std::fprintf(intervals_, "%s\n", TimelinePointToJson(point).c_str());
  // Each interval reaches the kernel before the next is taken: a killed
  // process loses at most the interval in progress.
  std::fflush(histograms_);
  std::fflush(intervals_);
}

absl::StatusOr<RunResult> RecoverRun(const std::string& dir) {
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
  RunResult r;
  std::vector<std::string> tags;
  std::vector<bool> streaming;
  try {
    r.tool_version = head.at("tool_version").get<std::string>();
    r.host = head.at("host").get<std::string>();
    r.scenario_name = head.at("scenario_name").get<std::string>();
    r.scenario_json = head.at("scenario").dump();
    r.target = head.at("target").get<std::string>();
    r.load_model = head.at("load_model").get<std::string>();
    r.target_rate = head.at("target_rate").get<double>();
    r.start_unix_nanos = head.at("start_unix_nanos").get<int64_t>();
    r.timeline.interval_seconds = head.at("interval_seconds").get<double>();
    for (const auto& op : head.at("operations")) {
      OperationResult o;
      o.name = op.at("name").get<std::string>();
      o.rpc = op.at("rpc").get<std::string>();
      o.kind = op.at("kind").get<std::string>();
      o.corrected = std::make_shared<Histogram>(MakeLatencyHistogram());
      o.uncorrected = std::make_shared<Histogram>(MakeLatencyHistogram());
      tags.push_back(op.at("tag").get<std::string>());
      streaming.push_back(o.kind != "unary");
      if (streaming.back()) {
        o.stream = std::make_shared<StreamResult>();
        o.stream->mode = o.kind;
      }
      r.operations.push_back(std::move(o));
    }
  } catch (const nlohmann::json::exception& e) {
    return Corrupt(intervals_path, 1, absl::StrCat("wrong run header: ", e.what()));
  }
  // A run starts between 1970 and about 2116; its end (start + offsets) then fits in 64 bits.
  if (r.start_unix_nanos < 0 || r.start_unix_nanos > (int64_t{1} << 62)) {
    return Corrupt(intervals_path, 1, "start_unix_nanos out of range");
  }
  for (size_t number = 2;; ++number) {
    read = intervals->Next(&line);
    if (!read.ok()) return read.status();
    if (!*read) break;
    auto point = TimelinePointFromJson(line);
    if (!point.ok() || point->operations.size() != r.operations.size()) {
      if (!intervals->complete()) break;  // cut off as the process died
      return Corrupt(intervals_path, number,
                     point.ok() ? "operations do not match the header" : point.status().message());
    }
    if (!(point->offset_seconds >= 0 && point->offset_seconds <= kMaxOffsetSeconds &&
          point->seconds >= 0 && point->seconds <= kMaxOffsetSeconds)) {
      return Corrupt(intervals_path, number, "interval times out of range");
    }
    r.timeline.points.push_back(*std::move(point));
  }

  // Latency: each operation's interval histograms outside warm-up, merged.
  std::map<double, bool> measured_offsets;  // interval start -> outside warm-up
  for (const TimelinePoint& p : r.timeline.points) {
    measured_offsets[std::round(p.offset_seconds * 1000) / 1000] = !p.warmup;
  }
  auto schedule_lag = std::make_shared<Histogram>(MakeLatencyHistogram());
  // A run killed before its first interval may have left no histogram log.
  auto hlog = LineReader::Open(histograms_path, histograms_path);
  if (!hlog.ok() && !absl::IsNotFound(hlog.status())) return hlog.status();
  for (size_t number = 1; hlog.ok(); ++number) {
    read = hlog->Next(&line);
    if (!read.ok()) return read.status();
    if (!*read) break;
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
      if (!hlog->complete()) break;
      return Corrupt(histograms_path, number, "not an interval histogram line");
    }
    const auto interval = measured_offsets.find(std::round(start * 1000) / 1000);
    // Intervals the JSON log does not hold (lost as the process died) and warm-up are left out.
    if (interval == measured_offsets.end() || !interval->second) continue;
    const std::string tag = fields[0].substr(4);
    bool added = true;
    if (tag == kScheduleLagTag) {
      added = schedule_lag->Add(*h);
    } else {
      for (size_t op = 0; op < tags.size(); ++op) {
        OperationResult& o = r.operations[op];
        if (tags[op] == tag) {
          added = added && o.corrected->Add(*h);
          continue;
        }
        for (int code = 1; code < kStatusCodeCount; ++code) {
          if (tag != FailedTag(tags[op], code)) continue;
          std::shared_ptr<Histogram>& failed = o.failed[StatusCodeName(code)];
          if (!failed) failed = std::make_shared<Histogram>(MakeLatencyHistogram());
          added = added && failed->Add(*h);
        }
      }
    }
    if (!added) {
      return Corrupt(histograms_path, number,
                     "histogram does not fit the run's (its configuration, or a count overflow)");
    }
  }

  // Counts from the measured intervals.
  double measured_seconds = 0, end_offset = 0;
  for (size_t i = 0; i < r.timeline.points.size(); ++i) {
    const TimelinePoint& p = r.timeline.points[i];
    end_offset = std::max(end_offset, p.offset_seconds + p.seconds);
    const auto out_of_range = [&] {
      return Corrupt(intervals_path, i + 2, "counts out of range (negative, or overflowing)");
    };
    if (!AddCount(&r.generator.sent, p.sent)) return out_of_range();
    if (p.warmup) continue;
    measured_seconds += p.seconds;
    bool counted = true;
    for (size_t op = 0; op < p.operations.size(); ++op) {
      OperationResult& o = r.operations[op];
      const TimelineOperation& t = p.operations[op];
      counted = counted && AddCount(&o.items, t.items);
      for (const auto& [code, count] : t.codes) {
        counted = counted && AddCount(&o.status_codes[code], count);
      }
      if (streaming[op]) {
        counted = counted && AddCount(&o.stream->messages_received, t.count) &&
                  AddCount(&o.stream->measured_received, t.count);
      } else {
        counted = counted && AddCount(&o.requests, t.count);
      }
    }
    if (!counted) return out_of_range();
  }
  r.measured_seconds = measured_seconds;
  r.end_unix_nanos = r.start_unix_nanos + static_cast<int64_t>(end_offset * 1e9);
  r.total.name = "total";
  r.total.rpc = "*";
  r.total.corrected = std::make_shared<Histogram>(MakeLatencyHistogram());
  r.total.uncorrected = std::make_shared<Histogram>(MakeLatencyHistogram());
  for (OperationResult& o : r.operations) {
    o.ok = o.status_codes.count("OK") ? o.status_codes.at("OK") : 0;
    const double seconds = measured_seconds > 0 ? measured_seconds : 1;
    o.items_rate = static_cast<double>(o.items) / seconds;
    if (o.stream) {
      o.ok = 0;
      o.stream->received_rate = static_cast<double>(o.stream->measured_received) / seconds;
      o.stream->message_codes = o.status_codes;
      o.status_codes.clear();
      o.achieved_rate = o.stream->received_rate;
      continue;
    }
    o.achieved_rate = static_cast<double>(o.requests) / seconds;
    bool counted = AddCount(&r.total.requests, o.requests) && AddCount(&r.total.ok, o.ok) &&
                   AddCount(&r.total.items, o.items) && r.total.corrected->Add(*o.corrected);
    for (const auto& [code, count] : o.status_codes) {
      counted = counted && AddCount(&r.total.status_codes[code], count);
    }
    for (const auto& [code, histogram] : o.failed) {
      std::shared_ptr<Histogram>& total = r.total.failed[code];
      if (!total) total = std::make_shared<Histogram>(MakeLatencyHistogram());
      counted = counted && total->Add(*histogram);
    }
    if (!counted) return Corrupt(intervals_path, 1, "the operations' counts overflow in total");
  }
  r.total.achieved_rate =
      static_cast<double>(r.total.requests) / (measured_seconds > 0 ? measured_seconds : 1);
  r.total.target_rate = r.target_rate;
  r.generator.schedule_lag = schedule_lag;
  r.generator.generator_lag = std::make_shared<Histogram>(MakeLatencyHistogram());
  r.recovered_from = intervals_path;

  // The scenario's gates, checked on what was recovered.
  std::vector<Gate> gates;
  const nlohmann::json& scenario = head["scenario"];
  if (scenario.is_object() && scenario.contains("gates") && scenario["gates"].is_array()) {
    for (const auto& g : scenario["gates"]) {
      const std::string expression = g.is_string() ? g.get<std::string>() : TextField(g, "gate");
      auto gate = ParseGate(expression, TextField(g, "operation"));
      if (gate.ok()) gates.push_back(*std::move(gate));
    }
  }
  auto evaluated = EvaluateGates(gates, r);
  if (evaluated.ok()) r.gates = *std::move(evaluated);
  return r;
}

}  // namespace aurigraph::loadgen
