#include "loadgen/capacity/capacity_search.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>

namespace aurigraph::loadgen {
namespace {

// Four significant digits: readable rates, 0.05% from the exact ones (far
// inside any precision the search is asked for), and each the double its
// decimal text reads back as, so a step's rate is exactly the run's.
double RoundRate(double rate) {
  char text[32];
  std::snprintf(text, sizeof text, "%.4g", rate);
  return std::strtod(text, nullptr);
}

}  // namespace

const char* StepPhaseName(StepPhase phase) {
  switch (phase) {
    case StepPhase::kExplore:
      return "explore";
    case StepPhase::kBisect:
      return "bisect";
    case StepPhase::kRepeat:
      return "repeat";
    case StepPhase::kConfirm:
      return "confirm";
  }
  return "?";
}

const char* CapacityStatusName(CapacityStatus status) {
  switch (status) {
    case CapacityStatus::kFound:
      return "found";
    case CapacityStatus::kAboveMaxRate:
      return "above_max_rate";
    case CapacityStatus::kBelowMinRate:
      return "below_min_rate";
    case CapacityStatus::kLimitedByGenerator:
      return "limited_by_generator";
    case CapacityStatus::kBudgetSpent:
      return "budget_spent";
    case CapacityStatus::kStopped:
      return "stopped";
    case CapacityStatus::kUnfinished:
      return "unfinished";
  }
  return "?";
}

bool Answered(const CapacityAnswer& answer) {
  return answer.status == CapacityStatus::kFound || answer.status == CapacityStatus::kAboveMaxRate;
}

CapacitySearch::CapacitySearch(CapacityPlan plan) : plan_(plan) {}

double CapacitySearch::Broken() const {
  for (const auto& [rate, tally] : tallies_) {
    if (tally.broke > 0) return rate;
  }
  return 0;
}

double CapacitySearch::Ceiling() const {
  const double broken = Broken();
  if (generator_limit_ > 0 && (broken == 0 || generator_limit_ < broken)) return generator_limit_;
  return broken;
}

double CapacitySearch::Held() const {
  const double ceiling = Ceiling();
  double held = 0;
  for (const auto& [rate, tally] : tallies_) {
    if (ceiling > 0 && rate >= ceiling) break;
    if (tally.held()) held = rate;
  }
  return held;
}

std::optional<CapacitySearch::Step> CapacitySearch::Next(int64_t elapsed_nanos) {
  if (status_) return std::nullopt;
  std::optional<Step> step = Decide();
  if (!step) return step;
  // A step is not started unless it would end within the budget, judged by the
  // longest step so far (or, before any, by nothing: the first always runs).
  const bool over_budget =
      plan_.budget_nanos > 0 && elapsed_nanos + longest_step_nanos_ > plan_.budget_nanos;
  if (over_budget || steps_ >= plan_.max_steps) {
    status_ = CapacityStatus::kBudgetSpent;
    return std::nullopt;
  }
  return step;
}

std::optional<CapacitySearch::Step> CapacitySearch::Decide() {
  if (last_ && last_->kept_up && last_->held && last_->near) {
    const Tally& tally = tallies_[last_->rate];
    if (tally.held() && tally.runs < plan_.near_runs) return Step{last_->rate, StepPhase::kRepeat};
  }
  const double held = Held();
  const double ceiling = Ceiling();
  // A rate that broke the SLOs in a run the generator kept up with is a real
  // ceiling, even if the generator fell behind at it in another run.
  const double broken = Broken();
  const bool generator_bound = generator_limit_ > 0 && (broken == 0 || generator_limit_ < broken);
  if (ceiling == 0) {
    if (held == 0) return Step{plan_.min_rate, StepPhase::kExplore};
    if (held >= plan_.max_rate) {
      status_ = CapacityStatus::kAboveMaxRate;
      return std::nullopt;
    }
    return Step{std::min(RoundRate(held * plan_.growth), plan_.max_rate), StepPhase::kExplore};
  }
  if (held == 0) {
    // Exploring starts at min_rate, so nothing below the lowest ceiling was run.
    status_ = generator_bound ? CapacityStatus::kLimitedByGenerator : CapacityStatus::kBelowMinRate;
    return std::nullopt;
  }
  // Below a rate the generator could not keep up with, the system may still
  // break its SLOs where the generator can measure it: narrow down to it.
  if (ceiling / held - 1 > plan_.precision) {
    return Step{RoundRate(std::sqrt(held * ceiling)), StepPhase::kBisect};
  }
  if (generator_bound) {
    status_ = CapacityStatus::kLimitedByGenerator;
    return std::nullopt;
  }
  if (tallies_[held].runs < 1 + plan_.confirm_runs) return Step{held, StepPhase::kConfirm};
  // A confirmation of the broken rate in which the generator fell behind
  // confirms nothing, but does not undo the break measured before: counted as
  // tried, so the search does not retry it without end.
  if (tallies_[ceiling].attempts < 1 + plan_.confirm_runs)
    return Step{ceiling, StepPhase::kConfirm};
  status_ = CapacityStatus::kFound;
  return std::nullopt;
}

void CapacitySearch::Record(const StepOutcome& outcome) {
  ++steps_;
  longest_step_nanos_ = std::max(longest_step_nanos_, outcome.nanos);
  total_nanos_ += outcome.nanos;
  last_ = outcome;
  ++tallies_[outcome.rate].attempts;
  if (!outcome.kept_up) {
    if (generator_limit_ == 0 || outcome.rate < generator_limit_) generator_limit_ = outcome.rate;
    return;
  }
  Tally& tally = tallies_[outcome.rate];
  ++tally.runs;
  if (!outcome.held) ++tally.broke;
}

CapacityAnswer CapacitySearch::Answer() const {
  CapacityAnswer answer;
  answer.status = status_.value_or(CapacityStatus::kUnfinished);
  answer.capacity = Held();
  if (answer.capacity > 0) {
    answer.confirmed = tallies_.at(answer.capacity).runs >= 1 + plan_.confirm_runs;
  }
  answer.broke_at = Broken();
  if (answer.broke_at > 0) {
    answer.broke_runs = tallies_.at(answer.broke_at).runs;
    answer.broke_failures = tallies_.at(answer.broke_at).broke;
  }
  answer.generator_limit = generator_limit_;
  answer.steps = steps_;
  answer.nanos = total_nanos_;
  return answer;
}

}  // namespace aurigraph::loadgen
