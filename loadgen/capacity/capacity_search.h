// The search for a system's capacity: the highest fixed arrival rate at which
// every SLO holds. A pure state machine (no clock, no I/O): it proposes the
// next step's rate, is told each step's outcome, and finally answers, so it is
// tested by simulation over many seeds.
//
// Rates grow geometrically from the lowest until a step breaks the SLO, then
// the gap between the highest rate that held and the lowest that broke is
// bisected (geometrically) down to the precision asked. A rate holds only if
// it held in every run of it. A step whose SLO figures came within a margin of
// their limits is repeated, and the answer is confirmed by running the best
// rate and the broken one above it again: if the best breaks now, the search
// goes on below it. A rate at which the generator itself fell behind says
// nothing about the system: the search narrows below it, and ends "limited by
// the generator" when no rate the generator kept up with broke the SLOs.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>

namespace aurigraph::loadgen {

struct CapacityPlan {
  double min_rate = 100;  // the first step's rate
  double max_rate = 1e6;  // no step goes above it
  double growth = 2;      // the factor between rates while exploring
  // The search narrows until (broken - held) / held is at most this.
  double precision = 0.02;
  // Extra runs of the best rate and of the broken one above it, each.
  int confirm_runs = 2;
  // Runs in all of a step whose SLO figures came within near_margin of a limit.
  int near_runs = 2;
  int64_t budget_nanos = 0;  // 0: no bound on the search's time
  int max_steps = 200;       // a bound whatever the budget
};

enum class StepPhase { kExplore, kBisect, kRepeat, kConfirm };
const char* StepPhaseName(StepPhase phase);

struct StepOutcome {
  double rate = 0;      // as asked
  bool kept_up = true;  // the generator kept its schedule
  bool held = false;    // every SLO held (meaningful when kept_up)
  bool near = false;    // some SLO figure was within the margin of its limit
  int64_t nanos = 0;    // how long the step took, start to end
};

// How the search ended.
enum class CapacityStatus {
  kFound,               // narrowed to the precision and confirmed
  kAboveMaxRate,        // the SLO held up to max_rate: the capacity is higher
  kBelowMinRate,        // the SLO broke at min_rate already
  kLimitedByGenerator,  // the generator fell behind before the SLOs broke: raise its resources
  kBudgetSpent,         // the time budget (or step bound) ran out first
  kStopped,             // stopped by the user (Ctrl-C) during a step
  kUnfinished,          // still running, or ended by an error or a kill
};
const char* CapacityStatusName(CapacityStatus status);

struct CapacityAnswer {
  CapacityStatus status = CapacityStatus::kUnfinished;
  double capacity = 0;     // the highest rate that held in every run; 0: none
  bool confirmed = false;  // it was run 1 + confirm_runs times or more
  double broke_at = 0;     // the lowest rate that broke; 0: none did
  int broke_runs = 0;      // runs at broke_at, and how many of them broke
  int broke_failures = 0;
  double generator_limit = 0;  // the lowest rate the generator fell behind at; 0: none
  int steps = 0;
  int64_t nanos = 0;  // time of all steps
};

// Whether the search ended with an answer: the capacity found, or held at the max rate.
bool Answered(const CapacityAnswer& answer);

class CapacitySearch {
 public:
  explicit CapacitySearch(CapacityPlan plan);

  struct Step {
    double rate;
    StepPhase phase;
  };
  // The next step, or none when the search is over; `elapsed_nanos` is the
  // search's time so far (a step that would not end within the budget, by the
  // longest step so far, is not started).
  std::optional<Step> Next(int64_t elapsed_nanos);
  // The outcome of the step Next() returned last.
  void Record(const StepOutcome& outcome);
  CapacityAnswer Answer() const;

 private:
  struct Tally {
    int runs = 0;      // with the generator keeping up
    int broke = 0;     // of those
    int attempts = 0;  // runs, and those in which the generator fell behind
    bool held() const { return runs > 0 && broke == 0; }
  };
  double Broken() const;  // the lowest rate that broke; 0: none
  // The lowest rate that broke or that the generator fell behind at; 0: none.
  double Ceiling() const;
  double Held() const;  // the highest rate below the ceiling that held; 0: none
  // The next step, or none (with status_ set).
  std::optional<Step> Decide();

  CapacityPlan plan_;
  std::map<double, Tally> tallies_;
  std::optional<StepOutcome> last_;
  double generator_limit_ = 0;
  int steps_ = 0;
  int64_t longest_step_nanos_ = 0;
  int64_t total_nanos_ = 0;
  std::optional<CapacityStatus> status_;  // set when the search ends
};

}  // namespace aurigraph::loadgen
