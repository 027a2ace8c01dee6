#include "loadgen/cli/split_commands.h"

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/clock/clock.h"
#include "loadgen/cli/cli_support.h"
#include "loadgen/intervallog/interval_log.h"
#include "loadgen/merge/merge_runs.h"
#include "loadgen/result/run_description.h"
#include "loadgen/result/run_result.h"
#include "loadgen/summary/summary.h"

extern char** environ;

namespace po = boost::program_options;

namespace aurigraph::loadgen::cli {
namespace {

constexpr int kMaxLocalWorkers = 256;
constexpr int64_t kSecond = 1'000'000'000;
// A start further ahead than this is a mistake, not a plan.
constexpr int64_t kMaxStartAhead = 24 * 3600 * kSecond;

// `args` without --NAME VALUE and --NAME=VALUE.
std::vector<std::string> WithoutOption(const std::vector<std::string>& args,
                                       const std::string& name) {
  const std::string flag = "--" + name;
  std::vector<std::string> kept;
  for (size_t i = 0; i < args.size(); ++i) {
    if (args[i] == flag) {
      ++i;  // and its value
      continue;
    }
    if (absl::StartsWith(args[i], flag + "=")) continue;
    kept.push_back(args[i]);
  }
  return kept;
}

// The last line of `path`, for a process's error; "" when there is none.
std::string LastLine(const std::string& path) {
  std::ifstream in(path);
  std::string line, last;
  while (std::getline(in, line)) {
    if (!line.empty()) last = line;
  }
  return last;
}

// Writes the merged result beside its logs, prints its summary; the exit code.
int FinishMerged(const RunResult& result, const std::string& out_dir) {
  const std::string path = (std::filesystem::path(out_dir) / "result.json").string();
  std::cout << FormatSummary(result);
  if (auto written = WriteResultFile(result, path); !written.ok()) {
    return Fail(kExitCannotRun, std::string(written.message()));
  }
  std::cout << "result: " << path << "\n";
  if (!result.complete()) return kExitIncomplete;
  return result.passed() ? 0 : kExitGateFailed;
}

// Run directories named by `specs`: each one itself, or, when it holds no
// interval log, its subdirectories that do (a --local-workers output, a
// volume of every process's results).
absl::StatusOr<std::vector<std::string>> RunDirectories(const std::vector<std::string>& specs) {
  std::vector<std::string> dirs;
  for (const std::string& spec : specs) {
    std::error_code ec;
    if (!std::filesystem::is_directory(spec, ec)) {
      return absl::InvalidArgumentError(absl::StrCat(spec, ": not a run directory"));
    }
    if (std::filesystem::exists(std::filesystem::path(spec) / kIntervalsLogName, ec)) {
      dirs.push_back(spec);
      continue;
    }
    std::vector<std::string> inside;
    for (const auto& entry : std::filesystem::directory_iterator(spec, ec)) {
      if (entry.is_directory() && std::filesystem::exists(entry.path() / kIntervalsLogName, ec)) {
        inside.push_back(entry.path().string());
      }
    }
    if (inside.empty()) {
      return absl::InvalidArgumentError(absl::StrCat(
          spec, ": holds no interval log (", kIntervalsLogName, "), nor do its subdirectories"));
    }
    std::sort(inside.begin(), inside.end());
    dirs.insert(dirs.end(), inside.begin(), inside.end());
  }
  return dirs;
}

// Whether `out_dir` is one of `dirs` (merging into it would overwrite its logs).
bool IsOneOf(const std::string& out_dir, const std::vector<std::string>& dirs) {
  for (const std::string& dir : dirs) {
    std::error_code ec;
    if (std::filesystem::equivalent(out_dir, dir, ec)) return true;
  }
  return false;
}

}  // namespace

po::options_description SplitRunFlags() {
  po::options_description flags("A run split across generator processes");
  flags.add_options()(
      "workers", po::value<int>(),
      "split the run across this many generator processes, each started with the same "
      "scenario, --set overrides and --start-at (the scenario's 'workers' are each process's "
      "threads); merge their run directories with 'merge'")(
      "worker-index", po::value<int>(),
      "this process's share of the split run, 0 to N-1 (default: $JOB_COMPLETION_INDEX, as a "
      "Kubernetes Indexed Job sets it)")(
      "start-at", po::value<std::string>(),
      "when the run starts, Unix time in seconds (e.g. 1764500000.5); a split run needs it, the "
      "same for every process")("local-workers", po::value<int>(),
                                "run as this many processes on this machine, started together, "
                                "each in --out/worker-K, then merged into --out");
  return flags;
}

std::optional<int> ReadSplitFlags(const po::variables_map& vm, RunOptions* options) {
  if (vm.count("start-at")) {
    const std::string text = vm["start-at"].as<std::string>();
    double seconds = 0;
    if (!absl::SimpleAtod(text, &seconds) || !(seconds > 0) || seconds > 4e9) {
      return Fail(kExitUsage, "--start-at: expected Unix time in seconds, e.g. 1764500000.5");
    }
    options->start_unix_nanos = std::llround(seconds * 1e9);
    const int64_t ahead = options->start_unix_nanos - WallClock::Instance().NowNanos();
    if (ahead > kMaxStartAhead) {
      return Fail(kExitUsage, absl::StrFormat("--start-at: %.0f hours ahead; expected within a day",
                                              static_cast<double>(ahead) / 3600e9));
    }
  }
  if (!vm.count("workers")) {
    if (vm.count("worker-index")) return Fail(kExitUsage, "--worker-index: needs --workers N");
    return std::nullopt;
  }
  const int workers = vm["workers"].as<int>();
  if (workers < 1 || workers > kMaxPartitions) {
    return Fail(kExitUsage, absl::StrCat("--workers: expected 1 to ", kMaxPartitions));
  }
  int index = 0;
  if (vm.count("worker-index")) {
    index = vm["worker-index"].as<int>();
  } else if (const char* job_index = std::getenv("JOB_COMPLETION_INDEX")) {
    if (!absl::SimpleAtoi(job_index, &index)) {
      return Fail(kExitUsage, absl::StrCat("JOB_COMPLETION_INDEX: not a number: '",
                                           std::string(job_index).substr(0, 40), "'"));
    }
  } else if (workers > 1) {
    return Fail(kExitUsage, "--workers: needs --worker-index K (or JOB_COMPLETION_INDEX)");
  }
  if (index < 0 || index >= workers) {
    return Fail(kExitUsage,
                absl::StrCat("--worker-index: ", index, " is not within 0 to ", workers - 1));
  }
  if (workers > 1 && options->start_unix_nanos == 0) {
    return Fail(kExitUsage,
                "--workers: a split run needs --start-at, the same for every process, so that "
                "its schedule and intervals line up");
  }
  options->partition = Partition{index, workers};
  return std::nullopt;
}

int RunLocalWorkers(const std::vector<std::string>& run_args, const po::variables_map& vm) {
  const int workers = vm["local-workers"].as<int>();
  if (workers < 1 || workers > kMaxLocalWorkers) {
    return Fail(kExitUsage, absl::StrCat("--local-workers: expected 1 to ", kMaxLocalWorkers));
  }
  for (const char* flag :
       {"workers", "worker-index", "start-at", "metrics-listen", "push-gateway"}) {
    if (vm.count(flag)) {
      return Fail(kExitUsage, absl::StrCat("--local-workers: not with --", flag,
                                           " (each process is started with its own)"));
    }
  }
  const std::string out_dir = vm["out"].as<std::string>();
  if (auto failed = PrepareOutputDirectory(out_dir)) return *failed;
  std::error_code ec;
  const std::string exe = std::filesystem::read_symlink("/proc/self/exe", ec).string();
  if (ec) return Fail(kExitCannotRun, "cannot find this program's path: " + ec.message());

  // Every process connects and plans before the start; this leaves them time
  // on a loaded machine.
  const int64_t start = WallClock::Instance().NowNanos() + 2 * kSecond + workers * (kSecond / 4);
  const std::string start_at = absl::StrFormat("%.6f", static_cast<double>(start) / 1e9);
  std::vector<std::string> shared = run_args;
  for (const char* flag : {"local-workers", "out"}) shared = WithoutOption(shared, flag);

  std::vector<pid_t> pids(workers, -1);
  std::vector<std::string> dirs, logs;
  for (int k = 0; k < workers; ++k) {
    const std::string dir = (std::filesystem::path(out_dir) / absl::StrCat("worker-", k)).string();
    if (auto failed = PrepareOutputDirectory(dir)) return *failed;
    dirs.push_back(dir);
    logs.push_back((std::filesystem::path(dir) / "loadgen.log").string());
    std::vector<std::string> args = {exe, "run"};
    args.insert(args.end(), shared.begin(), shared.end());
    for (const std::string& extra :
         {std::string("--workers"), std::to_string(workers), std::string("--worker-index"),
          std::to_string(k), std::string("--start-at"), start_at, std::string("--out"), dir,
          std::string("--no-progress")}) {
      args.push_back(extra);
    }
    std::vector<char*> argv;
    for (std::string& arg : args) argv.push_back(arg.data());
    argv.push_back(nullptr);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, logs.back().c_str(),
                                     O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_adddup2(&actions, STDOUT_FILENO, STDERR_FILENO);
    const int spawned = posix_spawn(&pids[k], exe.c_str(), &actions, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    if (spawned != 0) {
      for (int started = 0; started < k; ++started) kill(pids[started], SIGTERM);
      return Fail(kExitCannotRun,
                  absl::StrCat("cannot start process ", k, ": ", strerror(spawned)));
    }
  }
  std::cerr << "aurigraph-loadgen: " << workers << " processes start at " << start_at
            << "; each writes " << dirs.front() << "... (its output in loadgen.log there)\n";

  // Ctrl-C reaches the processes with this one; a SIGTERM to this one alone is passed on.
  StopOnSignals();
  std::vector<int> exit_codes(workers, -1);
  bool passed_on = false;
  for (int running = workers; running > 0;) {
    for (int k = 0; k < workers; ++k) {
      if (exit_codes[k] != -1) continue;
      int status = 0;
      if (waitpid(pids[k], &status, WNOHANG) != pids[k]) continue;
      exit_codes[k] = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      --running;
    }
    if (StopRequested().load() && !passed_on) {
      for (int k = 0; k < workers; ++k) {
        if (exit_codes[k] == -1) kill(pids[k], SIGTERM);
      }
      passed_on = true;
    }
    if (running > 0) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }

  // A process refused its input: every one did (they share it); nothing ran.
  for (int k = 0; k < workers; ++k) {
    if (exit_codes[k] == kExitUsage) {
      return Fail(kExitUsage, absl::StrCat("process ", k, ": ", LastLine(logs[k])));
    }
  }
  for (int k = 0; k < workers; ++k) {
    const int code = exit_codes[k];
    if (code != 0 && code != kExitGateFailed) {
      std::cerr << "aurigraph-loadgen: process " << k << " exited with code " << code << ": "
                << LastLine(logs[k]) << "\n";
    }
  }
  auto merged = MergeRuns(dirs, out_dir);
  if (!merged.ok()) {
    return Fail(kExitCannotRun, absl::StrCat("merge: ", merged.status().message()));
  }
  return FinishMerged(*merged, out_dir);
}

int MergeCommand(const std::vector<std::string>& args) {
  po::options_description options(
      "aurigraph-loadgen merge RUN_DIR... [--out DIR]\n"
      "  merges the run directories of the processes one run was split across (run --workers N "
      "--worker-index K); a directory without an interval log stands for its subdirectories "
      "that have one.\n"
      "  exit codes: 0 every gate passed on the merged run, 1 a gate failed (or a process could "
      "not keep up), 2 invalid input, 3 cannot write, 4 a process did not finish");
  options.add_options()("help,h", "show this help")(
      "out", po::value<std::string>()->default_value("merged"),
      "directory for the merged result.json and interval logs");
  po::options_description hidden;
  hidden.add_options()("runs", po::value<std::vector<std::string>>());
  po::positional_options_description positional;
  positional.add("runs", -1);
  po::variables_map vm;
  if (auto done = ParseOptions(args, options, positional, hidden, "merge", &vm)) return *done;
  if (!vm.count("runs")) return Fail(kExitUsage, "merge: expected the processes' RUN_DIRs");
  auto dirs = RunDirectories(vm["runs"].as<std::vector<std::string>>());
  if (!dirs.ok()) return Fail(kExitUsage, std::string(dirs.status().message()));
  const std::string out_dir = vm["out"].as<std::string>();
  if (auto failed = PrepareOutputDirectory(out_dir)) return *failed;
  if (IsOneOf(out_dir, *dirs)) {
    return Fail(kExitUsage, absl::StrCat("merge: --out ", out_dir,
                                         " is one of the runs merged; give another directory"));
  }
  auto merged = MergeRuns(*dirs, out_dir);
  if (!merged.ok()) {
    const bool cannot_write = merged.status().code() == absl::StatusCode::kPermissionDenied;
    return Fail(cannot_write ? kExitCannotRun : kExitUsage, std::string(merged.status().message()));
  }
  return FinishMerged(*merged, out_dir);
}

}  // namespace aurigraph::loadgen::cli
