// aurigraph-loadgen: runs load scenarios against gRPC targets.
// Exit codes: 0 every gate passed; 1 a gate failed (or the generator could not
// keep up); 2 invalid input or usage; 3 the run could not be carried out; 4 a
// process of a split run did not finish.

#include <boost/program_options.hpp>
#include <filesystem>
#include <iostream>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/input/utf8.h"
#include "common/runtime/runtime.h"
#include "common/version/version.h"
#include "loadgen/capacity/capacity_result.h"
#include "loadgen/cli/capacity_command.h"
#include "loadgen/cli/cli_support.h"
#include "loadgen/cli/run_execution.h"
#include "loadgen/cli/split_commands.h"
#include "loadgen/compare/compare.h"
#include "loadgen/report/capacity_report.h"
#include "loadgen/report/compare_report.h"
#include "loadgen/report/report.h"
#include "loadgen/result/load_results.h"
#include "loadgen/result/run_result.h"
#include "loadgen/scenario/ad_hoc.h"
#include "loadgen/scenario/scenario.h"

namespace po = boost::program_options;
using namespace aurigraph::loadgen;
using namespace aurigraph::loadgen::cli;

namespace {

// With a scenario file the flags that describe an ad-hoc call would be silently
// meaningless: each is refused, naming the scenario key that does its job.
std::optional<int> RefuseAdHocFlags(const po::variables_map& vm) {
  static constexpr std::pair<const char*, const char*> kScenarioKeys[] = {
      {"proto", "proto"},
      {"import-path", "import_paths"},
      {"protoset", "protoset"},
      {"data", "an operation's request"},
      {"data-bin", "an operation's request_bin"},
      {"rate", "load.rate (e.g. --set load.rate=500)"},
      {"concurrency", "load.concurrency (e.g. --set load.concurrency=8)"},
      {"rate-profile", "load.profile (with load.model: open)"},
      {"concurrency-profile", "load.profile (with load.model: closed)"},
      {"duration", "duration (e.g. --set duration=30s)"},
      {"requests", "requests (e.g. --set requests=10000)"},
      {"warmup", "warmup (e.g. --set warmup=5s)"},
      {"deadline", "an operation's deadline"},
      {"metadata", "metadata"},
      {"metadata-file", "metadata"},
      {"data-file", "an operation's data.file"},
      {"data-order", "an operation's data.order"},
      {"streams", "an operation's stream.streams"},
      {"tls", "channel.tls"},
      {"ca", "channel.ca"},
      {"cert", "channel.cert"},
      {"key", "channel.key"},
      {"server-name", "channel.server_name"},
      {"authority", "channel.authority"},
      {"gzip", "channel.compression"},
      {"keepalive-time", "channel.keepalive_time"},
      {"keepalive-timeout", "channel.keepalive_timeout"},
      {"max-message-size", "channel.max_message_size"}};
  for (const auto& [flag, key] : kScenarioKeys) {
    if (vm.count(flag) && !vm[flag].defaulted()) {
      return Fail(
          kExitUsage,
          absl::StrCat("run: --", flag, " is for ad-hoc runs (--call); in a scenario it is ", key));
    }
  }
  return std::nullopt;
}

// The ad-hoc call the flags describe.
AdHocCall AdHocCallFromFlags(const po::variables_map& vm) {
  AdHocCall call;
  call.call = vm["call"].as<std::string>();
  if (!vm["data"].defaulted()) call.data = vm["data"].as<std::string>();
  const auto list = [&](const char* flag) {
    return vm.count(flag) ? vm[flag].as<std::vector<std::string>>() : std::vector<std::string>{};
  };
  const auto text = [&](const char* flag) -> std::optional<std::string> {
    if (!vm.count(flag)) return std::nullopt;
    return vm[flag].as<std::string>();
  };
  call.duration = text("duration");
  if (vm.count("requests")) call.requests = vm["requests"].as<int64_t>();
  call.warmup = text("warmup");
  call.protos = list("proto");
  call.import_paths = list("import-path");
  call.protosets = list("protoset");
  if (vm.count("rate")) call.rate = vm["rate"].as<double>();
  if (vm.count("concurrency")) call.concurrency = vm["concurrency"].as<int>();
  call.rate_profile = text("rate-profile");
  call.concurrency_profile = text("concurrency-profile");
  call.deadline = text("deadline");
  call.metadata = list("metadata");
  call.metadata_file = text("metadata-file");
  call.data_bin = text("data-bin");
  call.data_file = text("data-file");
  call.data_order = vm["data-order"].as<std::string>();
  if (vm.count("streams")) call.streams = vm["streams"].as<int>();
  call.tls = vm.count("tls") > 0;
  call.gzip = vm.count("gzip") > 0;
  for (const auto& [flag, key] :
       {std::pair{"ca", "ca"}, std::pair{"cert", "cert"}, std::pair{"key", "key"},
        std::pair{"server-name", "server_name"}, std::pair{"authority", "authority"},
        std::pair{"keepalive-time", "keepalive_time"},
        std::pair{"keepalive-timeout", "keepalive_timeout"},
        std::pair{"max-message-size", "max_message_size"}}) {
    if (const auto value = text(flag)) call.channel.emplace_back(key, *value);
  }
  return call;
}

// An ad-hoc call's own flags; with a scenario file RefuseAdHocFlags refuses them.
po::options_description AdHocRunFlags() {
  po::options_description flags(
      "Ad-hoc runs only (--call); refused with a scenario file, whose keys --set changes");
  flags.add_options()("call", po::value<std::string>(),
                      "run without a scenario file: the method to call")(
      "proto", po::value<std::vector<std::string>>()->composing(),
      "a .proto file declaring it, loaded at run time (repeatable; default: ask the server "
      "through gRPC server reflection)")("import-path",
                                         po::value<std::vector<std::string>>()->composing(),
                                         "a directory .proto imports are resolved in (repeatable)")(
      "protoset", po::value<std::vector<std::string>>()->composing(),
      "a FileDescriptorSet declaring the method, from protoc --include_imports -o FILE "
      "(repeatable), instead of --proto")(
      "data", po::value<std::string>()->default_value("{}"),
      "the request as JSON, with template variables such as ${seq} and ${uuid}: an object, or an "
      "array of messages (unary calls and server streams take them in turn, client and bidi "
      "streams send them in order, then again); @FILE reads it from FILE, - from stdin")(
      "data-bin", po::value<std::string>(),
      "instead of --data, a file holding one serialized request message (e.g. from protoc "
      "--encode), sent as is")("rate", po::value<double>(), "open loop at this many requests/s")(
      "concurrency", po::value<int>(),
      "closed loop with this many requests in flight (without --rate: 1)")(
      "rate-profile", po::value<std::string>(),
      "open loop at a rate that changes, in holds and ramps that time the run, e.g. '100 for "
      "30s, ramp to 5000 over 2m, 5000 for 10m' (a ramp starts from the value before it, or 0)")(
      "concurrency-profile", po::value<std::string>(),
      "closed loop at a concurrency that changes, e.g. '1 for 10s, ramp to 64 over 1m'")(
      "duration", po::value<std::string>(),
      "how long to run (default 10s, or none with --requests; a profile sets it)")(
      "requests", po::value<int64_t>(), "send this many requests, then stop")(
      "warmup", po::value<std::string>(), "a first part of the run that is not measured, e.g. 2s")(
      "deadline", po::value<std::string>(),
      "per-call deadline, e.g. 100ms (expiry counts as DEADLINE_EXCEEDED)")(
      "metadata,H", po::value<std::vector<std::string>>()->composing(),
      "a request header 'name: value', value a template like the data (repeatable; names are "
      "case-insensitive and sent in lower case)")(
      "metadata-file", po::value<std::string>(),
      "a JSON object of header name to value template, as -H gives them (a header may not be "
      "in both)")("data-file", po::value<std::string>(),
                  "JSON lines whose fields ${data.FIELD} reads, one line per request")(
      "data-order", po::value<std::string>()->default_value("sequential"),
      "take --data-file's lines in order (sequential) or at random")(
      "streams", po::value<int>(), "streaming methods: streams held open at once (default 1)")(
      "tls", "connect with TLS (the system's roots unless --ca)")(
      "ca", po::value<std::string>(), "PEM file of the CA the server's certificate must chain to")(
      "cert", po::value<std::string>(), "mutual TLS: this client's PEM certificate")(
      "key", po::value<std::string>(), "mutual TLS: this client's PEM private key")(
      "server-name", po::value<std::string>(), "the name the server's certificate must carry")(
      "authority", po::value<std::string>(), "the :authority header")(
      "gzip", "compress requests with gzip")("keepalive-time", po::value<std::string>(),
                                             "HTTP/2 keepalive ping interval")(
      "keepalive-timeout", po::value<std::string>(), "how long a keepalive ping may go unanswered")(
      "max-message-size", po::value<std::string>(), "largest response accepted, e.g. 16MiB");
  return flags;
}

int RunCommand(const std::vector<std::string>& args) {
  po::options_description options(
      "aurigraph-loadgen run SCENARIO.yaml [options]\n"
      "aurigraph-loadgen run --call package.Service/Method [--proto FILE.proto ...] "
      "[--data JSON] [--rate N | --concurrency N] [--duration 10s | --requests N] [options]");
  options.add(CommonRunFlags()).add(AdHocRunFlags()).add(SplitRunFlags());
  po::options_description hidden;
  hidden.add_options()("scenario", po::value<std::string>());
  po::positional_options_description positional;
  positional.add("scenario", 1);
  po::variables_map vm;
  if (auto done = ParseOptions(args, options, positional, hidden, "run", &vm)) return *done;
  if (auto invalid = CheckUtf8Flags(vm)) return *invalid;
  if (vm.count("scenario") == vm.count("call")) {
    return Fail(kExitUsage, "run: give either SCENARIO.yaml or --call package.Service/Method");
  }
  const std::vector<std::string> overrides =
      vm.count("set") ? vm["set"].as<std::vector<std::string>>() : std::vector<std::string>{};
  absl::StatusOr<Scenario> scenario = absl::UnknownError("");
  if (vm.count("call")) {
    scenario = ParseAdHocScenario(AdHocCallFromFlags(vm), overrides);
  } else {
    if (auto refused = RefuseAdHocFlags(vm)) return *refused;
    scenario = LoadScenarioFile(vm["scenario"].as<std::string>(), overrides);
  }
  if (!scenario.ok()) return Fail(kExitUsage, std::string(scenario.status().message()));
  if (vm.count("local-workers")) return RunLocalWorkers(*scenario, vm);

  RunOptions run_options;
  if (auto invalid = ReadSplitFlags(vm, &run_options)) return *invalid;
  return ExecuteRun(*scenario, vm, std::move(run_options), {});
}

// The capacity file `spec` names (itself, or DIR/capacity.json), if it names one.
std::optional<std::string> CapacityFileOf(const std::string& spec) {
  const std::filesystem::path in_directory = std::filesystem::path(spec) / "capacity.json";
  std::error_code ec;
  if (std::filesystem::is_directory(spec, ec) && std::filesystem::exists(in_directory, ec)) {
    return in_directory.string();
  }
  if (std::filesystem::is_regular_file(spec, ec) && IsCapacityFile(spec)) return spec;
  return std::nullopt;
}

int ReportCommand(const std::vector<std::string>& args) {
  po::options_description options(
      "aurigraph-loadgen report RESULT.json|RUN_DIR [...] [options]\n"
      "  a run directory without result.json (a killed run) is rebuilt from its interval logs");
  options.add_options()("help,h", "show this help")(
      "out", po::value<std::string>()->default_value("report"),
      "directory for report.html, summary.md, junit.xml, intervals.csv and summary.json");
  po::options_description hidden;
  hidden.add_options()("results", po::value<std::vector<std::string>>());
  po::positional_options_description positional;
  positional.add("results", -1);
  po::variables_map vm;
  if (auto done = ParseOptions(args, options, positional, hidden, "report", &vm)) return *done;
  if (!vm.count("results")) return Fail(kExitUsage, "report: missing RESULT.json");
  const auto& specs = vm["results"].as<std::vector<std::string>>();
  for (const std::string& spec : specs) {
    const std::optional<std::string> capacity = CapacityFileOf(spec);
    if (!capacity) continue;
    if (specs.size() > 1) {
      return Fail(kExitUsage,
                  absl::StrCat("report: ", spec, " is a capacity search: it is reported alone"));
    }
    auto search = ReadCapacityFile(*capacity);
    if (!search.ok()) return Fail(kExitUsage, std::string(search.status().message()));
    if (auto failed = WriteOutputs(vm["out"].as<std::string>(),
                                   {{"report.html", RenderCapacityHtml(*search)},
                                    {"summary.md", RenderCapacityMarkdown(*search)},
                                    {"junit.xml", RenderCapacityJunit(*search, *capacity)}},
                                   /*print_paths=*/true)) {
      return *failed;
    }
    return 0;
  }
  std::vector<LoadedResult> runs;
  for (const std::string& spec : specs) {
    auto loaded = LoadResults(spec);
    if (!loaded.ok()) return Fail(kExitUsage, std::string(loaded.status().message()));
    for (LoadedResult& run : *loaded) runs.push_back(std::move(run));
  }
  if (auto failed = WriteOutputs(vm["out"].as<std::string>(),
                                 {{"report.html", RenderHtmlReport(runs)},
                                  {"summary.md", RenderMarkdownSummary(runs)},
                                  {"junit.xml", RenderJunit(runs)},
                                  {"intervals.csv", RenderIntervalsCsv(runs)},
                                  {"summary.json", RenderDashboardJson(runs)}},
                                 /*print_paths=*/true)) {
    return *failed;
  }
  return 0;
}

int CompareCapacities(const std::string& baseline_path, const std::string& candidate_path,
                      const std::string& out_dir) {
  auto baseline = ReadCapacityFile(baseline_path);
  if (!baseline.ok()) return Fail(kExitUsage, std::string(baseline.status().message()));
  auto candidate = ReadCapacityFile(candidate_path);
  if (!candidate.ok()) return Fail(kExitUsage, std::string(candidate.status().message()));
  auto change = CompareCapacity(*baseline, *candidate);
  if (!change.ok()) return Fail(kExitUsage, std::string(change.status().message()));
  const std::string markdown = RenderCapacityCompareMarkdown(*baseline, *candidate, *change);
  if (auto failed =
          WriteOutputs(out_dir,
                       {{"compare.html", RenderCapacityCompareHtml(*baseline, *candidate, *change)},
                        {"compare.md", markdown}},
                       /*print_paths=*/false)) {
    return *failed;
  }
  std::cout << markdown << "\n"
            << (std::filesystem::path(out_dir) / "compare.html").string() << "\n";
  // An inconclusive comparison cannot show that nothing regressed.
  const bool shown_not_lower =
      change->verdict == CapacityVerdict::kSame || change->verdict == CapacityVerdict::kHigher;
  return shown_not_lower ? 0 : kExitGateFailed;
}

int CompareCommand(const std::vector<std::string>& args) {
  po::options_description options(
      "aurigraph-loadgen compare BASELINE CANDIDATE [options]\n"
      "  each side: a result file, a comma-separated list of them, or a directory of them\n"
      "  (repeated runs; with 3 or more per side the verdict accounts for run-to-run noise)");
  options.add_options()("help,h", "show this help")(
      "threshold", po::value<std::vector<std::string>>()->composing(),
      "change that counts: 5% (latency percentiles and rate), p99=10%, rate=3%, "
      "error_ratio=0.1% (absolute); repeatable; default 5% and error_ratio=0.1%")(
      "alpha", po::value<double>()->default_value(0.05, "0.05"),
      "significance level with repeated runs")(
      "out", po::value<std::string>()->default_value("comparison"),
      "directory for compare.html and compare.md");
  po::options_description hidden;
  hidden.add_options()("sides", po::value<std::vector<std::string>>());
  po::positional_options_description positional;
  positional.add("sides", -1);
  po::variables_map vm;
  if (auto done = ParseOptions(args, options, positional, hidden, "compare", &vm)) return *done;
  const auto sides =
      vm.count("sides") ? vm["sides"].as<std::vector<std::string>>() : std::vector<std::string>{};
  if (sides.size() != 2) return Fail(kExitUsage, "compare: expected BASELINE and CANDIDATE");
  CompareOptions compare_options;
  compare_options.alpha = vm["alpha"].as<double>();
  if (!(compare_options.alpha > 0 && compare_options.alpha < 1)) {
    return Fail(kExitUsage, "--alpha: expected a value between 0 and 1");
  }
  if (vm.count("threshold")) {
    for (const std::string& t : vm["threshold"].as<std::vector<std::string>>()) {
      if (auto applied = ApplyThreshold(t, &compare_options); !applied.ok()) {
        return Fail(kExitUsage, std::string(applied.message()));
      }
    }
  }
  const std::optional<std::string> base_capacity = CapacityFileOf(sides[0]);
  const std::optional<std::string> cand_capacity = CapacityFileOf(sides[1]);
  if (base_capacity.has_value() != cand_capacity.has_value()) {
    return Fail(kExitUsage, "compare: a capacity search compares only with another one");
  }
  if (base_capacity)
    return CompareCapacities(*base_capacity, *cand_capacity, vm["out"].as<std::string>());
  auto baseline = LoadResults(sides[0]);
  if (!baseline.ok()) return Fail(kExitUsage, std::string(baseline.status().message()));
  auto candidate = LoadResults(sides[1]);
  if (!candidate.ok()) return Fail(kExitUsage, std::string(candidate.status().message()));
  std::vector<RunResult> base_runs, cand_runs;
  for (const LoadedResult& run : *baseline) base_runs.push_back(run.result);
  for (const LoadedResult& run : *candidate) cand_runs.push_back(run.result);
  auto comparison = CompareRuns(base_runs, cand_runs, compare_options);
  if (!comparison.ok()) return Fail(kExitUsage, std::string(comparison.status().message()));
  for (const LoadedResult& run : *baseline) comparison->baseline_sources.push_back(run.source);
  for (const LoadedResult& run : *candidate) comparison->candidate_sources.push_back(run.source);

  const std::string out_dir = vm["out"].as<std::string>();
  const std::string markdown = RenderCompareMarkdown(*comparison);
  if (auto failed = WriteOutputs(
          out_dir, {{"compare.html", RenderCompareHtml(*comparison)}, {"compare.md", markdown}},
          /*print_paths=*/false)) {
    return *failed;
  }
  std::cout << markdown << "\n"
            << (std::filesystem::path(out_dir) / "compare.html").string() << "\n";
  return comparison->regression() ? kExitGateFailed : 0;
}

void PrintUsage(std::ostream& out) {
  out << "usage: aurigraph-loadgen <command> [options]\n\n"
         "commands:\n"
         "  run SCENARIO.yaml [--target HOST:PORT] [--out DIR] [--set key=value ...]\n"
         "  run --call package.Service/Method [--data JSON] [--rate N] [--target HOST:PORT] ...\n"
         "      run a load scenario (or an ad-hoc call), print a summary and write "
         "DIR/result.json\n"
         "  report RESULT.json|RUN_DIR [...] [--out DIR]\n"
         "      render saved results: DIR/report.html, DIR/summary.md, DIR/junit.xml,\n"
         "      DIR/intervals.csv, DIR/summary.json (a run directory without result.json, e.g.\n"
         "      of a killed run, is rebuilt from its interval logs)\n"
         "  capacity SCENARIO.yaml --slo 'p99 < 20ms' [--min-rate N] [--max-rate N] [--out DIR]\n"
         "      search for the highest rate at which every SLO holds; write DIR/capacity.json\n"
         "  run SCENARIO.yaml --local-workers N [--out DIR]\n"
         "  run SCENARIO.yaml --workers N --worker-index K --start-at UNIX_SECONDS [--out DIR]\n"
         "      one run split across N generator processes (here, or on N machines)\n"
         "  coordinate SCENARIO.yaml --workers N [--listen HOST:PORT] [--out DIR]\n"
         "  work --coordinator HOST:PORT [--worker-index K]\n"
         "      one run split across N worker processes on many machines, started together\n"
         "  merge RUN_DIR... [--out DIR]\n"
         "      merge the processes of a split run into the one run they make (exact: "
         "histograms\n"
         "      added bucket by bucket, gates judged on the merged data)\n"
         "  compare BASELINE CANDIDATE [--threshold 5%] [--out DIR]\n"
         "      compare results (files, lists or directories of repeated runs); exit 1 on a "
         "regression\n"
         "  help [COMMAND]\n"
         "      this help, or a command's (help run is run --help)\n\n"
         "options:\n"
         "  -h, --help     show this help\n"
         "  --version      print the version\n\n"
         "exit codes: 0 all gates passed (compare: no regression), 1 a gate failed (compare: a "
         "regression), 2 invalid input, 3 the run could not be carried out, 4 a process of a "
         "split run did not finish, 5 not every worker of a split run arrived\n";
}

using Command = int (*)(const std::vector<std::string>&);

// The subcommand called `name`; null when there is none.
Command FindCommand(const std::string& name) {
  if (name == "run") return RunCommand;
  if (name == "report") return ReportCommand;
  if (name == "compare") return CompareCommand;
  if (name == "capacity") return CapacityCommand;
  if (name == "merge") return MergeCommand;
  if (name == "coordinate") return CoordinateCommand;
  if (name == "work") return WorkCommand;
  return nullptr;
}

// `help` alone prints the overview; `help COMMAND` is `COMMAND --help`.
int HelpCommand(const std::vector<std::string>& args) {
  if (args.empty()) {
    PrintUsage(std::cout);
    return 0;
  }
  const Command command = FindCommand(args.front());
  if (command == nullptr || args.size() > 1) {
    return Fail(
        kExitUsage,
        absl::StrCat(
            "help ", absl::StrJoin(args, " "),
            ": expected one command: run, capacity, coordinate, work, merge, report or compare"));
  }
  return command({"--help"});
}

}  // namespace

int main(int argc, char** argv) {
  aurigraph::PrepareGrpcProcess();
  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.empty()) {
    PrintUsage(std::cerr);
    return kExitUsage;
  }
  const std::string name = args.front();
  const std::vector<std::string> rest(args.begin() + 1, args.end());
  if (name == "--help" || name == "-h") {
    PrintUsage(std::cout);
    return 0;
  }
  if (name == "--version") {
    std::cout << "aurigraph-loadgen " << aurigraph::kVersion << "\n";
    return 0;
  }
  const Command command = name == "help" ? HelpCommand : FindCommand(name);
  if (command == nullptr) {
    return Fail(kExitUsage, "unknown command '" + name + "' (see aurigraph-loadgen --help)");
  }
  // Inputs are checked where they are read and answered with a status; this is
  // the last resort for an exception that escapes anyway: one line, not an abort.
  try {
    return command(rest);
  } catch (const std::exception& e) {
    return Fail(kExitUsage, absl::StrCat(name, ": unexpected error: ", e.what()));
  }
}
