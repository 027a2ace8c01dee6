// Fault events run at their times on the run's clock (a ManualClock here), in
// time order, with exit codes and bounded output recorded; a command that
// outlives its timeout is killed with what it started, one that leaves a
// background server behind is not waited for; events the run ended before are
// reported not run; malformed events are refused by name.
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <mutex>
#include <sstream>
#include <thread>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "loadgen/faults/event_runner.h"

namespace aurigraph::loadgen {
namespace {

constexpr int64_t kSecond = 1'000'000'000;
constexpr int64_t kRunStart = 1000 * kSecond;
// Bounds for waits on real time: far beyond what the runner needs on a loaded machine.
constexpr auto kPatience = std::chrono::seconds(20);

double SecondsSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// Polls until the runner has `count` outcomes, or kPatience has passed.
std::vector<EventOutcome> WaitForOutcomes(const EventRunner& runner, size_t count) {
  const auto start = std::chrono::steady_clock::now();
  std::vector<EventOutcome> outcomes = runner.Outcomes();
  while (outcomes.size() < count && std::chrono::steady_clock::now() - start < kPatience) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
    outcomes = runner.Outcomes();
  }
  return outcomes;
}

// Alive and not a zombie.
bool Running(pid_t pid) {
  std::ifstream stat(absl::StrCat("/proc/", pid, "/stat"));
  std::string line;
  if (!std::getline(stat, line)) return false;
  const size_t state = line.rfind(") ");
  return state != std::string::npos && line[state + 2] != 'Z' && line[state + 2] != 'X';
}

pid_t PidIn(const std::string& output) {
  int pid = 0;
  EXPECT_TRUE(absl::SimpleAtoi(absl::StripAsciiWhitespace(output), &pid)) << output;
  return pid;
}

std::string ReadFile(const std::filesystem::path& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

FaultEvent Command(std::string name, int64_t at_nanos, std::string exec) {
  FaultEvent event;
  event.name = std::move(name);
  event.at_nanos = at_nanos;
  event.exec = std::move(exec);
  return event;
}

FaultEvent Call(std::string name, int64_t at_nanos, std::function<EventOutcome()> call) {
  FaultEvent event;
  event.name = std::move(name);
  event.at_nanos = at_nanos;
  event.call = std::move(call);
  return event;
}

class FaultEventRunnerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           absl::StrCat("fault-events-", getpid(), "-",
                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  EventRunnerOptions Options(int64_t timeout_nanos = 20 * kSecond) {
    EventRunnerOptions options;
    options.output_dir = dir_.string();
    options.timeout_nanos = timeout_nanos;
    return options;
  }

  std::filesystem::path dir_;
  ManualClock clock_{kRunStart};
};

TEST_F(FaultEventRunnerTest, RunsEventsInTimeOrderAtTheirTimes) {
  EventRunner runner({Command("second", 2 * kSecond, "echo two; exit 3"),
                      Command("first", kSecond, "echo one; echo err >&2")},
                     clock_, kRunStart, Options());
  runner.Start();
  // The clock has not moved: nothing may run, however long we look.
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_TRUE(runner.Outcomes().empty());

  clock_.Set(kRunStart + kSecond);
  std::vector<EventOutcome> outcomes = WaitForOutcomes(runner, 1);
  ASSERT_EQ(outcomes.size(), 1u);
  EXPECT_EQ(outcomes[0].name, "first");
  EXPECT_EQ(outcomes[0].at_nanos, kSecond);
  EXPECT_EQ(outcomes[0].started_nanos, kSecond);
  EXPECT_EQ(outcomes[0].finished_nanos, kSecond);
  EXPECT_TRUE(outcomes[0].ok);
  EXPECT_EQ(outcomes[0].exit_code, 0);
  EXPECT_EQ(outcomes[0].output, "one\nerr\n");
  EXPECT_EQ(outcomes[0].error, "");
  EXPECT_EQ(ReadFile(dir_ / "events" / "01-first.log"), "one\nerr\n");

  // Late: it runs at once, and its start shows by how much.
  clock_.Set(kRunStart + 2 * kSecond + kSecond / 2);
  outcomes = WaitForOutcomes(runner, 2);
  ASSERT_EQ(outcomes.size(), 2u);
  EXPECT_EQ(outcomes[1].name, "second");
  EXPECT_EQ(outcomes[1].at_nanos, 2 * kSecond);
  EXPECT_EQ(outcomes[1].started_nanos, 2 * kSecond + kSecond / 2);
  EXPECT_FALSE(outcomes[1].ok);
  EXPECT_EQ(outcomes[1].exit_code, 3);
  EXPECT_EQ(outcomes[1].output, "two\n");
  EXPECT_EQ(outcomes[1].error, "exit status 3");
  EXPECT_EQ(ReadFile(dir_ / "events" / "02-second.log"), "two\n");
}

TEST_F(FaultEventRunnerTest, KeepsTheFirstFourKibOfOutput) {
  EventRunner runner({Command("loud", 0, "head -c 10000 /dev/zero | tr '\\0' x")}, clock_,
                     kRunStart, Options());
  runner.Start();
  const std::vector<EventOutcome> outcomes = WaitForOutcomes(runner, 1);
  ASSERT_EQ(outcomes.size(), 1u);
  EXPECT_TRUE(outcomes[0].ok) << outcomes[0].error;
  EXPECT_EQ(outcomes[0].output, std::string(4096, 'x'));
  EXPECT_EQ(ReadFile(dir_ / "events" / "01-loud.log"), std::string(10000, 'x'));
}

TEST_F(FaultEventRunnerTest, PassesTheEnvironmentAndTheCallersVariables) {
  setenv("FAULT_EVENTS_TEST_INHERITED", "inherited", 1);
  EventRunnerOptions options = Options();
  options.env = {{"FAULT_EVENTS_TEST_ADDED", "added"}};
  EventRunner runner(
      {Command("env", 0, "echo \"$FAULT_EVENTS_TEST_INHERITED $FAULT_EVENTS_TEST_ADDED\"")}, clock_,
      kRunStart, options);
  runner.Start();
  const std::vector<EventOutcome> outcomes = WaitForOutcomes(runner, 1);
  unsetenv("FAULT_EVENTS_TEST_INHERITED");
  ASSERT_EQ(outcomes.size(), 1u);
  EXPECT_EQ(outcomes[0].output, "inherited added\n");
}

TEST_F(FaultEventRunnerTest, KillsACommandThatOutlivesItsTimeoutWithWhatItStarted) {
  const auto start = std::chrono::steady_clock::now();
  EventRunner runner({Command("slow", 0, "sleep 30 & echo $!; sleep 30")}, clock_, kRunStart,
                     Options(kSecond / 2));
  runner.Start();
  const std::vector<EventOutcome> outcomes = WaitForOutcomes(runner, 1);
  ASSERT_EQ(outcomes.size(), 1u);
  EXPECT_LT(SecondsSince(start), 15);
  EXPECT_FALSE(outcomes[0].ok);
  EXPECT_EQ(outcomes[0].exit_code, 128 + SIGKILL);
  EXPECT_EQ(outcomes[0].error, "timed out after 500ms");
  // The background sleep was in the command's process group: killed too.
  const pid_t background = PidIn(outcomes[0].output);
  ASSERT_GT(background, 0);
  const auto killed = std::chrono::steady_clock::now();
  while (Running(background) && std::chrono::steady_clock::now() - killed < kPatience) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  EXPECT_FALSE(Running(background));
}

TEST_F(FaultEventRunnerTest, DoesNotWaitForABackgroundChild) {
  const auto start = std::chrono::steady_clock::now();
  EventRunner runner({Command("server", 0, "sleep 30 & echo $!")}, clock_, kRunStart, Options());
  runner.Start();
  const std::vector<EventOutcome> outcomes = WaitForOutcomes(runner, 1);
  ASSERT_EQ(outcomes.size(), 1u);
  EXPECT_LT(SecondsSince(start), 10);  // the sleep, or the 20 s timeout, would take longer
  EXPECT_TRUE(outcomes[0].ok) << outcomes[0].error;
  const pid_t background = PidIn(outcomes[0].output);
  ASSERT_GT(background, 0);
  EXPECT_TRUE(Running(background));
  EXPECT_NE(getpgid(background), getpgid(0));  // the command's group, not ours
  kill(background, SIGKILL);
}

TEST_F(FaultEventRunnerTest, ReportsACallAsItStartsAndFinishes) {
  std::mutex mu;
  std::vector<EventOutcome> seen;
  EventRunnerOptions options = Options();
  options.on_event = [&](const EventOutcome& outcome) {
    std::lock_guard lock(mu);
    seen.push_back(outcome);
  };
  const auto call = [] {
    EventOutcome outcome;
    outcome.ok = true;
    outcome.exit_code = 0;
    outcome.output = std::string(5000, 'r');
    return outcome;
  };
  EventRunner runner({Call("rpc", kSecond, call)}, clock_, kRunStart, options);
  runner.Start();
  clock_.Set(kRunStart + kSecond);
  const std::vector<EventOutcome> outcomes = WaitForOutcomes(runner, 1);
  ASSERT_EQ(outcomes.size(), 1u);
  EXPECT_EQ(outcomes[0].name, "rpc");
  EXPECT_EQ(outcomes[0].at_nanos, kSecond);
  EXPECT_EQ(outcomes[0].started_nanos, kSecond);
  EXPECT_EQ(outcomes[0].finished_nanos, kSecond);
  EXPECT_TRUE(outcomes[0].ok);
  EXPECT_EQ(outcomes[0].output, std::string(4096, 'r'));
  EXPECT_FALSE(std::filesystem::exists(dir_ / "events"));

  runner.Stop();  // the finish callback has run once Stop() returns
  std::lock_guard lock(mu);
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_EQ(seen[0].name, "rpc");
  EXPECT_EQ(seen[0].started_nanos, kSecond);
  EXPECT_EQ(seen[0].finished_nanos, -1);
  EXPECT_EQ(seen[1].finished_nanos, kSecond);
  EXPECT_TRUE(seen[1].ok);
}

TEST_F(FaultEventRunnerTest, StopReportsEventsNotYetRun) {
  EventRunner runner({Command("early", kSecond, "true"), Command("late", 2 * kSecond, "true")},
                     clock_, kRunStart, Options());
  runner.Start();
  clock_.Set(kRunStart + kSecond);
  ASSERT_EQ(WaitForOutcomes(runner, 1).size(), 1u);

  const auto start = std::chrono::steady_clock::now();
  runner.Stop();
  EXPECT_LT(SecondsSince(start), 5);
  runner.Stop();
  const std::vector<EventOutcome> outcomes = runner.Outcomes();
  ASSERT_EQ(outcomes.size(), 2u);
  EXPECT_TRUE(outcomes[0].ok);
  EXPECT_EQ(outcomes[1].name, "late");
  EXPECT_EQ(outcomes[1].at_nanos, 2 * kSecond);
  EXPECT_EQ(outcomes[1].started_nanos, -1);
  EXPECT_FALSE(outcomes[1].ok);
  EXPECT_EQ(outcomes[1].error, "not run: the run ended first");
  EXPECT_FALSE(std::filesystem::exists(dir_ / "events" / "02-late.log"));
}

TEST_F(FaultEventRunnerTest, StopWithoutStartReportsEveryEventNotRun) {
  EventRunner runner({Command("only", 0, "true")}, clock_, kRunStart, Options());
  runner.Stop();
  runner.Start();  // too late: nothing runs
  const std::vector<EventOutcome> outcomes = runner.Outcomes();
  ASSERT_EQ(outcomes.size(), 1u);
  EXPECT_EQ(outcomes[0].error, "not run: the run ended first");
}

TEST(FaultEventValidationTest, AcceptsWellFormedEvents) {
  const std::vector<FaultEvent> events = {
      Command("kill-server_1", 0, "true"),
      Call("restart", 19 * kSecond, [] { return EventOutcome(); })};
  EXPECT_TRUE(ValidateEvents(events, 20 * kSecond).ok());
}

TEST(FaultEventValidationTest, RefusesMalformedEventsByName) {
  const auto call = [] { return EventOutcome(); };
  const struct {
    FaultEvent event;
    std::string message;
  } cases[] = {
      {Command("", 0, "true"), "event 2 has no name"},
      {Command("kill server", 0, "true"),
       "event \"kill server\": a name may hold only letters, digits, '-' and '_'"},
      {Command("ok", 0, "true"), "event \"ok\": the name is used twice"},
      {Command("late", 20 * kSecond, "true"),
       "event \"late\": at 20s is outside the run, which lasts 20s"},
      {Command("early", -1, "true"),
       "event \"early\": at -1ns is outside the run, which lasts 20s"},
      {[&] {
         FaultEvent both = Command("both", 0, "true");
         both.call = call;
         return both;
       }(),
       "event \"both\": has both a command and a call; give one"},
      {Command("none", 0, ""), "event \"none\": has no action (a command or a call)"},
  };
  for (const auto& c : cases) {
    const std::vector<FaultEvent> events = {Command("ok", 0, "true"), c.event};
    const absl::Status status = ValidateEvents(events, 20 * kSecond);
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << c.message;
    EXPECT_EQ(status.message(), c.message);
  }
}

}  // namespace
}  // namespace aurigraph::loadgen
