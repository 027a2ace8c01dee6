// Builds a run's result in one place, from what every source of a result has:
// the run's description, its figures merged from the intervals (RunTotals), its
// timeline and what its end knows. The live run, a run rebuilt from interval
// logs and (next) the merge of many generators' results all come through here.
// Gates and the generator's verdict are judged on the finished result.
#pragma once

#include <vector>

#include "absl/status/statusor.h"
#include "loadgen/gates/gates.h"
#include "loadgen/recorder/run_totals.h"
#include "loadgen/result/run_description.h"
#include "loadgen/result/run_result.h"
#include "loadgen/scenario/scenario.h"

namespace aurigraph::loadgen {

RunResult BuildRunResult(const RunDescription& run, const RunTotals& totals, Timeline timeline,
                         const RunEnd& end);

// An interval's figures as a timeline point (its counts, codes, items and exact
// percentiles); its times and samples are the caller's to set.
TimelinePoint SummarizeSlice(const IntervalSlice& slice);

// Whether the generator kept to its schedule and had cores to spare; sets
// result.generator.kept_up and its verdict.
void JudgeGenerator(RunResult& result);

// The scenario's gates, each checked against its operations; the first that
// does not parse is the error.
absl::StatusOr<std::vector<Gate>> GatesFromScenario(const Scenario& scenario);

}  // namespace aurigraph::loadgen
