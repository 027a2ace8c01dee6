#include "loadgen/capacity/capacity_result.h"

#include <cmath>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "common/input/input_file.h"
#include "common/input/json_check.h"
#include "common/output/atomic_file.h"
#include "common/units/units.h"
#include "loadgen/gates/gates.h"

namespace aurigraph::loadgen {
namespace {

using nlohmann::ordered_json;

constexpr const char* kCapacitySchemaName = "aurigraph-loadbench/capacity";

absl::Status Corrupt(const std::string& source, const std::string& what) {
  return absl::DataLossError(absl::StrCat(source, ": ", what));
}

struct Comparison {
  const char* text;
  bool (*holds)(double measured, double limit);
};
constexpr Comparison kComparisons[] = {
    {">=", [](double m, double l) { return m >= l; }},
    {"<=", [](double m, double l) { return m <= l; }},
    {">", [](double m, double l) { return m > l; }},
    {"<", [](double m, double l) { return m < l; }},
};

// The comparison and limit of "capacity OP N[/s]"; null comparison when it is not one.
const Comparison* SplitCapacityGate(absl::string_view expression, double* limit) {
  absl::string_view rest = absl::StripAsciiWhitespace(expression);
  if (!absl::ConsumePrefix(&rest, "capacity")) return nullptr;
  rest = absl::StripLeadingAsciiWhitespace(rest);
  for (const Comparison& comparison : kComparisons) {
    if (!absl::ConsumePrefix(&rest, comparison.text)) continue;
    rest = absl::StripAsciiWhitespace(rest);
    absl::ConsumeSuffix(&rest, "/s");
    if (!absl::SimpleAtod(rest, limit) || !std::isfinite(*limit) || *limit < 0) return nullptr;
    return &comparison;
  }
  return nullptr;
}

template <typename Enum, typename NameOf>
bool EnumFromName(const std::string& name, Enum last, NameOf name_of, Enum* out) {
  for (int i = 0; i <= static_cast<int>(last); ++i) {
    if (name == name_of(static_cast<Enum>(i))) {
      *out = static_cast<Enum>(i);
      return true;
    }
  }
  return false;
}

// What makes a capacity file's plan and answer impossible ("" when nothing):
// a writer of this tool never produces them, so the file is corrupt.
std::string CheckPlausible(const CapacityResult& r, size_t steps) {
  constexpr int64_t kMaxRuns = 1'000'000;
  const CapacityPlan& p = r.plan;
  const CapacityAnswer& a = r.answer;
  const auto bad_rate = [](double x) { return !std::isfinite(x) || x < 0 || x > 1e9; };
  if (bad_rate(p.min_rate) || bad_rate(p.max_rate) || !(p.min_rate <= p.max_rate)) {
    return "plan: min_rate and max_rate are not 0 <= min <= max <= 1e9";
  }
  if (!(p.growth > 1 && p.growth <= 100) || !(p.precision > 0 && p.precision <= 1) ||
      !(r.near_margin >= 0 && r.near_margin <= 1)) {
    return "plan: growth, precision or near_margin out of range";
  }
  for (const int runs :
       {p.confirm_runs, p.near_runs, p.max_steps, a.broke_runs, a.broke_failures, a.steps}) {
    if (runs < 0 || runs > kMaxRuns) return "a count of runs or steps is out of range";
  }
  if (a.broke_failures > a.broke_runs) return "answer: more broken runs than runs";
  if (static_cast<size_t>(a.steps) != steps) return "answer: steps do not count the steps";
  if (p.budget_nanos < 0 || a.nanos < 0 || !(r.step_seconds >= 0) || !(r.warmup_seconds >= 0)) {
    return "a duration is negative";
  }
  return "";
}

}  // namespace

bool CapacityResult::passed() const {
  if (!finished || !Answered(answer)) return false;
  for (const GateResult& gate : gates) {
    if (!gate.passed) return false;
  }
  return true;
}

const OperationResult& CurveFigures(const RunResult& step) {
  if (step.total.corrected->TotalCount() > 0) return step.total;
  for (const OperationResult& op : step.operations) {
    if (op.corrected->TotalCount() > 0) return op;
  }
  return step.total;
}

std::string DescribeCapacityAnswer(const CapacityResult& r) {
  const CapacityAnswer& a = r.answer;
  const std::string searched =
      absl::StrCat(a.steps, a.steps == 1 ? " step in " : " steps in ", FormatDuration(a.nanos));
  const std::string broke = a.broke_at > 0
                                ? absl::StrCat(" and broke at ", FormatRate(a.broke_at), " in ",
                                               a.broke_failures, " of ", a.broke_runs, " runs")
                                : "";
  switch (a.status) {
    case CapacityStatus::kFound:
      return absl::StrCat("capacity ", FormatRate(a.capacity), ": the SLOs held in every run of it",
                          broke, "; ", searched);
    case CapacityStatus::kAboveMaxRate:
      return absl::StrCat("capacity above ", FormatRate(a.capacity),
                          ": the SLOs held at the highest rate searched (raise --max-rate); ",
                          searched);
    case CapacityStatus::kBelowMinRate:
      return absl::StrCat("capacity below ", FormatRate(r.plan.min_rate),
                          ": the SLOs broke at the lowest rate searched (lower --min-rate); ",
                          searched);
    case CapacityStatus::kLimitedByGenerator:
      return absl::StrCat(
          "no capacity found: the generator fell behind at ", FormatRate(a.generator_limit),
          "; the SLOs held up to ", FormatRate(a.capacity),
          ", a lower bound, not the system's capacity (give the generator more workers or "
          "cores); ",
          searched);
    case CapacityStatus::kBudgetSpent:
    case CapacityStatus::kStopped:
    case CapacityStatus::kUnfinished: {
      const char* why = a.status == CapacityStatus::kStopped       ? "stopped"
                        : a.status == CapacityStatus::kBudgetSpent ? "the budget ran out"
                                                                   : "the search did not finish";
      return absl::StrCat("no capacity found: ", why, "; the best so far is ",
                          FormatRate(a.capacity), a.confirmed ? " (confirmed)" : " (unconfirmed)",
                          broke, "; ", searched);
    }
  }
  return "";
}

absl::StatusOr<CapacityChange> CompareCapacity(const CapacityResult& baseline,
                                               const CapacityResult& candidate) {
  for (const auto& [side, r] :
       {std::pair<const char*, const CapacityResult*>{"baseline", &baseline},
        {"candidate", &candidate}}) {
    if (!Answered(r->answer)) {
      return absl::InvalidArgumentError(absl::StrCat("compare: the ", side,
                                                     "'s capacity search ended without an answer (",
                                                     CapacityStatusName(r->answer.status), ")"));
    }
  }
  CapacityChange change;
  change.change = candidate.answer.capacity / baseline.answer.capacity - 1;
  const double open_end = std::numeric_limits<double>::quiet_NaN();
  change.change_low = baseline.answer.broke_at > 0
                          ? candidate.answer.capacity / baseline.answer.broke_at - 1
                          : open_end;
  change.change_high = candidate.answer.broke_at > 0
                           ? candidate.answer.broke_at / baseline.answer.capacity - 1
                           : open_end;
  if (candidate.answer.broke_at > 0 && candidate.answer.broke_at <= baseline.answer.capacity) {
    change.verdict = CapacityVerdict::kLower;
  } else if (baseline.answer.broke_at > 0 &&
             candidate.answer.capacity >= baseline.answer.broke_at) {
    change.verdict = CapacityVerdict::kHigher;
  } else if (baseline.answer.broke_at == 0 || candidate.answer.broke_at == 0) {
    // A side that held at its max rate has a capacity of at least that much.
    const bool both_at_max = baseline.answer.broke_at == 0 && candidate.answer.broke_at == 0;
    change.verdict = both_at_max && candidate.answer.capacity >= baseline.answer.capacity
                         ? CapacityVerdict::kSame
                         : CapacityVerdict::kInconclusive;
  }
  return change;
}

absl::StatusOr<GateResult> ParseCapacityGate(const std::string& expression) {
  double limit = 0;
  if (SplitCapacityGate(expression, &limit) == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat(
        "capacity gate '", expression, "': expected capacity OP RATE, e.g. 'capacity >= 40000'"));
  }
  GateResult gate;
  gate.expression = expression;
  gate.metric = "capacity";
  gate.unit = "1/s";
  gate.limit = limit;
  return gate;
}

