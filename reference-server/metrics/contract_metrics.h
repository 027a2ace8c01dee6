// ContractService's engine as Prometheus metrics, read at scrape time:
// contracts deployed and held, calls by outcome, gas burnt and state written.
#pragma once

#include <prometheus/collectable.h>

#include <vector>

#include "reference-server/contract/contract_engine.h"

namespace aurigraph::refserver {

class ContractMetrics : public prometheus::Collectable {
 public:
  explicit ContractMetrics(const ContractEngine& engine) : engine_(engine) {}
  std::vector<prometheus::MetricFamily> Collect() const override;

 private:
  const ContractEngine& engine_;
};

}  // namespace aurigraph::refserver
