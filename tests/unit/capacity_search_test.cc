#include "loadgen/capacity/capacity_search.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "loadgen/capacity/capacity_result.h"
#include "loadgen/capacity/capacity_runner.h"

namespace aurigraph::loadgen {
namespace {

constexpr int64_t kStep = 10'000'000'000;  // a simulated step: 10 s

// A simulated system: the SLO holds below `knee`; within `noise` (a fraction)
// of it, it holds or breaks at random; the generator falls behind above
// `generator_limit`. Steps that land within 10% of the knee are "near".
struct SimulatedSystem {
  double knee;
  double noise = 0;
  double generator_limit = 1e12;
  StepOutcome Run(double rate, std::mt19937_64& rng) const {
    StepOutcome o;
    o.rate = rate;
    o.nanos = kStep;
    o.kept_up = rate <= generator_limit;
    const double relative = rate / knee - 1;
    if (std::abs(relative) < noise) {
      o.held = std::bernoulli_distribution(0.5 - relative / (2 * noise))(rng);
    } else {
      o.held = relative < 0;
    }
    o.near = o.held && std::abs(relative) < 0.1;
    return o;
  }
};

CapacityAnswer Search(const CapacityPlan& plan, const SimulatedSystem& system, uint64_t seed,
                      std::vector<CapacitySearch::Step>* steps = nullptr) {
  std::mt19937_64 rng(seed);
  CapacitySearch search(plan);
  int64_t elapsed = 0;
  while (auto step = search.Next(elapsed)) {
    if (steps) steps->push_back(*step);
    search.Record(system.Run(step->rate, rng));
    elapsed += kStep;
  }
  return search.Answer();
}

TEST(CapacitySearch, FindsAKnownKneeWithinItsPrecisionOverManySeeds) {
  std::mt19937_64 knees(7);
  for (uint64_t seed = 0; seed < 2000; ++seed) {
    CapacityPlan plan;
    plan.min_rate = 100;
    plan.max_rate = 1e6;
    SimulatedSystem system{std::uniform_real_distribution<double>(150, 5e5)(knees)};
    const CapacityAnswer a = Search(plan, system, seed);
    ASSERT_EQ(a.status, CapacityStatus::kFound) << "seed " << seed;
    ASSERT_TRUE(a.confirmed);
    // What held is below the knee, what broke above it, and they are within the precision.
    ASSERT_LT(a.capacity, system.knee) << "seed " << seed;
    ASSERT_GE(a.broke_at, system.knee) << "seed " << seed;
    ASSERT_LE(a.broke_at / a.capacity - 1, plan.precision) << "seed " << seed;
    ASSERT_EQ(a.broke_failures, a.broke_runs);  // a clean knee breaks every time
    ASSERT_LE(a.steps, 40) << "seed " << seed;
  }
}

TEST(CapacitySearch, NoiseNearTheKneeNeverYieldsARateThatBrokeOnce) {
  for (uint64_t seed = 0; seed < 2000; ++seed) {
    CapacityPlan plan;
    plan.min_rate = 1000;
    SimulatedSystem system{20'000, /*noise=*/0.05};
    std::mt19937_64 rng(seed);
    CapacitySearch search(plan);
    std::map<double, int> broke;
    while (auto step = search.Next(0)) {
      const StepOutcome o = system.Run(step->rate, rng);
      if (!o.held) ++broke[o.rate];
      search.Record(o);
    }
    const CapacityAnswer a = search.Answer();
    ASSERT_EQ(a.status, CapacityStatus::kFound) << "seed " << seed;
    ASSERT_EQ(broke.count(a.capacity), 0u) << "seed " << seed;
    ASSERT_GT(a.capacity, 20'000 * 0.95 * (1 - 2 * plan.precision)) << "seed " << seed;
    ASSERT_LT(a.capacity, 20'000 * 1.05) << "seed " << seed;
    ASSERT_GT(a.broke_at, a.capacity);
  }
}

TEST(CapacitySearch, ConfirmsTheAnswerAndRepeatsStepsNearTheBoundary) {
  CapacityPlan plan;
  plan.min_rate = 1000;
  std::vector<CapacitySearch::Step> steps;
  const CapacityAnswer a = Search(plan, SimulatedSystem{10'000}, 1, &steps);
  ASSERT_EQ(a.status, CapacityStatus::kFound);
  // 1000, 2000, 4000, 8000 held; 16000 broke; then bisection.
  ASSERT_GE(steps.size(), 5u);
  for (int i = 0; i < 4; ++i) EXPECT_EQ(steps[i].phase, StepPhase::kExplore);
  EXPECT_EQ(steps[4].rate, 16'000);
  int confirm_best = 0, confirm_broken = 0, repeats = 0;
  for (const auto& step : steps) {
    if (step.phase == StepPhase::kConfirm)
      (step.rate == a.capacity ? confirm_best : confirm_broken)++;
    if (step.phase == StepPhase::kRepeat) ++repeats;
  }
  // The best rate ran 1 + confirm_runs times: its first run, maybe a repeat (it was near), then
  // confirmations.
  EXPECT_GE(confirm_best + (repeats > 0 ? 1 : 0), plan.confirm_runs);
  EXPECT_EQ(confirm_broken, plan.confirm_runs);
  EXPECT_GT(repeats, 0);  // bisection lands within 10% of the knee
  EXPECT_EQ(a.broke_runs, 1 + plan.confirm_runs);
}

TEST(CapacitySearch, ABestRateThatBreaksOnConfirmationIsGivenUp) {
  // Holds up to 5000 except one run at the first rate bisection settles on.
  CapacityPlan plan;
  plan.min_rate = 1000;
  plan.precision = 0.05;
  CapacitySearch search(plan);
  int confirmations = 0;
  double failed_rate = 0;
  while (auto step = search.Next(0)) {
    StepOutcome o{step->rate, true, step->rate < 5000, false, kStep};
    if (step->phase == StepPhase::kConfirm && failed_rate == 0 && o.held) {
      failed_rate = step->rate;  // the first confirmation of the best rate breaks
      o.held = false;
      ++confirmations;
    }
    search.Record(o);
  }
  const CapacityAnswer a = search.Answer();
  ASSERT_EQ(a.status, CapacityStatus::kFound);
  EXPECT_GT(failed_rate, 0);
  EXPECT_LT(a.capacity, failed_rate);
  EXPECT_EQ(a.broke_at, failed_rate);
  EXPECT_TRUE(a.confirmed);
}

TEST(CapacitySearch, AGeneratorThatFallsBehindFirstEndsTheSearchWithoutAClaim) {
  CapacityPlan plan;
  plan.min_rate = 1000;
  SimulatedSystem system{50'000};
  system.generator_limit = 9000;
  const CapacityAnswer a = Search(plan, system, 1);
  EXPECT_EQ(a.status, CapacityStatus::kLimitedByGenerator);
  // Narrowed down to where the generator gives out: the SLOs held up to there.
  EXPECT_GT(a.generator_limit, 9000);
  EXPECT_LE(a.generator_limit / a.capacity - 1, plan.precision);
  EXPECT_LE(a.capacity, 9000);
  EXPECT_EQ(a.broke_at, 0);

  system.generator_limit = 500;  // not even the first rate
  const CapacityAnswer none = Search(plan, system, 1);
  EXPECT_EQ(none.status, CapacityStatus::kLimitedByGenerator);
  EXPECT_EQ(none.capacity, 0);
  EXPECT_EQ(none.steps, 1);
}

TEST(CapacitySearch, AKneeBelowWhereTheGeneratorGivesOutIsFound) {
  // Exploring jumps from 8000 (held) to 16000, past both the knee and the
  // generator's limit; the knee is below the limit, so it is found.
  for (uint64_t seed = 0; seed < 200; ++seed) {
    CapacityPlan plan;
    plan.min_rate = 500;
    SimulatedSystem system{10'000};
    system.generator_limit = 11'000;
    const CapacityAnswer a = Search(plan, system, seed);
    ASSERT_EQ(a.status, CapacityStatus::kFound);
    ASSERT_LT(a.capacity, 10'000);
    ASSERT_GE(a.broke_at, 10'000);
    ASSERT_LE(a.broke_at / a.capacity - 1, plan.precision);
    ASSERT_GT(a.generator_limit, 11'000);
  }
}

TEST(CapacitySearch, AGeneratorFallingBehindInAConfirmationKeepsABreakMeasuredBefore) {
  // Holds below 800; at 800 and above the SLO breaks, and from the second run
  // at 800 on, the generator falls behind there too.
  CapacityPlan plan;
  plan.min_rate = 100;
  CapacitySearch search(plan);
  int runs_at_knee = 0;
  while (auto step = search.Next(0)) {
    StepOutcome o{step->rate, true, step->rate < 800, false, kStep};
    if (step->rate >= 800 && step->rate < 820 && runs_at_knee++ > 0) o.kept_up = false;
    search.Record(o);
  }
  const CapacityAnswer a = search.Answer();
  EXPECT_EQ(a.status, CapacityStatus::kFound);
  EXPECT_LT(a.capacity, 800);
  EXPECT_GE(a.broke_at, 800);
  EXPECT_EQ(a.generator_limit, a.broke_at);
  EXPECT_TRUE(a.confirmed);
  EXPECT_LT(a.steps, 30);
}

TEST(CapacitySearch, EndsAtTheRateBoundsAndTheBudget) {
  CapacityPlan plan;
  plan.min_rate = 1000;
  plan.max_rate = 5000;
  CapacityAnswer a = Search(plan, SimulatedSystem{1e9}, 1);
  EXPECT_EQ(a.status, CapacityStatus::kAboveMaxRate);
  EXPECT_EQ(a.capacity, 5000);  // 1000, 2000, 4000, then the bound itself
  EXPECT_EQ(a.steps, 4);

  a = Search(plan, SimulatedSystem{500}, 1);
  EXPECT_EQ(a.status, CapacityStatus::kBelowMinRate);
  EXPECT_EQ(a.capacity, 0);
  EXPECT_EQ(a.steps, 1);

  // A budget of 3.5 steps: three run, the fourth would not end within it.
  plan.max_rate = 1e6;
  plan.budget_nanos = kStep * 7 / 2;
  a = Search(plan, SimulatedSystem{1e5}, 1);
  EXPECT_EQ(a.status, CapacityStatus::kBudgetSpent);
  EXPECT_EQ(a.steps, 3);
  EXPECT_EQ(a.capacity, 4000);  // the best so far, not confirmed
  EXPECT_FALSE(a.confirmed);
}

TEST(CapacityResult, RoundTripsAndRefusesWhatIsNotOne) {
  CapacityResult r;
  r.tool_version = "t";
  r.scenario_name = "s";
  r.slos = {"p99 < 20ms"};
  r.finished = true;
  r.answer.status = CapacityStatus::kFound;
  r.answer.capacity = 1950.5;
  r.answer.confirmed = true;
  r.answer.broke_at = 1990;
  auto gate = ParseCapacityGate("capacity >= 2000/s");
  ASSERT_TRUE(gate.ok());
  r.gates.push_back(*gate);
  EvaluateCapacityGates(r);
  EXPECT_FALSE(r.gates[0].passed);
  EXPECT_EQ(r.gates[0].message, "capacity = 1950.5/s, limit >= 2000/s");
  EXPECT_EQ(CapacityResult{}.answer.status, CapacityStatus::kUnfinished);
  EXPECT_FALSE(r.passed());
  auto back = CapacityResultFromJson(CapacityResultToJson(r), "x");
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(CapacityResultToJson(*back), CapacityResultToJson(r));

  EXPECT_FALSE(ParseCapacityGate("capacity >= lots").ok());
  EXPECT_FALSE(ParseCapacityGate("p99 < 20ms").ok());
  std::string text = CapacityResultToJson(r);
  const std::string wrong = std::string(text).replace(text.find("\"found\""), 7, "\"great\"");
  EXPECT_EQ(CapacityResultFromJson(wrong, "x").status().message(),
            "x: answer.status is not a known status");
  EXPECT_FALSE(CapacityResultFromJson(text.substr(0, text.size() / 2), "x").ok());
  // Impossible values a writer never produces are refused, each in one line.
  const auto altered = [&](const std::string& from, const std::string& to) {
    const size_t at = text.find(from);
    EXPECT_NE(at, std::string::npos) << from;
    auto read = CapacityResultFromJson(std::string(text).replace(at, from.size(), to), "x");
    EXPECT_FALSE(read.ok()) << to;
    return read.ok() ? std::string() : std::string(read.status().message());
  };
  EXPECT_EQ(altered("\"broke_runs\": 0", "\"broke_runs\": -3"),
            "x: a count of runs or steps is out of range");
  EXPECT_EQ(altered("\"steps\": 0", "\"steps\": 9223372036854775807"),
            "x: a count of runs or steps is out of range");
  EXPECT_EQ(altered("\"precision\": 0.02", "\"precision\": -1"),
            "x: plan: growth, precision or near_margin out of range");
  EXPECT_EQ(altered("\"steps\": []", "\"steps\": {}"), "x: gates and steps must be lists");
  EXPECT_EQ(altered("\"p99 < 20ms\"", "\"p99 <\""),
            "x: an SLO does not parse: gate 'p99 <': expected METRIC OP VALUE, e.g. 'p99 < 20ms'");
  EXPECT_EQ(altered("\"confirmed\": true", "\"confirmed\": 1"),
            "x: wrong schema: type must be boolean, but is number");
  EXPECT_FALSE(CapacityResultFromJson("{\"schema\": \"aurigraph-loadbench/result\"}", "x").ok());
}

TEST(CapacityRunner, ARunIsNearWhenAGateFigureIsWithinTheMargin) {
  RunResult run;
  run.gates.push_back(GateResult{"p99 < 20ms", "", "p99", "us", 18'500, 20'000, true, ""});
  EXPECT_TRUE(NearALimit(run, 0.1));
  run.gates[0].measured = 17'000;
  EXPECT_FALSE(NearALimit(run, 0.1));
}

}  // namespace
}  // namespace aurigraph::loadgen
