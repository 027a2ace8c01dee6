#include "loadgen/cli/run_execution.h"

#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <iostream>
#include <thread>

#include "common/host/host.h"
#include "common/metrics/process_metrics.h"
#include "common/units/units.h"
#include "loadgen/cli/cli_support.h"
#include "loadgen/hooks/aurigraph_hooks.h"
#include "loadgen/intervallog/interval_log.h"
#include "loadgen/metrics/metrics_export.h"
#include "loadgen/metrics/run_metrics.h"
#include "loadgen/progress/progress.h"
#include "loadgen/result/run_result.h"
#include "loadgen/servermetrics/server_metrics_hook.h"
#include "loadgen/summary/summary.h"
#include "loadgen/transport/grpc_transport_factory.h"

namespace po = boost::program_options;

namespace aurigraph::loadgen::cli {

po::options_description CommonRunFlags() {
  po::options_description flags("Scenario files and ad-hoc runs alike");
  flags.add_options()("help,h", "show this help")(
      "target", po::value<std::string>(), "HOST:PORT to load (overrides the scenario's target)")(
      "out", po::value<std::string>()->default_value("results"),
      "directory for result.json and the interval logs")(
      "set", po::value<std::vector<std::string>>()->composing(),
      "override a scenario key, e.g. --set duration=5s --set load.rate=500 (repeatable); in an "
      "ad-hoc run, the keys no flag sets: --set workers=4 --set load.arrival=poisson --set "
      "'gates=[\"p99 < 20ms\"]'")(
      "metrics-listen", po::value<std::string>(),
      "serve Prometheus metrics at http://HOST:PORT/metrics during the run (port 0: any)")(
      "push-gateway", po::value<std::string>(),
      "push metrics to a Prometheus Pushgateway (http://HOST:PORT) periodically and at the end")(
      "push-job", po::value<std::string>()->default_value("aurigraph-loadgen"),
      "Pushgateway job label")("push-instance", po::value<std::string>(),
                               "Pushgateway instance label (default: the host name)")(
      "push-interval", po::value<std::string>()->default_value("5s"), "time between pushes")(
      "metrics-linger", po::value<std::string>()->default_value("0s"),
      "keep serving metrics this long after the run, so a last scrape sees the final values")(
      "watch-pid", po::value<int>()->default_value(0),
      "the target's process to sample each interval (RSS, CPU, fds); 0: found by port when the "
      "target listens on this machine; -1: none")(
      "progress-interval", po::value<std::string>()->default_value("10s"),
      "time between progress lines when stderr is not a terminal")("no-progress",
                                                                   "no live progress on stderr");
  return flags;
}

std::vector<std::unique_ptr<RunHook>> PlugIn(const Scenario& scenario, const TransportFactory& wire,
                                             const std::string& events_dir,
                                             RunOptions& run_options) {
  // The bundled system's plug-ins call it over gRPC (HTTP scenarios refuse them).
  std::vector<std::unique_ptr<RunHook>> hooks;
  if (const auto* grpc = dynamic_cast<const GrpcTransportFactory*>(&wire)) {
    hooks = MakeAurigraphHooks(scenario, *grpc);
  }
  if (!scenario.server_metrics.scrape.empty()) {
    hooks.push_back(MakeServerMetricsHook(scenario.server_metrics));
  }
  for (const std::unique_ptr<RunHook>& hook : hooks) run_options.hooks.push_back(hook.get());
  run_options.events_dir = events_dir;
  run_options.find_leader = MakeAurigraphLeaderFinder(scenario.channel);
  return hooks;
}

int ExecuteRun(const Scenario& scenario, const po::variables_map& vm, RunOptions run_options,
               const std::vector<IntervalObserver*>& extra_observers) {
  const std::string out_dir = vm["out"].as<std::string>();
  if (auto failed = PrepareOutputDirectory(out_dir)) return *failed;

  if (vm.count("target")) run_options.target = vm["target"].as<std::string>();
  if (run_options.partition.count > 1 && !scenario.server_metrics.scrape.empty()) {
    return Fail(kExitUsage,
                "server_metrics: not in a split run (every process would scrape the same "
                "endpoints, and a merge would not add them up): run it in one process, or "
                "--set server_metrics=null");
  }
  run_options.stop = &StopRequested();
  // The wire, and what the bundled system adds to a run over gRPC.
  const auto target = ResolveTarget(scenario, run_options.target);
  if (!target.ok()) return Fail(kExitUsage, std::string(target.status().message()));
  const std::unique_ptr<TransportFactory> wire = MakeTransportFactory(scenario, *target);
  run_options.transport = wire.get();
  const std::vector<std::unique_ptr<RunHook>> hooks = PlugIn(scenario, *wire, out_dir, run_options);

  // Metrics are fed from the run's timeline, interval by interval.
  auto registry = std::make_shared<prometheus::Registry>();
  auto process = std::make_shared<aurigraph::metrics::ProcessMetrics>();
  RunMetrics run_metrics(*registry);
  std::unique_ptr<MetricsEndpoint> endpoint;
  std::unique_ptr<MetricsPusher> pusher;
  const auto linger = aurigraph::ParseDuration(vm["metrics-linger"].as<std::string>());
  if (!linger.ok() || *linger < 0) {
    return Fail(kExitUsage, "--metrics-linger: expected a duration such as 5s");
  }
  const int64_t linger_nanos = *linger;
  if (vm.count("metrics-listen")) {
    auto started = MetricsEndpoint::Start(vm["metrics-listen"].as<std::string>(), registry);
    if (!started.ok()) return Fail(kExitCannotRun, std::string(started.status().message()));
    endpoint = *std::move(started);
    endpoint->Add(process);
    std::cout << "metrics: http://"
              << vm["metrics-listen"].as<std::string>().substr(
                     0, vm["metrics-listen"].as<std::string>().rfind(':'))
              << ":" << endpoint->port() << "/metrics" << std::endl;
  }
  if (vm.count("push-gateway")) {
    auto interval = aurigraph::ParseDuration(vm["push-interval"].as<std::string>());
    if (!interval.ok() || *interval < 100'000'000) {
      return Fail(kExitUsage, "--push-interval: expected a duration of at least 100ms");
    }
    auto created = MetricsPusher::Create(
        vm["push-gateway"].as<std::string>(), vm["push-job"].as<std::string>(),
        vm.count("push-instance") ? vm["push-instance"].as<std::string>() : aurigraph::HostName());
    if (!created.ok()) return Fail(kExitUsage, std::string(created.status().message()));
    pusher = *std::move(created);
    pusher->Add(registry);
    pusher->Add(process);
    pusher->StartPeriodic(std::chrono::milliseconds(*interval / 1'000'000));
  }
  if (endpoint || pusher) run_options.interval_observers.push_back(&run_metrics);
  run_options.watch_pid = vm["watch-pid"].as<int>();

  // Interval logs go beside result.json and survive a kill.
  auto interval_log = IntervalLogWriter::Create(out_dir);
  if (!interval_log.ok()) return Fail(kExitCannotRun, std::string(interval_log.status().message()));
  run_options.interval_observers.push_back(interval_log->get());
  for (IntervalObserver* observer : extra_observers)
    run_options.interval_observers.push_back(observer);
  auto progress_every = aurigraph::ParseDuration(vm["progress-interval"].as<std::string>());
  if (!progress_every.ok() || *progress_every <= 0) {
    return Fail(kExitUsage, "--progress-interval: expected a duration such as 10s");
  }
  ProgressPrinter progress(std::cerr, isatty(STDERR_FILENO) != 0,
                           static_cast<double>(*progress_every) / 1e9);
  if (!vm.count("no-progress")) run_options.interval_observers.push_back(&progress);

  StopOnSignals();
  auto result = RunScenario(scenario, run_options);
  progress.Finish();
  if (pusher && result.ok()) {
    // A failed push loses nothing: the result is still written below.
    if (auto pushed = pusher->Finish(); !pushed.ok()) {
      std::cerr << "aurigraph-loadgen: warning: " << pushed.message() << "\n";
    }
  }
  if (!result.ok()) {
    const auto code = result.status().code();
    const bool bad_input =
        code == absl::StatusCode::kInvalidArgument || code == absl::StatusCode::kNotFound;
    const int exit_code = bad_input                                     ? kExitUsage
                          : code == absl::StatusCode::kDeadlineExceeded ? kExitBarrierTimeout
                                                                        : kExitCannotRun;
    return Fail(exit_code, std::string(result.status().message()));
  }
  const std::string path = (std::filesystem::path(out_dir) / "result.json").string();
  std::cout << FormatSummary(*result);
  if (auto written = WriteResultFile(*result, path); !written.ok()) {
    return Fail(kExitCannotRun, std::string(written.message()));
  }
  std::cout << "result: " << path << "\n";
  if (endpoint) {
    std::cout << std::flush;
    std::this_thread::sleep_for(std::chrono::nanoseconds(linger_nanos));
  }
  return result->passed() ? 0 : kExitGateFailed;
}

}  // namespace aurigraph::loadgen::cli
