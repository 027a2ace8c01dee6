// Prometheus metrics of a run, updated once per interval from the run's
// timeline (on the collector's thread, never on the request path): requests
// and errors by operation and gRPC code, stream messages, items, requests in
// flight, achieved versus target rate, latency as a Prometheus histogram with
// buckets around the SLO boundaries, and the exact HDR percentiles of the last
// interval as gauges (Prometheus histograms only approximate percentiles).
// Labels are bounded: operation, rpc, grpc_code, percentile; never per request.
#pragma once

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <memory>
#include <string>
#include <vector>

#include "loadgen/interfaces/interval_observer.h"

namespace aurigraph::loadgen {

// Latency histogram bucket bounds, seconds: fine around the 20 ms SLO.
const std::vector<double>& LatencyBucketsSeconds();

class RunMetrics : public IntervalObserver {
 public:
  explicit RunMetrics(prometheus::Registry& registry);

  void OnRunStart(const RunDescription& run) override;
  void OnInterval(const IntervalSlice& slice, const TimelinePoint& point) override;

 private:
  struct OperationMetrics {
    prometheus::Histogram* latency;
    prometheus::Counter* items;
    prometheus::Counter* messages;  // streams only
    prometheus::Gauge* rate;
    std::vector<prometheus::Gauge*> percentiles;  // one per kPercentiles
    std::vector<prometheus::Counter*> by_code;    // requests (unary) by code, made on first use
    std::vector<prometheus::Counter*> errors_by_code;
    std::vector<prometheus::Histogram*> failed_latency;  // by code, made on first use
    std::vector<prometheus::Counter*> finality;          // finality only: by outcome
  };
  prometheus::Counter& CodeCounter(prometheus::Family<prometheus::Counter>& family,
                                   std::vector<prometheus::Counter*>& cache, size_t operation,
                                   int code);

  prometheus::Registry& registry_;
  std::vector<OperationDescription> operation_info_;
  prometheus::Family<prometheus::Histogram>& latency_;
  prometheus::Family<prometheus::Histogram>& failed_latency_;
  prometheus::Family<prometheus::Counter>& items_;
  prometheus::Family<prometheus::Counter>& messages_;
  prometheus::Family<prometheus::Gauge>& rate_;
  prometheus::Family<prometheus::Gauge>& percentiles_;
  prometheus::Family<prometheus::Counter>& requests_;
  prometheus::Family<prometheus::Counter>& errors_;
  prometheus::Family<prometheus::Counter>& finality_;
  prometheus::Counter& sent_;
  prometheus::Gauge& in_flight_;
  prometheus::Gauge& elapsed_;
  prometheus::Histogram& schedule_lag_;
  prometheus::Family<prometheus::Gauge>& schedule_lag_last_;
  prometheus::Gauge& schedule_lag_p99_;
  prometheus::Gauge& schedule_lag_max_;
  std::vector<OperationMetrics> operations_;
  int64_t sent_total_ = 0;
  int64_t unary_completed_total_ = 0;
};

}  // namespace aurigraph::loadgen
