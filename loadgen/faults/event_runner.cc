#include "loadgen/faults/event_runner.h"

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <filesystem>
#include <set>
#include <system_error>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/time.h"

extern char** environ;

namespace aurigraph::loadgen {
namespace {

constexpr size_t kMaxOutputBytes = 4096;
// Short enough that Stop() ends the wait promptly and a ManualClock moved by a
// test is noticed, long enough to cost nothing.
constexpr int64_t kWaitStepNanos = 10'000'000;
constexpr auto kPollStep = std::chrono::milliseconds(1);

std::string ErrnoText(int error) {
  return std::error_code(error, std::generic_category()).message();
}

std::string Duration(int64_t nanos) { return absl::FormatDuration(absl::Nanoseconds(nanos)); }

bool WellFormedName(const std::string& name) {
  return std::all_of(name.begin(), name.end(),
                     [](char c) { return absl::ascii_isalnum(c) || c == '-' || c == '_'; });
}

EventOutcome Planned(const FaultEvent& event) {
  EventOutcome outcome;
  outcome.name = event.name;
  outcome.at_nanos = event.at_nanos;
  return outcome;
}

std::vector<FaultEvent> InTimeOrder(std::vector<FaultEvent> events) {
  std::stable_sort(events.begin(), events.end(), [](const FaultEvent& a, const FaultEvent& b) {
    return a.at_nanos < b.at_nanos;
  });
  return events;
}

// The inherited environment with `extra` added (replacing variables of the same name).
std::vector<std::string> Environment(const std::map<std::string, std::string>& extra) {
  std::vector<std::string> env;
  for (char** entry = environ; *entry != nullptr; ++entry) {
    const std::string_view text(*entry);
    if (!extra.contains(std::string(text.substr(0, text.find('='))))) env.emplace_back(text);
  }
  for (const auto& [name, value] : extra) env.push_back(absl::StrCat(name, "=", value));
  return env;
}

struct Exit {
  int status = 0;  // waitpid's
  bool timed_out = false;
  int wait_error = 0;  // errno of a failed waitpid
};

// Waits for `pid` until `timeout_nanos` of real time have passed, then kills its
// process group. Polled: events are few, and this keeps the runner to one thread.
Exit WaitFor(pid_t pid, int64_t timeout_nanos) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::nanoseconds(timeout_nanos);
  Exit exit;
  while (true) {
    const pid_t waited = waitpid(pid, &exit.status, WNOHANG);
    if (waited == pid) return exit;
    if (waited < 0 && errno != EINTR) {
      exit.wait_error = errno;
      return exit;
    }
    if (std::chrono::steady_clock::now() >= deadline) break;
    std::this_thread::sleep_for(kPollStep);
  }
  exit.timed_out = true;
  kill(-pid, SIGKILL);
  while (waitpid(pid, &exit.status, 0) < 0) {
    if (errno != EINTR) {
      exit.wait_error = errno;
      break;
    }
  }
  return exit;
}

}  // namespace

absl::Status ValidateEvents(const std::vector<FaultEvent>& events, int64_t duration_nanos) {
  std::set<std::string> names;
  for (size_t i = 0; i < events.size(); ++i) {
    const FaultEvent& event = events[i];
    if (event.name.empty()) {
      return absl::InvalidArgumentError(absl::StrCat("event ", i + 1, " has no name"));
    }
    const std::string quoted = absl::StrCat("event \"", absl::CEscape(event.name), "\"");
    if (!WellFormedName(event.name)) {
      return absl::InvalidArgumentError(
          absl::StrCat(quoted, ": a name may hold only letters, digits, '-' and '_'"));
    }
    if (!names.insert(event.name).second) {
      return absl::InvalidArgumentError(absl::StrCat(quoted, ": the name is used twice"));
    }
    if (event.at_nanos < 0 || event.at_nanos >= duration_nanos) {
      return absl::InvalidArgumentError(absl::StrCat(quoted, ": at ", Duration(event.at_nanos),
                                                     " is outside the run, which lasts ",
                                                     Duration(duration_nanos)));
    }
    const bool has_exec = !event.exec.empty();
    const bool has_call = event.call != nullptr;
    if (has_exec && has_call) {
      return absl::InvalidArgumentError(
          absl::StrCat(quoted, ": has both a command and a call; give one"));
    }
    if (!has_exec && !has_call) {
      return absl::InvalidArgumentError(
          absl::StrCat(quoted, ": has no action (a command or a call)"));
    }
  }
  return absl::OkStatus();
}

EventRunner::EventRunner(std::vector<FaultEvent> events, const Clock& clock,
                         int64_t run_start_nanos, EventRunnerOptions options)
    : events_(InTimeOrder(std::move(events))),
      clock_(clock),
      run_start_nanos_(run_start_nanos),
      options_(std::move(options)) {}

EventRunner::~EventRunner() { Stop(); }

void EventRunner::Start() {
  std::lock_guard lock(mu_);
  if (thread_.joinable() || stopping_) return;
  thread_ = std::thread([this] { Run(); });
}

