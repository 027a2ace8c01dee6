// The REST gateway's HTTP server (http/http_server.h) as Prometheus metrics
// read at scrape time: responses by HTTP status, connections, and what the
// server refused or timed out itself.
#pragma once

#include <prometheus/collectable.h>

#include <vector>

#include "reference-server/http/http_server.h"

namespace aurigraph::refserver {

class RestMetrics : public prometheus::Collectable {
 public:
  explicit RestMetrics(const http::Server& server) : server_(server) {}
  std::vector<prometheus::MetricFamily> Collect() const override;

 private:
  const http::Server& server_;
};

}  // namespace aurigraph::refserver
