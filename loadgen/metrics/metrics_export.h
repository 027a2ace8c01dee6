// Where a run's metrics go: served over HTTP for Prometheus to scrape during the
// run (--metrics-listen), and/or pushed to a Pushgateway at an interval and once
// more at the end (--push-gateway), for runs too short to be scraped (CI).
#pragma once

#include <prometheus/exposer.h>
#include <prometheus/gateway.h>
#include <prometheus/registry.h>

#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "absl/status/statusor.h"

namespace aurigraph::loadgen {

// Serves every registered collectable at http://ADDRESS/metrics.
class MetricsEndpoint {
 public:
  // "HOST:PORT" (port 0 picks a free one); UNAVAILABLE when it cannot be bound.
  static absl::StatusOr<std::unique_ptr<MetricsEndpoint>> Start(
      const std::string& address, const std::shared_ptr<prometheus::Collectable>& collectable);
  void Add(const std::shared_ptr<prometheus::Collectable>& collectable);
  int port() const;

 private:
  explicit MetricsEndpoint(std::unique_ptr<prometheus::Exposer> exposer);
  std::unique_ptr<prometheus::Exposer> exposer_;
};

class MetricsPusher {
 public:
  // `url`: http://HOST:PORT of a Pushgateway. Pushes replace the group
  // job/<job>/instance/<instance> each time.
  static absl::StatusOr<std::unique_ptr<MetricsPusher>> Create(const std::string& url,
                                                               const std::string& job,
                                                               const std::string& instance);
  ~MetricsPusher();
  void Add(const std::shared_ptr<prometheus::Collectable>& collectable);
  // Pushes every `interval` on a thread of its own until Finish.
  void StartPeriodic(std::chrono::milliseconds interval);
  // Stops the periodic pushes and pushes the final values; an error names the gateway.
  absl::Status Finish();

 private:
  MetricsPusher(std::string url, std::unique_ptr<prometheus::Gateway> gateway);
  absl::Status Push();

  const std::string url_;
  std::unique_ptr<prometheus::Gateway> gateway_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace aurigraph::loadgen