void EventRunner::Stop() {
  std::call_once(stopped_, [this] {
    {
      std::lock_guard lock(mu_);
      stopping_ = true;
    }
    wake_.notify_all();
    if (thread_.joinable()) thread_.join();
    std::lock_guard lock(mu_);
    for (size_t i = done_.size(); i < events_.size(); ++i) {
      EventOutcome outcome = Planned(events_[i]);
      outcome.error = "not run: the run ended first";
      done_.push_back(std::move(outcome));
    }
  });
}

std::vector<EventOutcome> EventRunner::Outcomes() const {
  std::lock_guard lock(mu_);
  return done_;
}

int64_t EventRunner::SinceStart() const { return clock_.NowNanos() - run_start_nanos_; }

void EventRunner::Run() {
  for (size_t i = 0; i < events_.size(); ++i) {
    if (!WaitUntil(run_start_nanos_ + events_[i].at_nanos)) return;
    EventOutcome outcome = RunEvent(static_cast<int>(i));
    {
      std::lock_guard lock(mu_);
      done_.push_back(outcome);
    }
    if (options_.on_event) options_.on_event(outcome);
  }
}

bool EventRunner::WaitUntil(int64_t due_nanos) {
  std::unique_lock lock(mu_);
  while (!stopping_) {
    const int64_t left = due_nanos - clock_.NowNanos();
    if (left <= 0) return true;
    wake_.wait_for(lock, std::chrono::nanoseconds(std::min(left, kWaitStepNanos)));
  }
  return false;
}

EventOutcome EventRunner::RunEvent(int index) {
  const FaultEvent& event = events_[index];
  const int64_t started = SinceStart();
  if (options_.on_event) {
    EventOutcome starting = Planned(event);
    starting.started_nanos = started;
    options_.on_event(starting);
  }
  EventOutcome outcome = event.exec.empty() ? event.call() : RunCommand(index);
  outcome.name = event.name;
  outcome.at_nanos = event.at_nanos;
  outcome.started_nanos = started;
  outcome.finished_nanos = SinceStart();
  if (outcome.output.size() > kMaxOutputBytes) outcome.output.resize(kMaxOutputBytes);
  return outcome;
}

EventOutcome EventRunner::RunCommand(int index) {
  const FaultEvent& event = events_[index];
  EventOutcome outcome;
  const std::filesystem::path dir = std::filesystem::path(options_.output_dir) / "events";
  std::error_code dir_error;
  std::filesystem::create_directories(dir, dir_error);
  if (dir_error) {
    outcome.error = absl::StrCat("cannot create ", dir.string(), ": ", dir_error.message());
    return outcome;
  }
  const std::string path = (dir / absl::StrFormat("%02d-%s.log", index + 1, event.name)).string();
  const int fd = open(path.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) {
    outcome.error = absl::StrCat("cannot open ", path, ": ", ErrnoText(errno));
    return outcome;
  }

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, fd, STDOUT_FILENO);
  posix_spawn_file_actions_adddup2(&actions, fd, STDERR_FILENO);
  // A server the command starts must not inherit the load generator's sockets.
  posix_spawn_file_actions_addclosefrom_np(&actions, STDERR_FILENO + 1);
  // Its own process group, so a timeout kills what it started too; and default
  // signal handling, so what it starts can be stopped whatever this process blocks or ignores.
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  posix_spawnattr_setflags(&attr,
                           POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  posix_spawnattr_setpgroup(&attr, 0);
  sigset_t signals;
  sigemptyset(&signals);
  posix_spawnattr_setsigmask(&attr, &signals);
  sigfillset(&signals);
  posix_spawnattr_setsigdefault(&attr, &signals);

  std::vector<std::string> env = Environment(options_.env);
  std::vector<char*> envp;
  for (std::string& entry : env) envp.push_back(entry.data());
  envp.push_back(nullptr);
  std::string sh = "sh", dash_c = "-c", command = event.exec;
  char* argv[] = {sh.data(), dash_c.data(), command.data(), nullptr};

  pid_t pid = 0;
  const int spawn_error = posix_spawn(&pid, "/bin/sh", &actions, &attr, argv, envp.data());
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  if (spawn_error != 0) {
    close(fd);
    outcome.error = absl::StrCat("cannot run /bin/sh: ", ErrnoText(spawn_error));
    return outcome;
  }

  const Exit exit = WaitFor(pid, options_.timeout_nanos);
  std::string output(kMaxOutputBytes, '\0');
  const ssize_t read = pread(fd, output.data(), output.size(), 0);
  output.resize(read > 0 ? read : 0);
  close(fd);
  outcome.output = std::move(output);

  if (exit.wait_error != 0) {
    outcome.error = absl::StrCat("cannot wait for the command: ", ErrnoText(exit.wait_error));
    return outcome;
  }
  if (WIFSIGNALED(exit.status)) {
    outcome.exit_code = 128 + WTERMSIG(exit.status);
    outcome.error = absl::StrCat("killed by signal ", WTERMSIG(exit.status));
  } else {
    outcome.exit_code = WEXITSTATUS(exit.status);
    if (outcome.exit_code != 0) outcome.error = absl::StrCat("exit status ", outcome.exit_code);
  }
  if (exit.timed_out) outcome.error = "timed out after " + Duration(options_.timeout_nanos);
  outcome.ok = outcome.error.empty();
  return outcome;
}

}  // namespace aurigraph::loadgen
