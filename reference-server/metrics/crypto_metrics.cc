#include "reference-server/metrics/crypto_metrics.h"

#include "common/metrics/families.h"

namespace aurigraph::refserver {

std::vector<prometheus::MetricFamily> CryptoMetrics::Collect() const {
  using metrics::AddFamily;
  using metrics::AddSample;
  using prometheus::MetricType;
  const KeyStore::Counters& c = keys_.counters();
  std::vector<prometheus::MetricFamily> out;
  AddFamily(out, "aurigraph_refserver_crypto_signatures_total", "Signatures made (SignData).",
            MetricType::Counter, metrics::Read(c.signed_count));
  out.push_back(metrics::Family("aurigraph_refserver_crypto_verifications_total",
                                "Signatures verified (VerifySignature), by result.",
                                MetricType::Counter));
  AddSample(out.back(), metrics::Read(c.verified_valid), {{"result", "valid"}});
  AddSample(out.back(), metrics::Read(c.verified_invalid), {{"result", "invalid"}});
  out.push_back(metrics::Family("aurigraph_refserver_crypto_key_changes_total",
                                "Keys created, rotated to a new version, or given a derived one.",
                                MetricType::Counter));
  AddSample(out.back(), metrics::Read(c.created), {{"change", "created"}});
  AddSample(out.back(), metrics::Read(c.rotated), {{"change", "rotated"}});
  AddSample(out.back(), metrics::Read(c.derived), {{"change", "derived"}});
  AddFamily(out, "aurigraph_refserver_crypto_keys_stored", "Keys held by the key store.",
            MetricType::Gauge, static_cast<double>(keys_.size()));
  AddFamily(out, "aurigraph_refserver_crypto_keys_refused_total",
            "Key creations refused with RESOURCE_EXHAUSTED: the store held --crypto-max-keys.",
            MetricType::Counter, metrics::Read(c.refused_full));
  return out;
}

}  // namespace aurigraph::refserver