void EvaluateCapacityGates(CapacityResult& result) {
  for (GateResult& gate : result.gates) {
    double limit = 0;
    const Comparison* comparison = SplitCapacityGate(gate.expression, &limit);
    gate.measured = result.answer.capacity;
    gate.passed = comparison != nullptr && comparison->holds(gate.measured, limit);
    gate.message = absl::StrCat("capacity = ", FormatRate(gate.measured),
                                result.answer.confirmed ? "" : " (unconfirmed)", ", limit ",
                                comparison ? comparison->text : "?", " ", FormatRate(limit));
  }
}

std::string CapacityResultToJson(const CapacityResult& r) {
  ordered_json out;
  out["schema"] = kCapacitySchemaName;
  out["schema_version"] = kCapacitySchemaVersion;
  out["tool"] = {{"name", "aurigraph-loadgen"}, {"version", r.tool_version}};
  out["host"] = r.host;
  out["scenario"] = r.scenario_name;
  out["target"] = r.target;
  out["slos"] = r.slos;
  out["plan"] = {{"min_rate", r.plan.min_rate},
                 {"max_rate", r.plan.max_rate},
                 {"growth", r.plan.growth},
                 {"precision", r.plan.precision},
                 {"confirm_runs", r.plan.confirm_runs},
                 {"near_runs", r.plan.near_runs},
                 {"near_margin", r.near_margin},
                 {"budget_seconds", static_cast<double>(r.plan.budget_nanos) / 1e9},
                 {"max_steps", r.plan.max_steps},
                 {"step_seconds", r.step_seconds},
                 {"warmup_seconds", r.warmup_seconds}};
  out["start_time"] = FormatUnixTime(r.start_unix_nanos);
  out["end_time"] = FormatUnixTime(r.end_unix_nanos);
  out["start_unix_nanos"] = r.start_unix_nanos;
  out["end_unix_nanos"] = r.end_unix_nanos;
  out["finished"] = r.finished;
  const CapacityAnswer& a = r.answer;
  out["answer"] = {{"status", CapacityStatusName(a.status)},
                   {"capacity", a.capacity},
                   {"confirmed", a.confirmed},
                   {"broke_at", a.broke_at},
                   {"broke_runs", a.broke_runs},
                   {"broke_failures", a.broke_failures},
                   {"generator_limit", a.generator_limit},
                   {"steps", a.steps},
                   {"seconds", static_cast<double>(a.nanos) / 1e9}};
  ordered_json gates = ordered_json::array();
  for (const GateResult& gate : r.gates) {
    gates.push_back({{"expression", gate.expression},
                     {"measured", gate.measured},
                     {"limit", gate.limit},
                     {"passed", gate.passed},
                     {"message", gate.message}});
  }
  out["gates"] = std::move(gates);
  ordered_json steps = ordered_json::array();
  for (const CapacityStep& step : r.steps) {
    steps.push_back({{"rate", step.rate},
                     {"phase", StepPhaseName(step.phase)},
                     {"offset_seconds", step.offset_seconds},
                     {"seconds", step.seconds},
                     {"held", step.held},
                     {"near", step.near},
                     {"result", ordered_json::parse(ResultToJson(step.result))}});
  }
  out["steps"] = std::move(steps);
  return out.dump(2) + "\n";
}

