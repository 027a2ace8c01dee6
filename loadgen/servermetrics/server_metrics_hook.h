// server_metrics: the target's own histograms (say a cluster's consensus round
// trips), read from its Prometheus endpoints over HTTP before the load and
// after it, so a run reports what the servers observed meanwhile beside what
// the generator measured. Warm-up is inside that window: a scrape has no
// finer time than the two reads.
#pragma once

#include <memory>

#include "loadgen/interfaces/run_hook.h"
#include "loadgen/scenario/scenario.h"

namespace aurigraph::loadgen {

// Before the load every endpoint must answer with every histogram (else the
// run does not start, naming which); after it, one that does not is listed as
// missing from the figures rather than failing the run.
std::unique_ptr<RunHook> MakeServerMetricsHook(const ServerMetricsSpec& spec);

}  // namespace aurigraph::loadgen
