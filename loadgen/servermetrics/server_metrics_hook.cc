#include "loadgen/servermetrics/server_metrics_hook.h"

#include <curl/curl.h>

#include <cmath>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "loadgen/servermetrics/prometheus_histogram.h"

namespace aurigraph::loadgen {
namespace {

constexpr size_t kMaxExpositionBytes = 16 << 20;  // far above any real endpoint's page

size_t Append(char* data, size_t size, size_t count, void* out) {
  auto* body = static_cast<std::string*>(out);
  if (body->size() + size * count > kMaxExpositionBytes) return 0;  // ends the transfer
  body->append(data, size * count);
  return size * count;
}

absl::StatusOr<std::string> Get(const std::string& url, int64_t timeout_nanos) {
  CURL* curl = curl_easy_init();
  if (curl == nullptr) return absl::InternalError("libcurl did not start");
  std::string body;
  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, Append);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &body);
  curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, static_cast<long>(timeout_nanos / 1'000'000));
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http");
  const CURLcode code = curl_easy_perform(curl);
  long status = 0;
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
  curl_easy_cleanup(curl);
  if (code == CURLE_WRITE_ERROR) {
    return absl::ResourceExhaustedError(
        absl::StrCat("more than ", kMaxExpositionBytes >> 20, " MiB of metrics"));
  }
  if (code != CURLE_OK) return absl::UnavailableError(curl_easy_strerror(code));
  if (status != 200) return absl::UnavailableError(absl::StrCat("HTTP status ", status));
  return body;
}

class ServerMetricsHook final : public RunHook {
 public:
  explicit ServerMetricsHook(ServerMetricsSpec spec) : spec_(std::move(spec)) {
    before_.resize(spec_.scrape.size());
  }

  absl::Status BeforeLoad() override {
    for (size_t u = 0; u < spec_.scrape.size(); ++u) {
      auto readings = ReadAll(spec_.scrape[u]);
      if (!readings.ok()) {
        return absl::FailedPreconditionError(
            absl::StrCat("server_metrics: ", spec_.scrape[u], ": ", readings.status().message()));
      }
      before_[u] = *std::move(readings);
    }
    return absl::OkStatus();
  }

  void AfterLoad(RunEnd&) override {
    results_.clear();
    for (const ServerHistogramSpec& h : spec_.histograms) {
      ServerHistogramResult result;
      result.name = h.name;
      result.metric = h.metric;
      result.labels = h.labels;
      results_.push_back(std::move(result));
    }
    std::vector<HistogramReading> totals(spec_.histograms.size());
    for (size_t u = 0; u < spec_.scrape.size(); ++u) {
      const std::string& url = spec_.scrape[u];
      auto after = ReadAll(url);
      for (size_t h = 0; h < spec_.histograms.size(); ++h) {
        ServerHistogramResult& result = results_[h];
        if (!after.ok()) {
          result.missing.push_back(absl::StrCat(url, ": ", after.status().message()));
          continue;
        }
        bool restarted = false;
        const HistogramReading observed = ObservedBetween(before_[u][h], (*after)[h], &restarted);
        if (absl::Status added = AddReading(totals[h], observed); !added.ok()) {
          result.missing.push_back(absl::StrCat(url, ": ", added.message()));
          continue;
        }
        result.sources.push_back(url);
        if (restarted) {
          result.missing.push_back(
              absl::StrCat(url, ": restarted during the run; only what it observed since is in"));
        }
      }
    }
    for (size_t h = 0; h < totals.size(); ++h) {
      ServerHistogramResult& result = results_[h];
      result.count = totals[h].count;
      result.sum_seconds = totals[h].sum;
      for (const auto& [bound, cumulative] : totals[h].cumulative) {
        if (std::isfinite(bound)) result.buckets.push_back({bound, cumulative});
      }
    }
  }

  void OnResult(RunResult& result) override { result.server_histograms = results_; }

 private:
  // Every histogram of the scenario at `url`, in the scenario's order.
  absl::StatusOr<std::vector<HistogramReading>> ReadAll(const std::string& url) const {
    auto page = Get(url, spec_.timeout_nanos);
    if (!page.ok()) return page.status();
    std::vector<HistogramReading> readings;
    for (const ServerHistogramSpec& h : spec_.histograms) {
      auto reading = ReadHistogram(*page, h.metric, h.labels);
      if (!reading.ok()) return reading.status();
      readings.push_back(*std::move(reading));
    }
    return readings;
  }

  const ServerMetricsSpec spec_;
  std::vector<std::vector<HistogramReading>> before_;  // by endpoint, then histogram
  std::vector<ServerHistogramResult> results_;
};

}  // namespace

std::unique_ptr<RunHook> MakeServerMetricsHook(const ServerMetricsSpec& spec) {
  return std::make_unique<ServerMetricsHook>(spec);
}

}  // namespace aurigraph::loadgen
