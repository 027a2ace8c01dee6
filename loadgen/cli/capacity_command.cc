#include "loadgen/cli/capacity_command.h"

#include <algorithm>
#include <boost/program_options.hpp>
#include <filesystem>
#include <iostream>
#include <nlohmann/json.hpp>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/host/host.h"
#include "common/units/units.h"
#include "common/version/version.h"
#include "loadgen/assemble/result_builder.h"
#include "loadgen/capacity/capacity_runner.h"
#include "loadgen/cli/cli_support.h"
#include "loadgen/cli/run_execution.h"
#include "loadgen/gates/gates.h"
#include "loadgen/runner/runner.h"
#include "loadgen/scenario/scenario.h"
#include "loadgen/transport/grpc_transport_factory.h"

namespace po = boost::program_options;

namespace aurigraph::loadgen::cli {
namespace {

// What a step's failed gates say, or, when all held, the one nearest its limit.
std::string StepVerdict(const CapacityStep& step) {
  const RunResult& run = step.result;
  if (!run.generator.kept_up) return run.generator.verdict;
  std::vector<std::string> failed;
  const GateResult* nearest = nullptr;
  double nearest_share = -1;
  for (const GateResult& gate : run.gates) {
    if (!gate.passed) failed.push_back(gate.message);
    // How close the figure is to its limit, from either side: 1 at the limit.
    const double share = gate.limit == 0 || gate.measured == 0
                             ? 0
                             : std::min(gate.measured / gate.limit, gate.limit / gate.measured);
    if (share > nearest_share) {
      nearest_share = share;
      nearest = &gate;
    }
  }
  if (!failed.empty()) return absl::StrJoin(failed, "; ");
  return nearest == nullptr ? "" : nearest->message;
}

void PrintStep(const CapacityResult& search, size_t index) {
  const CapacityStep& step = search.steps[index];
  const OperationResult& figures = CurveFigures(step.result);
  std::cout << "step " << index + 1 << " (" << StepPhaseName(step.phase) << ") "
            << FormatRate(step.rate) << ": "
            << (!step.result.generator.kept_up ? "generator behind"
                : step.held                    ? (step.near ? "held (near)" : "held")
                                               : "broke")
            << ", " << StepVerdict(step) << "; achieved " << FormatRate(figures.achieved_rate);
  if (figures.errors() > 0) {
    std::cout << " (" << static_cast<int>(figures.error_ratio() * 1000) / 10.0 << "% failed)";
  }
  std::cout << " in " << FormatDuration(static_cast<int64_t>(step.seconds * 1e9)) << std::endl;
}

void PrintAnswer(const CapacityResult& search) {
  std::cout << DescribeCapacityAnswer(search) << "\n";
  for (const GateResult& gate : search.gates) {
    std::cout << (gate.passed ? "  PASS " : "  FAIL ") << gate.expression << " (" << gate.message
              << ")\n";
  }
}

// A duration flag in nanoseconds, or the exit code.
std::optional<int> DurationFlag(const po::variables_map& vm, const char* flag, int64_t minimum,
                                int64_t* nanos) {
  auto parsed = ParseDuration(vm[flag].as<std::string>());
  if (!parsed.ok() || *parsed < minimum) {
    return Fail(kExitUsage, absl::StrCat("--", flag, ": expected a duration of at least ",
                                         FormatDuration(minimum), ", e.g. 30s"));
  }
  *nanos = *parsed;
  return std::nullopt;
}

}  // namespace

int CapacityCommand(const std::vector<std::string>& args) {
  po::options_description options(
      "aurigraph-loadgen capacity SCENARIO.yaml --slo 'p99 < 20ms' [--slo ...] [options]\n"
      "  searches for the highest fixed rate (load.rate) at which every SLO holds: rates grow\n"
      "  from --min-rate until a step breaks an SLO, then the gap is bisected to --precision;\n"
      "  the answer and the broken rate above it are run again (--confirm) before it is given");
  options.add_options()("help,h", "show this help")(
      "slo", po::value<std::vector<std::string>>()->composing(),
      "an SLO every step is judged by, as a gate: 'p99 < 20ms', 'error_ratio < 0.1%' "
      "(repeatable; default: the scenario's gates)")(
      "gate", po::value<std::vector<std::string>>()->composing(),
      "a gate on the answer, e.g. 'capacity >= 40000' (repeatable; exit 1 when one fails)")(
      "min-rate", po::value<double>()->default_value(100), "the first step's rate (requests/s)")(
      "max-rate", po::value<double>()->default_value(1e6), "no step goes above this rate")(
      "growth", po::value<double>()->default_value(2), "the factor between rates while exploring")(
      "precision", po::value<std::string>()->default_value("2%"),
      "stop narrowing when the broken rate is within this of the held one")(
      "confirm", po::value<int>()->default_value(2),
      "extra runs of the answer and of the broken rate above it, each")(
      "near-margin", po::value<std::string>()->default_value("10%"),
      "a step whose SLO figure comes this close to its limit is run twice")(
      "step-duration", po::value<std::string>()->default_value("30s"),
      "the measured part of each step")("step-warmup",
                                        po::value<std::string>()->default_value("5s"),
                                        "each step's warm-up, before its measured part")(
      "budget", po::value<std::string>()->default_value("0s"),
      "bound the search's time (0s: none); when it runs out, the best rate so far is given")(
      "target", po::value<std::string>(), "HOST:PORT to load (overrides the scenario's target)")(
      "set", po::value<std::vector<std::string>>()->composing(),
      "override a scenario key for every step, e.g. --set workers=2")(
      "watch-pid", po::value<int>()->default_value(0),
      "the target's process to sample (0: found by port on this machine; -1: none)")(
      "out", po::value<std::string>()->default_value("capacity"),
      "directory for capacity.json (rewritten after every step)");
  po::options_description hidden;
  hidden.add_options()("scenario", po::value<std::string>());
  po::positional_options_description positional;
  positional.add("scenario", 1);
  po::variables_map vm;
  if (auto done = ParseOptions(args, options, positional, hidden, "capacity", &vm)) return *done;
  if (auto invalid = CheckUtf8Flags(vm)) return *invalid;
  if (!vm.count("scenario")) return Fail(kExitUsage, "capacity: missing SCENARIO.yaml");
  const std::string scenario_path = vm["scenario"].as<std::string>();
  const auto list = [&](const char* flag) {
    return vm.count(flag) ? vm[flag].as<std::vector<std::string>>() : std::vector<std::string>{};
  };
  const std::vector<std::string> overrides = list("set");
  for (const std::string& set : overrides) {
    for (const auto& [key, flag] :
         {std::pair{"load.rate", "--min-rate and --max-rate"},
          std::pair{"duration", "--step-duration"}, std::pair{"warmup", "--step-warmup"}}) {
      if (absl::StartsWith(set, absl::StrCat(key, "="))) {
        return Fail(kExitUsage,
                    absl::StrCat("capacity: --set ", key,
                                 ": the search sets it for each step (use ", flag, ")"));
      }
    }
  }
  auto base = LoadScenarioFile(scenario_path, overrides);
  if (!base.ok()) return Fail(kExitUsage, std::string(base.status().message()));
  if (!base->has_load || base->model != LoadModel::kOpenLoop || !base->profile.empty() ||
      base->requests > 0) {
    return Fail(kExitUsage,
                absl::StrCat("capacity: ", scenario_path,
                             ": a capacity search sets load.rate, so the scenario must run open "
                             "loop at a constant load.rate, without load.profile or requests"));
  }

  CapacityResult search;
  search.tool_version = aurigraph::kVersion;
  search.host = aurigraph::HostName();
  search.scenario_name = base->name;
  // The SLOs each step is judged by: --slo (each once), else the scenario's gates.
  std::vector<GateSpec> slos;
  for (const std::string& slo : list("slo")) {
    if (auto gate = ParseGate(slo, ""); !gate.ok()) {
      return Fail(kExitUsage, absl::StrCat("--slo: ", gate.status().message()));
    }
    const bool repeated = std::any_of(slos.begin(), slos.end(),
                                      [&](const GateSpec& spec) { return spec.expression == slo; });
    if (!repeated) slos.push_back(GateSpec{slo, ""});
  }
  if (slos.empty()) slos = base->gates;
  if (slos.empty()) {
    return Fail(kExitUsage,
                "capacity: no SLO to search against: give --slo 'p99 < 20ms' (repeatable) or "
                "gates in the scenario");
  }
  for (const GateSpec& slo : slos) {
    if (absl::Status scope = CheckGateScope(*base, slo); !scope.ok()) {
      return Fail(kExitUsage, absl::StrCat("capacity: ", scope.message()));
    }
  }
  // Latency SLOs time successful calls only: a target that fails fast would
  // look ever faster. Unless an SLO bounds the errors, a step that fails more
  // than 1% of its unary calls breaks.
  const bool unary = std::any_of(base->operations.begin(), base->operations.end(),
                                 [](const OperationSpec& op) { return !op.has_stream; });
  const bool errors_bounded =
      !unary || std::any_of(slos.begin(), slos.end(), [](const GateSpec& spec) {
        auto gate = ParseGate(spec.expression, spec.operation);
        return gate.ok() && gate->metric == "error_ratio" && spec.operation.empty();
      });
  if (!errors_bounded) slos.push_back(GateSpec{"error_ratio < 1%", ""});
  for (const GateSpec& slo : slos) search.slos.push_back(slo.expression);
  for (const std::string& expression : list("gate")) {
    auto gate = ParseCapacityGate(expression);
    if (!gate.ok()) return Fail(kExitUsage, absl::StrCat("--gate: ", gate.status().message()));
    search.gates.push_back(*gate);
  }
  CapacityPlan& plan = search.plan;
  plan.min_rate = vm["min-rate"].as<double>();
  plan.max_rate = vm["max-rate"].as<double>();
  plan.growth = vm["growth"].as<double>();
  plan.confirm_runs = vm["confirm"].as<int>();
  if (!(plan.min_rate > 0 && plan.min_rate <= plan.max_rate && plan.max_rate <= 1e8)) {
    return Fail(kExitUsage, "--min-rate, --max-rate: expected 0 < min-rate <= max-rate <= 1e8");
  }
  if (!(plan.growth >= 1.1 && plan.growth <= 100)) {
    return Fail(kExitUsage, "--growth: expected a factor from 1.1 to 100");
  }
  if (plan.confirm_runs < 0 || plan.confirm_runs > 10) {
    return Fail(kExitUsage, "--confirm: expected 0 to 10 extra runs");
  }
  auto precision = ParseRatio(vm["precision"].as<std::string>());
  if (!precision.ok() || *precision < 0.005 || *precision > 1) {
    return Fail(kExitUsage, "--precision: expected a ratio from 0.5% to 100%, e.g. 2%");
  }
  plan.precision = *precision;
  auto margin = ParseRatio(vm["near-margin"].as<std::string>());
  if (!margin.ok() || *margin < 0 || *margin > 1) {
    return Fail(kExitUsage, "--near-margin: expected a ratio from 0% to 100%, e.g. 10%");
  }
  search.near_margin = *margin;
  int64_t step_nanos = 0, warmup_nanos = 0;
  if (auto bad = DurationFlag(vm, "step-duration", 100'000'000, &step_nanos)) return *bad;
  if (auto bad = DurationFlag(vm, "step-warmup", 0, &warmup_nanos)) return *bad;
  if (auto bad = DurationFlag(vm, "budget", 0, &plan.budget_nanos)) return *bad;
  if (plan.budget_nanos > 0 && plan.budget_nanos < step_nanos + warmup_nanos) {
    return Fail(kExitUsage, absl::StrCat("--budget ", FormatDuration(plan.budget_nanos),
                                         " is shorter than one step (",
                                         FormatDuration(step_nanos + warmup_nanos), ")"));
  }
  search.step_seconds = static_cast<double>(step_nanos) / 1e9;
  search.warmup_seconds = static_cast<double>(warmup_nanos) / 1e9;

  const std::string target_override = vm.count("target") ? vm["target"].as<std::string>() : "";
  const auto target = ResolveTarget(*base, target_override);
  if (!target.ok()) return Fail(kExitUsage, std::string(target.status().message()));
  search.target = *target;
  const std::string out_dir = vm["out"].as<std::string>();
  if (auto failed = PrepareOutputDirectory(out_dir)) return *failed;
  const std::string path = (std::filesystem::path(out_dir) / "capacity.json").string();

  // Each step is the scenario at one rate, the SLOs its gates.
  std::vector<std::string> step_overrides = overrides;
  // A scenario's duration includes its warm-up.
  step_overrides.push_back(absl::StrCat("duration=", step_nanos + warmup_nanos, "ns"));
  step_overrides.push_back(absl::StrCat("warmup=", warmup_nanos, "ns"));
  nlohmann::json gates = nlohmann::json::array();
  for (const GateSpec& slo : slos) {
    gates.push_back(slo.operation.empty()
                        ? nlohmann::json(slo.expression)
                        : nlohmann::json{{"gate", slo.expression}, {"operation", slo.operation}});
  }
  step_overrides.push_back(absl::StrCat("gates=", gates.dump()));
  const int watch_pid = vm["watch-pid"].as<int>();
  const StepRunner run_step = [&](double rate) -> absl::StatusOr<RunResult> {
    std::vector<std::string> step = step_overrides;
    step.push_back(absl::StrCat("load.rate=", rate));
    auto scenario = LoadScenarioFile(scenario_path, step);
    if (!scenario.ok()) return scenario.status();
    const std::unique_ptr<TransportFactory> wire = MakeTransportFactory(*scenario, *target);
    RunOptions run_options;
    const std::vector<std::unique_ptr<RunHook>> hooks =
        PlugIn(*scenario, *wire, out_dir, run_options);
    run_options.target = *target;
    run_options.stop = &StopRequested();
    run_options.transport = wire.get();
    run_options.watch_pid = watch_pid;
    auto run = RunScenario(*scenario, run_options);
    if (!run.ok()) return run;
    for (const GateResult& gate : run->gates) {
      if (MeasuredNothing(gate) && run->generator.kept_up) {
        return absl::InvalidArgumentError(absl::StrCat(
            "capacity: SLO '", gate.expression, "' measured nothing at ", FormatRate(rate),
            ": it cannot judge this scenario (a latency or count SLO of streams names the "
            "operation, in the scenario's gates)"));
      }
    }
    return run;
  };
  // Checked before the first step, so bad input costs no run and no file.
  if (auto first = LoadScenarioFile(scenario_path,
                                    [&] {
                                      std::vector<std::string> step = step_overrides;
                                      step.push_back(absl::StrCat("load.rate=", plan.min_rate));
                                      return step;
                                    }());
      !first.ok()) {
    return Fail(kExitUsage, std::string(first.status().message()));
  } else if (auto checked = GatesFromScenario(*first); !checked.ok()) {
    return Fail(kExitUsage, std::string(checked.status().message()));
  }

  CapacityRunOptions run_options;
  run_options.stop = &StopRequested();
  absl::Status saved = absl::OkStatus();
  size_t printed = 0;
  bool wrote = false;
  run_options.on_step = [&](const CapacityResult& so_far) {
    for (; printed < so_far.steps.size(); ++printed) PrintStep(so_far, printed);
    // A search that ended before its first step leaves any earlier file alone.
    if (so_far.steps.empty()) return;
    wrote = true;
    if (auto written = WriteCapacityFile(so_far, path); !written.ok() && saved.ok()) {
      saved = written;
    }
  };
  std::vector<std::string> described;
  for (const GateSpec& slo : slos) {
    described.push_back(slo.operation.empty()
                            ? slo.expression
                            : absl::StrCat(slo.expression, " (", slo.operation, ")"));
  }
  std::cout << "capacity of " << search.scenario_name << " at " << search.target << " within "
            << absl::StrJoin(described, ", ")
            << (errors_bounded ? ""
                               : " (added: bound errors yourself with --slo 'error_ratio < X')")
            << ": steps of " << FormatDuration(step_nanos) << " (+" << FormatDuration(warmup_nanos)
            << " warm-up) from " << FormatRate(plan.min_rate) << std::endl;
  StopOnSignals();
  auto result = RunCapacitySearch(std::move(search), run_step, run_options);
  if (!saved.ok()) return Fail(kExitCannotRun, std::string(saved.message()));
  if (!result.ok()) {
    const auto code = result.status().code();
    const bool bad_input =
        code == absl::StatusCode::kInvalidArgument || code == absl::StatusCode::kNotFound;
    return Fail(bad_input ? kExitUsage : kExitCannotRun,
                absl::StrCat(result.status().message(),
                             wrote ? absl::StrCat(" (steps so far: ", path, ")") : ""));
  }
  PrintAnswer(*result);
  std::cout << "result: " << path << "\nreport: aurigraph-loadgen report " << path << "\n";
  return result->passed() ? 0 : kExitGateFailed;
}

}  // namespace aurigraph::loadgen::cli
