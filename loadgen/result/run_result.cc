#include "loadgen/result/run_result.h"

#include <cmath>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "loadgen/histogram/histogram_codec.h"

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

std::string IsoTime(int64_t unix_nanos) {
  const std::time_t seconds = unix_nanos / 1'000'000'000;
  std::tm tm{};
  gmtime_r(&seconds, &tm);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                static_cast<int>(unix_nanos / 1'000'000 % 1000));
  return buf;
}

ordered_json Percentiles(const Histogram& h) {
  ordered_json out;
  out["count"] = h.TotalCount();
  out["min"] = h.Min();
  out["mean"] = std::round(h.Mean() * 10) / 10;
  for (const auto& p : kPercentiles) out[p.key] = h.ValueAtPercentile(p.percentile);
  out["max"] = h.Max();
  return out;
}

ordered_json OperationJson(const OperationResult& op) {
  ordered_json out;
  out["name"] = op.name;
  out["rpc"] = op.rpc;
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
  return out;
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

absl::StatusOr<OperationResult> ReadOperation(const nlohmann::json& j, const std::string& source,
                                              const std::string& where) {
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
  if (op.corrected->TotalCount() != op.requests) {
    return Corrupt(source, absl::StrCat(where, ": histogram holds ", op.corrected->TotalCount(),
                                        " values but requests is ", op.requests));
  }
  return op;
}

}  // namespace

bool RunResult::passed() const {
  if (!generator.kept_up) return false;
  for (const GateResult& gate : gates) {
    if (!gate.passed) return false;
  }
  return true;
}

std::string ResultToJson(const RunResult& r) {
  ordered_json out;
  out["schema"] = kSchemaName;
  out["schema_version"] = r.schema_version;
  out["tool"] = {{"name", "aurigraph-loadgen"}, {"version", r.tool_version}};
  out["host"] = r.host;
  out["start_time"] = IsoTime(r.start_unix_nanos);
  out["end_time"] = IsoTime(r.end_unix_nanos);
  out["start_unix_nanos"] = r.start_unix_nanos;
  out["end_unix_nanos"] = r.end_unix_nanos;
  out["measured_seconds"] = r.measured_seconds;
  out["target"] = r.target;
  out["load_model"] = r.load_model;
  out["target_rate"] = r.target_rate;
  out["scenario_name"] = r.scenario_name;
  out["scenario"] = ordered_json::parse(r.scenario_json.empty() ? "{}" : r.scenario_json);
  out["verdict"] = r.passed() ? "pass" : "fail";
  const GeneratorHealth& g = r.generator;
  out["generator"] = {{"kept_up", g.kept_up},
                      {"verdict", g.verdict},
                      {"sent", g.sent},
                      {"delayed_by_in_flight_bound", g.delayed_by_in_flight_bound},
                      {"cancelled_at_drain", g.cancelled_at_drain},
                      {"warmup_completions", g.warmup_completions},
                      {"max_generator_lag_p99_us", g.max_generator_lag_p99_us},
                      {"schedule_lag_us", Percentiles(*g.schedule_lag)},
                      {"generator_lag_us", Percentiles(*g.generator_lag)},
                      {"histograms",
                       {{"schedule_lag", EncodeBase64(*g.schedule_lag)},
                        {"generator_lag", EncodeBase64(*g.generator_lag)}}}};
  out["total"] = OperationJson(r.total);
  out["operations"] = ordered_json::array();
  for (const auto& op : r.operations) out["operations"].push_back(OperationJson(op));
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
  if (!j.is_object() || j.value("schema", "") != kSchemaName) {
    return Corrupt(source, absl::StrCat("not an aurigraph-loadgen result (schema is not '",
                                        kSchemaName, "')"));
  }
  if (j.value("schema_version", 0) != kResultSchemaVersion) {
    return Corrupt(source, absl::StrCat("unsupported schema_version ", j.value("schema_version", 0),
                                        " (this tool reads ", kResultSchemaVersion, ")"));
  }
  try {
    RunResult r;
    r.tool_version = j.at("tool").at("version").get<std::string>();
    r.host = j.at("host").get<std::string>();
    r.start_unix_nanos = j.at("start_unix_nanos").get<int64_t>();
    r.end_unix_nanos = j.at("end_unix_nanos").get<int64_t>();
    r.measured_seconds = j.at("measured_seconds").get<double>();
    r.target = j.at("target").get<std::string>();
    r.load_model = j.at("load_model").get<std::string>();
    r.target_rate = j.at("target_rate").get<double>();
    r.scenario_name = j.at("scenario_name").get<std::string>();
    r.scenario_json = j.at("scenario").dump();
    const auto& g = j.at("generator");
    r.generator.kept_up = g.at("kept_up").get<bool>();
    r.generator.verdict = g.at("verdict").get<std::string>();
    r.generator.sent = g.at("sent").get<int64_t>();
    r.generator.delayed_by_in_flight_bound = g.at("delayed_by_in_flight_bound").get<int64_t>();
    r.generator.cancelled_at_drain = g.at("cancelled_at_drain").get<int64_t>();
    r.generator.warmup_completions = g.at("warmup_completions").get<int64_t>();
    r.generator.max_generator_lag_p99_us = g.at("max_generator_lag_p99_us").get<int64_t>();
    auto lag = ReadHistogram(g.at("histograms"), "schedule_lag", source, "generator.histograms");
    if (!lag.ok()) return lag.status();
    auto own = ReadHistogram(g.at("histograms"), "generator_lag", source, "generator.histograms");
    if (!own.ok()) return own.status();
    r.generator.schedule_lag = *lag;
    r.generator.generator_lag = *own;
    auto total = ReadOperation(j.at("total"), source, "total");
    if (!total.ok()) return total.status();
    r.total = *std::move(total);
    const auto& ops = j.at("operations");
    for (size_t i = 0; i < ops.size(); ++i) {
      auto op = ReadOperation(ops[i], source, absl::StrCat("operations[", i, "]"));
      if (!op.ok()) return op.status();
      r.operations.push_back(*std::move(op));
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
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat(path, ": cannot read result file"));
  std::stringstream text;
  text << in.rdbuf();
  return ResultFromJson(text.str(), path);
}

absl::Status WriteResultFile(const RunResult& result, const std::string& path) {
  // Written to a temporary name and renamed, so a reader never sees half a file.
  const std::string temporary = path + ".tmp";
  {
    std::ofstream out(temporary, std::ios::binary | std::ios::trunc);
    if (!out) return absl::PermissionDeniedError(absl::StrCat(path, ": cannot write result file"));
    out << ResultToJson(result);
    if (!out.flush()) return absl::DataLossError(absl::StrCat(path, ": write failed"));
  }
  if (std::rename(temporary.c_str(), path.c_str()) != 0) {
    return absl::DataLossError(absl::StrCat(path, ": cannot rename ", temporary));
  }
  return absl::OkStatus();
}

}  // namespace aurigraph::loadgen