absl::StatusOr<CapacityResult> CapacityResultFromJson(const std::string& text,
                                                      const std::string& source) {
  const nlohmann::json j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded())
    return Corrupt(source, "not valid JSON (truncated or corrupt capacity file)");
  if (!j.is_object() || !j.contains("schema") || j["schema"] != kCapacitySchemaName) {
    return Corrupt(source, absl::StrCat("not an aurigraph-loadgen capacity result (schema is not '",
                                        kCapacitySchemaName, "')"));
  }
  if (!j.contains("schema_version") || !j["schema_version"].is_number_integer() ||
      j["schema_version"].get<int64_t>() != kCapacitySchemaVersion) {
    return Corrupt(source, absl::StrCat("unsupported schema_version (this tool reads ",
                                        kCapacitySchemaVersion, ")"));
  }
  if (auto checked = CheckUntrustedJson(j); !checked.ok()) {
    return Corrupt(source, std::string(checked.message()));
  }
  const auto rate = [&](const nlohmann::json& v, const char* what) -> absl::StatusOr<double> {
    const double x = v.get<double>();
    if (!std::isfinite(x) || x < 0) return Corrupt(source, absl::StrCat(what, " is not a rate"));
    return x;
  };
  try {
    CapacityResult r;
    r.tool_version = j.at("tool").at("version").get<std::string>();
    r.host = j.at("host").get<std::string>();
    r.scenario_name = j.at("scenario").get<std::string>();
    r.target = j.at("target").get<std::string>();
    r.slos = j.at("slos").get<std::vector<std::string>>();
    const auto& plan = j.at("plan");
    r.plan.min_rate = plan.at("min_rate").get<double>();
    r.plan.max_rate = plan.at("max_rate").get<double>();
    r.plan.growth = plan.at("growth").get<double>();
    r.plan.precision = plan.at("precision").get<double>();
    r.plan.confirm_runs = static_cast<int>(plan.at("confirm_runs").get<int64_t>());
    r.plan.near_runs = static_cast<int>(plan.at("near_runs").get<int64_t>());
    r.near_margin = plan.at("near_margin").get<double>();
    r.plan.budget_nanos = std::llround(plan.at("budget_seconds").get<double>() * 1e9);
    r.plan.max_steps = static_cast<int>(plan.at("max_steps").get<int64_t>());
    r.step_seconds = plan.at("step_seconds").get<double>();
    r.warmup_seconds = plan.at("warmup_seconds").get<double>();
    r.start_unix_nanos = j.at("start_unix_nanos").get<int64_t>();
    r.end_unix_nanos = j.at("end_unix_nanos").get<int64_t>();
    r.finished = j.at("finished").get<bool>();
    const auto& a = j.at("answer");
    if (!EnumFromName(a.at("status").get<std::string>(), CapacityStatus::kUnfinished,
                      CapacityStatusName, &r.answer.status)) {
      return Corrupt(source, "answer.status is not a known status");
    }
    for (auto [field, key] : {std::pair{&CapacityAnswer::capacity, "capacity"},
                              std::pair{&CapacityAnswer::broke_at, "broke_at"},
                              std::pair{&CapacityAnswer::generator_limit, "generator_limit"}}) {
      auto value = rate(a.at(key), key);
      if (!value.ok()) return value.status();
      r.answer.*field = *value;
    }
    r.answer.confirmed = a.at("confirmed").get<bool>();
    r.answer.broke_runs = static_cast<int>(a.at("broke_runs").get<int64_t>());
    r.answer.broke_failures = static_cast<int>(a.at("broke_failures").get<int64_t>());
    r.answer.steps = static_cast<int>(a.at("steps").get<int64_t>());
    r.answer.nanos = std::llround(a.at("seconds").get<double>() * 1e9);
    if (!j.at("gates").is_array() || !j.at("steps").is_array()) {
      return Corrupt(source, "gates and steps must be lists");
    }
    for (const std::string& slo : r.slos) {
      if (auto gate = ParseGate(slo, ""); !gate.ok()) {
        return Corrupt(source, absl::StrCat("an SLO does not parse: ", gate.status().message()));
      }
    }
    if (auto plausible = CheckPlausible(r, j.at("steps").size()); !plausible.empty()) {
      return Corrupt(source, plausible);
    }
    for (const auto& gate : j.at("gates")) {
      auto parsed = ParseCapacityGate(gate.at("expression").get<std::string>());
      if (!parsed.ok()) return Corrupt(source, std::string(parsed.status().message()));
      parsed->measured = gate.at("measured").get<double>();
      parsed->passed = gate.at("passed").get<bool>();
      parsed->message = gate.at("message").get<std::string>();
      r.gates.push_back(*std::move(parsed));
    }
    for (const auto& js : j.at("steps")) {
      CapacityStep step;
      auto step_rate = rate(js.at("rate"), "a step's rate");
      if (!step_rate.ok()) return step_rate.status();
      step.rate = *step_rate;
      if (!EnumFromName(js.at("phase").get<std::string>(), StepPhase::kConfirm, StepPhaseName,
                        &step.phase)) {
        return Corrupt(source, "a step's phase is not a known phase");
      }
      step.offset_seconds = js.at("offset_seconds").get<double>();
      step.seconds = js.at("seconds").get<double>();
      step.held = js.at("held").get<bool>();
      step.near = js.at("near").get<bool>();
      auto result = ResultFromJson(js.at("result").dump(),
                                   absl::StrCat(source, " step ", r.steps.size() + 1));
      if (!result.ok()) return result.status();
      step.result = *std::move(result);
      r.steps.push_back(std::move(step));
    }
    return r;
  } catch (const nlohmann::json::exception& e) {
    // nlohmann's message after its "[json.exception.NAME.ID] " prefix.
    const std::string what = e.what();
    const size_t bracket = what.find("] ");
    return Corrupt(source,
                   absl::StrCat("wrong schema: ",
                                bracket == std::string::npos ? what : what.substr(bracket + 2)));
  }
}

absl::StatusOr<CapacityResult> ReadCapacityFile(const std::string& path) {
  auto text = ReadInputFile(path, path);
  if (!text.ok()) return text.status();
  return CapacityResultFromJson(*text, path);
}

absl::Status WriteCapacityFile(const CapacityResult& result, const std::string& path) {
  return WriteFileAtomically(path, CapacityResultToJson(result));
}

bool IsCapacityFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  char head[256] = {};
  in.read(head, sizeof head - 1);
  return absl::StrContains(absl::string_view(head, static_cast<size_t>(in.gcount())),
                           absl::StrCat("\"schema\": \"", kCapacitySchemaName, "\""));
}

}  // namespace aurigraph::loadgen
