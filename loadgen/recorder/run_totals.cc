#include "loadgen/recorder/run_totals.h"

namespace aurigraph::loadgen {

RunTotals::RunTotals(size_t operation_count) : totals_(operation_count) {}

void RunTotals::Add(const IntervalSlice& slice, bool measured) {
  for (size_t i = 0; i < totals_.operations.size() && i < slice.operations.size(); ++i) {
    const IntervalOperation& op = slice.operations[i];
    if (measured) {
      totals_.operations[i].MergeLater(op);
    } else if (op.stream) {
      totals_.operations[i].streams().MergeLater(*op.stream);
    }
  }
  // The generator is judged on the measured window only, as the target is.
  if (measured) {
    totals_.schedule_lag.Add(slice.schedule_lag);
    totals_.generator_lag.Add(slice.generator_lag);
  }
  totals_.sent += slice.sent;
  totals_.generator.Merge(slice.generator);
}

}  // namespace aurigraph::loadgen
