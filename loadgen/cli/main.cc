// aurigraph-loadgen: runs load scenarios against gRPC targets.
// Exit codes: 0 every gate passed; 1 a gate failed (or the generator could not
// keep up); 2 invalid input or usage; 3 the run could not be carried out.
#include <boost/program_options.hpp>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <string>
#include <vector>

#include "common/version/version.h"
#include "loadgen/result/run_result.h"
#include "loadgen/runner/runner.h"
#include "loadgen/scenario/scenario.h"
#include "loadgen/summary/summary.h"

namespace po = boost::program_options;
using namespace aurigraph::loadgen;

namespace {

constexpr int kExitGateFailed = 1;
constexpr int kExitUsage = 2;
constexpr int kExitCannotRun = 3;

std::atomic<bool> g_stop{false};

void OnSignal(int) { g_stop.store(true); }

int Fail(int code, const std::string& message) {
  std::cerr << "aurigraph-loadgen: " << message << "\n";
  return code;
}

int RunCommand(const std::vector<std::string>& args) {
  po::options_description options("aurigraph-loadgen run SCENARIO.yaml [options]");
  options.add_options()("help,h", "show this help")(
      "target", po::value<std::string>(), "HOST:PORT to load (overrides the scenario's target)")(
      "out", po::value<std::string>()->default_value("results"), "directory for result.json")(
      "set", po::value<std::vector<std::string>>()->composing(),
      "override a scenario key, e.g. --set duration=5s --set load.rate=500 (repeatable)");
  po::options_description hidden;
  hidden.add_options()("scenario", po::value<std::string>());
  po::options_description all;
  all.add(options).add(hidden);
  po::positional_options_description positional;
  positional.add("scenario", 1);
  po::variables_map vm;
  try {
    po::store(po::command_line_parser(args).options(all).positional(positional).run(), vm);
    po::notify(vm);
  } catch (const po::error& e) {
    return Fail(kExitUsage, std::string(e.what()) + " (see aurigraph-loadgen run --help)");
  }
  if (vm.count("help")) {
    std::cout << options << "\n";
    return 0;
  }
  if (!vm.count("scenario")) return Fail(kExitUsage, "run: missing SCENARIO.yaml");
  const std::vector<std::string> overrides =
      vm.count("set") ? vm["set"].as<std::vector<std::string>>() : std::vector<std::string>{};
  auto scenario = LoadScenarioFile(vm["scenario"].as<std::string>(), overrides);
  if (!scenario.ok()) return Fail(kExitUsage, std::string(scenario.status().message()));

  const std::string out_dir = vm["out"].as<std::string>();
  std::error_code ec;
  std::filesystem::create_directories(out_dir, ec);
  if (ec)
    return Fail(kExitCannotRun, out_dir + ": cannot create output directory: " + ec.message());

  std::signal(SIGINT, OnSignal);
  std::signal(SIGTERM, OnSignal);
  RunOptions run_options;
  run_options.target = vm.count("target") ? vm["target"].as<std::string>() : "";
  run_options.stop = &g_stop;
  auto result = RunScenario(*scenario, run_options);
  if (!result.ok()) {
    const auto code = result.status().code();
    const bool bad_input =
        code == absl::StatusCode::kInvalidArgument || code == absl::StatusCode::kNotFound;
    return Fail(bad_input ? kExitUsage : kExitCannotRun, std::string(result.status().message()));
  }
  const std::string path = (std::filesystem::path(out_dir) / "result.json").string();
  std::cout << FormatSummary(*result);
  if (auto written = WriteResultFile(*result, path); !written.ok()) {
    return Fail(kExitCannotRun, std::string(written.message()));
  }
  std::cout << "result: " << path << "\n";
  return result->passed() ? 0 : kExitGateFailed;
}

void PrintUsage(std::ostream& out) {
  out << "usage: aurigraph-loadgen <command> [options]\n\n"
         "commands:\n"
         "  run SCENARIO.yaml [--target HOST:PORT] [--out DIR] [--set key=value ...]\n"
         "      run a load scenario, print a summary and write DIR/result.json\n\n"
         "options:\n"
         "  -h, --help     show this help (or a command's: run --help)\n"
         "  --version      print the version\n\n"
         "exit codes: 0 all gates passed, 1 a gate failed, 2 invalid input, 3 the run could not be "
         "carried out\n";
}

}  // namespace

int main(int argc, char** argv) {
  // Our own messages name every failure in one line; gRPC's internal logging
  // stays quiet unless the user asks for it (GRPC_VERBOSITY=ERROR|INFO|DEBUG).
  setenv("GRPC_VERBOSITY", "NONE", /*overwrite=*/0);
  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.empty()) {
    PrintUsage(std::cerr);
    return kExitUsage;
  }
  const std::string command = args.front();
  if (command == "--help" || command == "-h" || command == "help") {
    PrintUsage(std::cout);
    return 0;
  }
  if (command == "--version") {
    std::cout << "aurigraph-loadgen " << aurigraph::kVersion << "\n";
    return 0;
  }
  if (command == "run") return RunCommand({args.begin() + 1, args.end()});
  return Fail(kExitUsage, "unknown command '" + command + "' (see aurigraph-loadgen --help)");
}
