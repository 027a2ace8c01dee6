// StorageService's store as Prometheus metrics, read at scrape time:
// operations by kind, reads that found nothing, keys and value bytes held,
// writes refused at the bounds, and keys forgotten after deletion or expiry.
#pragma once

#include <prometheus/collectable.h>

#include <vector>

#include "reference-server/storage/kv_store.h"

namespace aurigraph::refserver {

class StorageMetrics : public prometheus::Collectable {
 public:
  explicit StorageMetrics(const KvStore& store) : store_(store) {}
  std::vector<prometheus::MetricFamily> Collect() const override;

 private:
  const KvStore& store_;
};

}  // namespace aurigraph::refserver
