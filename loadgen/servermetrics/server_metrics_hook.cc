#include "loadgen/servermetrics/server_metrics_hook.h"

#include <curl/curl.h>

#include <algorithm>
#include <cmath>
#include <mutex>
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
  static std::once_flag curl_started;
  std::call_once(curl_started, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
  CURL* curl = curl_easy_init();
  if (curl == nullptr) return absl::InternalError("libcurl did not start");
  std::string body;
  char error[CURL_ERROR_SIZE] = "";
  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, Append);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &body);
  curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, error);
  // 0 would mean no timeout at all.
  curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS,
                   static_cast<long>(std::max<int64_t>(1, timeout_nanos / 1'000'000)));
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl, CURLOPT_NOPROXY, "*");  // the target's own endpoints, never a proxy
  curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http");
  const CURLcode code = curl_easy_perform(curl);
  long status = 0;
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
  curl_easy_cleanup(curl);
  if (code == CURLE_WRITE_ERROR) {
    return absl::ResourceExhaustedError(
        absl::StrCat("more than ", kMaxExpositionBytes >> 20, " MiB of metrics"));
  }
  if (code != CURLE_OK) {
    return absl::UnavailableError(error[0] != '\0' ? error : curl_easy_strerror(code));
  }
  if (status != 200) return absl::UnavailableError(absl::StrCat("HTTP status ", status));
  return body;
}

class ServerMetricsHook final : public RunHook {
 public:
  explicit ServerMetricsHook(ServerMetricsSpec spec) : spec_(std::move(spec)) {
    before_.resize(spec_.scrape.size());
  }

  // Every endpoint must answer, and hold each histogram as a histogram, or no
  // series of it yet (many exporters create a labelled series on its first
  // observation): that one starts from nothing.
  absl::Status BeforeLoad() override {
    for (size_t u = 0; u < spec_.scrape.size(); ++u) {
      const std::string& url = spec_.scrape[u];
      auto page = Get(url, spec_.timeout_nanos);
      if (!page.ok()) {
        return absl::FailedPreconditionError(
            absl::StrCat("server_metrics: ", url, ": ", page.status().message()));
      }
      for (const ServerHistogramSpec& h : spec_.histograms) {
        auto reading = ReadHistogram(*page, h.metric, h.labels);
        if (!reading.ok() && !absl::IsNotFound(reading.status())) {
          return absl::FailedPreconditionError(
              absl::StrCat("server_metrics: ", url, ": ", reading.status().message()));
        }
        before_[u].push_back(reading.ok() ? *std::move(reading) : HistogramReading{});
      }
    }
    return absl::OkStatus();
  }

  void AfterLoad(RunEnd&) override {
    results_.clear();
    std::vector<HistogramReading> totals(spec_.histograms.size());
    for (const ServerHistogramSpec& h : spec_.histograms) {
      ServerHistogramResult result;
      result.name = h.name;
      result.metric = h.metric;
      result.labels = h.labels;
      results_.push_back(std::move(result));
    }
    for (size_t u = 0; u < spec_.scrape.size(); ++u) {
      const std::string& url = spec_.scrape[u];
      auto page = Get(url, spec_.timeout_nanos);
      for (size_t h = 0; h < spec_.histograms.size(); ++h) {
        ServerHistogramResult& result = results_[h];
        auto after =
            page.ok() ? ReadHistogram(*page, spec_.histograms[h].metric, spec_.histograms[h].labels)
                      : absl::StatusOr<HistogramReading>(page.status());
        if (!after.ok()) {
          result.missing.push_back(absl::StrCat(url, ": ", after.status().message()));
          continue;
        }
        bool restarted = false;
        const HistogramReading observed = ObservedBetween(before_[u][h], *after, &restarted);
        if (absl::Status added = AddReading(totals[h], observed); !added.ok()) {
          result.missing.push_back(absl::StrCat(url, ": ", added.message()));
          continue;
        }
        result.sources.push_back(url);
        if (restarted) result.restarted.push_back(url);
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
  const ServerMetricsSpec spec_;
  std::vector<std::vector<HistogramReading>> before_;  // by endpoint, then histogram
  std::vector<ServerHistogramResult> results_;
};

}  // namespace

std::unique_ptr<RunHook> MakeServerMetricsHook(const ServerMetricsSpec& spec) {
  return std::make_unique<ServerMetricsHook>(spec);
}

}  // namespace aurigraph::loadgen
