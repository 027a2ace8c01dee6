#include "reference-server/metrics/contract_metrics.h"

#include "common/metrics/families.h"

namespace aurigraph::refserver {

std::vector<prometheus::MetricFamily> ContractMetrics::Collect() const {
  using metrics::AddFamily;
  using metrics::AddSample;
  using metrics::Family;
  using metrics::Read;
  using prometheus::MetricType;
  const ContractEngine::Counters& c = engine_.counters();
  std::vector<prometheus::MetricFamily> out;
  AddFamily(out, "aurigraph_refserver_contracts_deployed_total",
            "Contracts deployed (a source deployed again is not counted).", MetricType::Counter,
            Read(c.deployed));
  AddFamily(out, "aurigraph_refserver_contracts_stored", "Contracts held in the store.",
            MetricType::Gauge, static_cast<double>(engine_.contracts()));
  AddFamily(out, "aurigraph_refserver_contracts_refused_total",
            "Deployments refused with RESOURCE_EXHAUSTED: --contract-max-contracts were held.",
            MetricType::Counter, Read(c.refused_full));
  out.push_back(Family("aurigraph_refserver_contract_calls_total",
                       "Contract calls (init included), by outcome; a call that did not "
                       "commit changed nothing.",
                       MetricType::Counter));
  AddSample(out.back(), Read(c.committed), {{"outcome", "committed"}});
  AddSample(out.back(), Read(c.reverted), {{"outcome", "reverted"}});
  AddSample(out.back(), Read(c.out_of_gas), {{"outcome", "out_of_gas"}});
  AddSample(out.back(), Read(c.cancelled), {{"outcome", "cancelled"}});
  AddSample(out.back(), Read(c.refused_store), {{"outcome", "store_full"}});
  AddSample(out.back(), Read(c.invalid), {{"outcome", "invalid"}});
  AddSample(out.back(), Read(c.failed), {{"outcome", "failed"}});
  AddFamily(out, "aurigraph_refserver_contract_gas_total", "Gas used by committed calls.",
            MetricType::Counter, Read(c.gas));
  AddFamily(out, "aurigraph_refserver_contract_state_writes_total",
            "Contract state keys written by committed calls.", MetricType::Counter, Read(c.writes));
  return out;
}

}  // namespace aurigraph::refserver
