// CryptoService's key store as Prometheus metrics, read at scrape time:
// signatures made, verifications by result, keys created, rotated, derived
// and held, and creations refused because the store was full. Counts only:
// no key id or key material is ever a label.
#pragma once

#include <prometheus/collectable.h>

#include <vector>

#include "reference-server/crypto/key_store.h"

namespace aurigraph::refserver {

class CryptoMetrics : public prometheus::Collectable {
 public:
  explicit CryptoMetrics(const KeyStore& keys) : keys_(keys) {}
  std::vector<prometheus::MetricFamily> Collect() const override;

 private:
  const KeyStore& keys_;
};

}  // namespace aurigraph::refserver
