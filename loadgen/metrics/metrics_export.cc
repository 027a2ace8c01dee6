#include "loadgen/metrics/metrics_export.h"

#include <exception>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace aurigraph::loadgen {

absl::StatusOr<std::unique_ptr<MetricsEndpoint>> MetricsEndpoint::Start(
    const std::string& address, const std::shared_ptr<prometheus::Collectable>& collectable) {
  std::unique_ptr<prometheus::Exposer> exposer;
  try {  // civetweb reports a port it cannot bind by throwing
    exposer = std::make_unique<prometheus::Exposer>(address, 1);
  } catch (const std::exception& e) {
    return absl::UnavailableError(
        absl::StrCat("--metrics-listen ", address, ": cannot listen (", e.what(), ")"));
  }
  exposer->RegisterCollectable(collectable);
  return std::unique_ptr<MetricsEndpoint>(new MetricsEndpoint(std::move(exposer)));
}

MetricsEndpoint::MetricsEndpoint(std::unique_ptr<prometheus::Exposer> exposer)
    : exposer_(std::move(exposer)) {}

void MetricsEndpoint::Add(const std::shared_ptr<prometheus::Collectable>& collectable) {
  exposer_->RegisterCollectable(collectable);
}

int MetricsEndpoint::port() const {
  const auto ports = exposer_->GetListeningPorts();
  return ports.empty() ? 0 : ports.front();
}

absl::StatusOr<std::unique_ptr<MetricsPusher>> MetricsPusher::Create(const std::string& url,
                                                                     const std::string& job,
                                                                     const std::string& instance) {
  // prometheus-cpp takes the scheme and host, and the port, apart.
  const size_t scheme_end = url.find("://");
  const size_t colon = url.rfind(':');
  if (!absl::StartsWith(url, "http://") && !absl::StartsWith(url, "https://")) {
    return absl::InvalidArgumentError(
        absl::StrCat("--push-gateway '", url, "': expected http://HOST:PORT"));
  }
  if (colon == std::string::npos || colon <= scheme_end + 2) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--push-gateway '", url, "': expected http://HOST:PORT (the port is required)"));
  }
  std::string port = url.substr(colon + 1);
  while (!port.empty() && port.back() == '/') port.pop_back();
  if (port.empty() || port.find_first_not_of("0123456789") != std::string::npos) {
    return absl::InvalidArgumentError(
        absl::StrCat("--push-gateway '", url, "': port '", port, "' is not a number"));
  }
  auto gateway = std::make_unique<prometheus::Gateway>(url.substr(0, colon), port, job,
                                                       prometheus::Labels{{"instance", instance}});
  return std::unique_ptr<MetricsPusher>(new MetricsPusher(url, std::move(gateway)));
}

MetricsPusher::MetricsPusher(std::string url, std::unique_ptr<prometheus::Gateway> gateway)
    : url_(std::move(url)), gateway_(std::move(gateway)) {}

MetricsPusher::~MetricsPusher() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void MetricsPusher::Add(const std::shared_ptr<prometheus::Collectable>& collectable) {
  gateway_->RegisterCollectable(collectable);
}

absl::Status MetricsPusher::Push() {
  const int http_status = gateway_->Push();
  if (http_status >= 200 && http_status < 300) return absl::OkStatus();
  return absl::UnavailableError(
      absl::StrCat("--push-gateway ", url_, ": push failed (",
                   http_status < 0 ? "cannot connect" : absl::StrCat("HTTP ", http_status), ")"));
}

void MetricsPusher::StartPeriodic(std::chrono::milliseconds interval) {
  thread_ = std::thread([this, interval] {
    std::unique_lock<std::mutex> lock(mu_);
    while (!cv_.wait_for(lock, interval, [this] { return stopping_; })) {
      lock.unlock();
      Push().IgnoreError();  // a missed periodic push is retried at the next one
      lock.lock();
    }
  });
}

absl::Status MetricsPusher::Finish() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
  return Push();
}

}  // namespace aurigraph::loadgen
