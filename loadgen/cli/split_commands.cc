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

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/clock/clock.h"
#include "common/units/units.h"
#include "common/version/version.h"
#include "loadgen/cli/cli_support.h"
#include "loadgen/cli/run_execution.h"
#include "loadgen/coordinate/coordinator.h"
#include "loadgen/coordinate/worker_session.h"
#include "loadgen/intervallog/interval_log.h"
#include "loadgen/merge/merge_runs.h"
#include "loadgen/result/run_description.h"
#include "loadgen/result/run_result.h"
#include "loadgen/scenario/scenario.h"
#include "loadgen/summary/summary.h"

extern char** environ;

namespace po = boost::program_options;

namespace aurigraph::loadgen::cli {
namespace {

constexpr int kMaxLocalWorkers = 256;
// --local-workers: the processes start on this machine within seconds of each other.
constexpr int64_t kLocalBarrierTimeout = 120'000'000'000;
constexpr int64_t kLocalStartDelay = 1'000'000'000;
constexpr int64_t kLocalMaxClockUncertainty = 5'000'000;
constexpr int64_t kSecond = 1'000'000'000;
// A start further ahead than this is a mistake, not a plan.
constexpr int64_t kMaxStartAhead = 24 * 3600 * kSecond;

// The process's share: --worker-index, else JOB_COMPLETION_INDEX (a Kubernetes
// Indexed Job's), else -1; the exit code when it is not an index.
std::optional<int> ReadWorkerIndex(const po::variables_map& vm, int* index) {
  *index = -1;
  if (vm.count("worker-index")) {
    *index = vm["worker-index"].as<int>();
    if (*index < 0) return Fail(kExitUsage, "--worker-index: expected 0 or more");
  } else if (const char* job_index = std::getenv("JOB_COMPLETION_INDEX")) {
    if (!absl::SimpleAtoi(job_index, index) || *index < 0) {
      return Fail(kExitUsage, absl::StrCat("JOB_COMPLETION_INDEX: not an index: '",
                                           std::string(job_index).substr(0, 40), "'"));
    }
  }
  return std::nullopt;
}

// ${run} of a coordinated run, handed to every worker.
std::string NewRunId() {
  return absl::StrFormat(
      "%016x", static_cast<uint64_t>(WallClock::Instance().NowNanos()) * 0x9E3779B97F4A7C15ULL);
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

// What cannot be split yet: each process would register its own webhook, and
// the sink's deliveries are not merged.
std::optional<int> RefuseUnsplittable(const Scenario& scenario) {
  if (!scenario.webhook_sink.enabled) return std::nullopt;
  return Fail(kExitUsage,
              "a scenario with webhook_sink: cannot be split across processes yet (each would "
              "register its own webhook); run it in one process");
}

// The coordinator's line for each interval every live worker has sent.
void PrintProgress(const Coordinator& coordinator, int workers, const IntervalProgress& p) {
  int live = 0;
  for (const WorkerStatus& w : coordinator.workers()) live += w.lost ? 0 : 1;
  std::cout << absl::StrFormat(
                   "coordinator: %7.1fs  %9.1f/s  p99 %s  errors %d  workers %d/%d live",
                   p.offset_seconds + p.seconds,
                   p.seconds > 0 ? static_cast<double>(p.completed) / p.seconds : 0,
                   p.p99_us >= 0 ? FormatDuration(p.p99_us * 1000) : "-", p.errors, live, workers)
            << std::endl;
}

// What the coordinator knows of each worker, added to the merged result: its
// clock, and where it stopped when it was lost; a clock known too loosely
// makes the run invalid.
void AttachWorkerStatus(const std::vector<WorkerStatus>& statuses, int64_t max_uncertainty_nanos,
                        RunResult& merged) {
  for (const WorkerStatus& w : statuses) {
    if (w.lost) {
      std::cerr << "aurigraph-loadgen: worker " << w.index << " (" << w.host
                << ") stopped sending after " << absl::StrFormat("%.1fs", w.logged_seconds)
                << " of the run\n";
    }
  }
  for (GeneratorProcess& w : merged.workers) {
    const WorkerStatus& status = statuses[static_cast<size_t>(w.index)];
    w.clock_offset_us = status.clock_offset_nanos / 1000;
    w.clock_uncertainty_us = status.clock_round_trip_nanos / 2000;
    if (status.lost && w.stopped_at_seconds < 0) w.stopped_at_seconds = status.logged_seconds;
    if (status.clock_round_trip_nanos / 2 > max_uncertainty_nanos && merged.generator.kept_up) {
      merged.generator.kept_up = false;
      merged.generator.verdict = absl::StrCat(
          "worker ", w.index, "'s clock is known only to within ",
          FormatDuration(status.clock_round_trip_nanos / 2), " (bound ",
          FormatDuration(max_uncertainty_nanos), "): the workers' starts may be that far apart");
    }
  }
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
    // Every process given this start shares ${run}.
    options->run_id = absl::StrFormat(
        "%016x", static_cast<uint64_t>(options->start_unix_nanos) * 0x9E3779B97F4A7C15ULL);
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
  if (auto invalid = ReadWorkerIndex(vm, &index)) return *invalid;
  if (index == -1) {
    if (workers > 1) {
      return Fail(kExitUsage, "--workers: needs --worker-index K (or JOB_COMPLETION_INDEX)");
    }
    index = 0;
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

int RunLocalWorkers(const Scenario& scenario, const po::variables_map& vm) {
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
  if (auto refused = RefuseUnsplittable(scenario)) return *refused;
  auto target = ResolveTarget(scenario, vm.count("target") ? vm["target"].as<std::string>() : "");
  if (!target.ok()) return Fail(kExitUsage, std::string(target.status().message()));
  const std::string out_dir = vm["out"].as<std::string>();
  if (auto failed = PrepareOutputDirectory(out_dir)) return *failed;
  std::error_code ec;
  const std::string exe = std::filesystem::read_symlink("/proc/self/exe", ec).string();
  if (ec) return Fail(kExitCannotRun, "cannot find this program's path: " + ec.message());

  // A coordinator here, and N worker processes that join it over loopback.
  CoordinatorOptions coordinator_options;
  coordinator_options.listen = "127.0.0.1:0";
  coordinator_options.workers = workers;
  coordinator_options.scenario_json = scenario.effective_json;
  coordinator_options.target = *target;
  coordinator_options.run_id = NewRunId();
  coordinator_options.tool_version = kVersion;
  coordinator_options.out_dir = out_dir;
  coordinator_options.barrier_timeout_nanos = kLocalBarrierTimeout;
  coordinator_options.start_delay_nanos = kLocalStartDelay;
  auto coordinator = Coordinator::Start(coordinator_options);
  if (!coordinator.ok()) return Fail(kExitCannotRun, std::string(coordinator.status().message()));
  const std::string address = absl::StrCat("127.0.0.1:", (*coordinator)->port());

  std::vector<pid_t> pids(workers, -1);
  std::vector<std::string> logs;
  for (int k = 0; k < workers; ++k) {
    // The coordinator keeps the worker's logs in worker-K; the process its own copy below it.
    const std::string dir =
        (std::filesystem::path(out_dir) / absl::StrCat("worker-", k) / "process").string();
    if (auto failed = PrepareOutputDirectory(dir)) return *failed;
    logs.push_back((std::filesystem::path(dir) / "loadgen.log").string());
    std::vector<std::string> args = {
        exe,     "work", "--coordinator", address, "--worker-index", std::to_string(k),
        "--out", dir,    "--no-progress"};
    if (vm.count("watch-pid") && !vm["watch-pid"].defaulted()) {
      args.push_back("--watch-pid");
      args.push_back(std::to_string(vm["watch-pid"].as<int>()));
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

  // The processes are watched from here: one that exits before the start ends
  // the wait for it; Ctrl-C reaches them with this process, and a SIGTERM to
  // this one alone is passed on.
  StopOnSignals();
  std::vector<int> exit_codes(workers, -1);
  std::atomic<bool> failed_before_start{false};
  std::atomic<bool> started{false};
  std::thread watcher([&] {
    bool passed_on = false;
    for (int running = workers; running > 0;) {
      for (int k = 0; k < workers; ++k) {
        int status = 0;
        if (exit_codes[k] != -1 || waitpid(pids[k], &status, WNOHANG) != pids[k]) continue;
        exit_codes[k] = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        if (exit_codes[k] != 0 && !started.load()) failed_before_start.store(true);
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
  });
  std::atomic<bool> abort_start{false};
  std::thread aborter([&] {
    while (!started.load() && !abort_start.load()) {
      if (failed_before_start.load() || StopRequested().load()) abort_start.store(true);
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  });
  auto start = (*coordinator)->AwaitStart(abort_start);
  started.store(true);
  aborter.join();
  if (!start.ok()) {
    for (int k = 0; k < workers; ++k) kill(pids[k], SIGTERM);
    watcher.join();
    // A process that refused the scenario or could not connect says why.
    for (int k = 0; k < workers; ++k) {
      if (exit_codes[k] != 0 && exit_codes[k] != 128 + SIGTERM) {
        return Fail(exit_codes[k] == kExitUsage ? kExitUsage : kExitCannotRun,
                    absl::StrCat("process ", k, ": ", LastLine(logs[k])));
      }
    }
    return Fail(absl::IsDeadlineExceeded(start.status()) ? kExitBarrierTimeout : kExitCannotRun,
                std::string(start.status().message()));
  }
  std::cerr << "aurigraph-loadgen: " << workers << " processes start at " << FormatUnixTime(*start)
            << "; each in " << out_dir << "/worker-K\n";
  const std::atomic<bool> never{false};
  (*coordinator)->AwaitEnd(never, [&](const IntervalProgress& p) {
    if (!vm.count("no-progress")) PrintProgress(**coordinator, workers, p);
  });
  watcher.join();
  for (int k = 0; k < workers; ++k) {
    const int code = exit_codes[k];
    if (code != 0) {
      std::cerr << "aurigraph-loadgen: process " << k << " exited with code " << code << ": "
                << LastLine(logs[k]) << "\n";
    }
  }
  auto merged = MergeRuns((*coordinator)->worker_dirs(), out_dir);
  if (!merged.ok()) {
    return Fail(kExitCannotRun, absl::StrCat("merge: ", merged.status().message()));
  }
  AttachWorkerStatus((*coordinator)->workers(), kLocalMaxClockUncertainty, *merged);
  return FinishMerged(*merged, out_dir);
}

int CoordinateCommand(const std::vector<std::string>& args) {
  po::options_description options(
      "aurigraph-loadgen coordinate SCENARIO.yaml --workers N [--listen HOST:PORT] [options]\n"
      "  holds one run split across N worker processes (aurigraph-loadgen work --coordinator "
      "HOST:PORT on each machine): waits for all of them, starts them together, gathers their "
      "interval logs as they go (--out/worker-K) and merges them into --out.\n"
      "  exit codes: 0 every gate passed on the merged run, 1 a gate failed (or a worker could "
      "not keep up), 2 invalid input, 3 cannot run, 4 a worker did not finish, 5 not every "
      "worker arrived");
  options.add_options()("help,h", "show this help")(
      "workers", po::value<int>(), "how many worker processes the run is split across")(
      "listen", po::value<std::string>()->default_value("0.0.0.0:7070"),
      "HOST:PORT the workers reach this coordinator at (port 0: any)")(
      "out", po::value<std::string>()->default_value("results"),
      "directory for the merged result.json and logs, and each worker's (worker-K)")(
      "target", po::value<std::string>(),
      "HOST:PORT the workers load (overrides the scenario's), as they reach it")(
      "set", po::value<std::vector<std::string>>()->composing(),
      "override a scenario key, as for run (repeatable)")(
      "barrier-timeout", po::value<std::string>()->default_value("5m"),
      "how long to wait for every worker to be ready")(
      "start-delay", po::value<std::string>()->default_value("3s"),
      "from the last worker ready to the start")(
      "max-clock-uncertainty", po::value<std::string>()->default_value("5ms"),
      "a run whose workers' clocks are known less well than this (half the fastest round trip "
      "to the coordinator) is invalid: their starts may be that far apart");
  po::options_description hidden;
  hidden.add_options()("scenario", po::value<std::string>());
  po::positional_options_description positional;
  positional.add("scenario", 1);
  po::variables_map vm;
  if (auto done = ParseOptions(args, options, positional, hidden, "coordinate", &vm)) return *done;
  if (auto invalid = CheckUtf8Flags(vm)) return *invalid;
  if (!vm.count("scenario")) return Fail(kExitUsage, "coordinate: expected SCENARIO.yaml");
  if (!vm.count("workers")) return Fail(kExitUsage, "coordinate: --workers N is required");
  const int workers = vm["workers"].as<int>();
  if (workers < 1 || workers > kMaxPartitions) {
    return Fail(kExitUsage, absl::StrCat("--workers: expected 1 to ", kMaxPartitions));
  }
  const auto duration = [&](const char* flag) -> absl::StatusOr<int64_t> {
    auto nanos = ParseDuration(vm[flag].as<std::string>());
    if (!nanos.ok() || *nanos < 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("--", flag, ": expected a duration such as 30s"));
    }
    return nanos;
  };
  auto barrier_timeout = duration("barrier-timeout");
  auto start_delay = duration("start-delay");
  auto max_uncertainty = duration("max-clock-uncertainty");
  for (const auto* parsed : {&barrier_timeout, &start_delay, &max_uncertainty}) {
    if (!parsed->ok()) return Fail(kExitUsage, std::string(parsed->status().message()));
  }
  const std::vector<std::string> overrides =
      vm.count("set") ? vm["set"].as<std::vector<std::string>>() : std::vector<std::string>{};
  auto scenario = LoadScenarioFile(vm["scenario"].as<std::string>(), overrides);
  if (!scenario.ok()) return Fail(kExitUsage, std::string(scenario.status().message()));
  if (auto refused = RefuseUnsplittable(*scenario)) return *refused;
  auto target = ResolveTarget(*scenario, vm.count("target") ? vm["target"].as<std::string>() : "");
  if (!target.ok()) return Fail(kExitUsage, std::string(target.status().message()));
  const std::string out_dir = vm["out"].as<std::string>();
  if (auto failed = PrepareOutputDirectory(out_dir)) return *failed;

  CoordinatorOptions coordinator_options;
  coordinator_options.listen = vm["listen"].as<std::string>();
  coordinator_options.workers = workers;
  coordinator_options.scenario_json = scenario->effective_json;
  coordinator_options.target = *target;
  coordinator_options.run_id = NewRunId();
  coordinator_options.tool_version = kVersion;
  coordinator_options.out_dir = out_dir;
  coordinator_options.barrier_timeout_nanos = *barrier_timeout;
  coordinator_options.start_delay_nanos = *start_delay;
  auto coordinator = Coordinator::Start(coordinator_options);
  if (!coordinator.ok()) return Fail(kExitCannotRun, std::string(coordinator.status().message()));
  const std::string listen = coordinator_options.listen;
  std::cout << "coordinator: listening on " << listen.substr(0, listen.rfind(':')) << ":"
            << (*coordinator)->port() << " for " << workers << " workers" << std::endl;

  StopOnSignals();
  auto start = (*coordinator)->AwaitStart(StopRequested());
  if (!start.ok()) {
    const bool timed_out = absl::IsDeadlineExceeded(start.status());
    return Fail(timed_out ? kExitBarrierTimeout : kExitCannotRun,
                absl::StrCat("coordinate: ", start.status().message()));
  }
  std::cout << "coordinator: every worker is ready; the run starts at " << FormatUnixTime(*start)
            << std::endl;
  (*coordinator)->AwaitEnd(StopRequested(), [&](const IntervalProgress& p) {
    PrintProgress(**coordinator, workers, p);
  });
  auto merged = MergeRuns((*coordinator)->worker_dirs(), out_dir);
  if (!merged.ok()) {
    return Fail(kExitCannotRun, absl::StrCat("merge: ", merged.status().message()));
  }
  AttachWorkerStatus((*coordinator)->workers(), *max_uncertainty, *merged);
  return FinishMerged(*merged, out_dir);
}

int WorkCommand(const std::vector<std::string>& args) {
  po::options_description options(
      "aurigraph-loadgen work --coordinator HOST:PORT [--worker-index K] [--out DIR] [options]\n"
      "  one worker of a run held by `aurigraph-loadgen coordinate`: takes the scenario and its "
      "share from it, starts with the others and sends it its interval logs as it goes (and "
      "keeps its own in --out).\n"
      "  exit codes: 0 it ran its share (the run's verdict is the coordinator's), 2 invalid "
      "input, 3 cannot run (the coordinator or the target unreachable), 5 not every worker "
      "arrived at the start");
  options.add(CommonRunFlags());
  options.add_options()("coordinator", po::value<std::string>(), "HOST:PORT of the coordinator")(
      "worker-index", po::value<int>(),
      "this worker's share, 0 to N-1 (default: $JOB_COMPLETION_INDEX, else any free one)")(
      "join-timeout", po::value<std::string>()->default_value("2m"),
      "how long to try to reach the coordinator");
  po::options_description hidden;
  po::positional_options_description positional;
  po::variables_map vm;
  if (auto done = ParseOptions(args, options, positional, hidden, "work", &vm)) return *done;
  if (auto invalid = CheckUtf8Flags(vm)) return *invalid;
  if (!vm.count("coordinator"))
    return Fail(kExitUsage, "work: --coordinator HOST:PORT is required");
  for (const char* flag : {"set", "target"}) {
    if (vm.count(flag)) {
      return Fail(kExitUsage, absl::StrCat("work: --", flag,
                                           " is the coordinator's: the scenario and its target "
                                           "come from it (give --",
                                           flag, " to coordinate)"));
    }
  }
  StopOnSignals();
  int index = -1;
  if (auto invalid = ReadWorkerIndex(vm, &index)) return *invalid;
  auto join_timeout = ParseDuration(vm["join-timeout"].as<std::string>());
  if (!join_timeout.ok() || *join_timeout <= 0) {
    return Fail(kExitUsage, "--join-timeout: expected a duration such as 2m");
  }
  auto session = WorkerSession::Join(vm["coordinator"].as<std::string>(), index, kVersion,
                                     *join_timeout, StopRequested());
  if (!session.ok()) {
    const bool unreachable = absl::IsUnavailable(session.status());
    return Fail(unreachable ? kExitCannotRun : kExitUsage, std::string(session.status().message()));
  }
  const JoinedRun& run = (*session)->run();
  auto scenario = ParseScenario(run.scenario_json, "the coordinator's scenario", {});
  if (!scenario.ok()) return Fail(kExitUsage, std::string(scenario.status().message()));
  RunOptions run_options;
  run_options.target = run.target;
  run_options.partition = Partition{run.worker_index, run.worker_count};
  run_options.run_id = run.run_id;
  WorkerSession* joined = session->get();
  run_options.await_start = [joined] { return joined->AwaitStart(StopRequested()); };
  std::cerr << "aurigraph-loadgen: worker " << run.worker_index << " of " << run.worker_count
            << ", loading " << run.target << "\n";
  // A worker's own gates judge only its share: the run's verdict is the
  // coordinator's, on the merged data, so a worker that ran is a success.
  const int code = ExecuteRun(*scenario, vm, std::move(run_options), {joined});
  return code == kExitGateFailed ? 0 : code;
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
