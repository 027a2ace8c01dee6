#include "reference-server/metrics/metadata_tally.h"

#include <prometheus/metric_family.h>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace aurigraph::refserver {
namespace {

constexpr int kMaxValuesPerKey = 1000;
constexpr char kOtherValue[] = "(other)";

using grpc::experimental::InterceptionHookPoints;

class TallyInterceptor final : public grpc::experimental::Interceptor {
 public:
  explicit TallyInterceptor(MetadataTally& tally) : tally_(tally) {}
  void Intercept(grpc::experimental::InterceptorBatchMethods* methods) override {
    if (methods->QueryInterceptionHookPoint(InterceptionHookPoints::POST_RECV_INITIAL_METADATA)) {
      tally_.Record(*methods->GetRecvInitialMetadata());
    }
    methods->Proceed();
  }

 private:
  MetadataTally& tally_;
};

class TallyInterceptorFactory final : public grpc::experimental::ServerInterceptorFactoryInterface {
 public:
  explicit TallyInterceptorFactory(MetadataTally& tally) : tally_(tally) {}
  grpc::experimental::Interceptor* CreateServerInterceptor(
      grpc::experimental::ServerRpcInfo*) override {
    return new TallyInterceptor(tally_);
  }

 private:
  MetadataTally& tally_;
};

}  // namespace

absl::Status CheckCountable(const std::string& header) {
  const std::string name = absl::AsciiStrToLower(header);
  for (const char* secret : {"authorization", "cookie", "token", "secret", "password", "key"}) {
    if (absl::StrContains(name, secret)) {
      return absl::InvalidArgumentError(
          absl::StrCat("--count-metadata: '", header,
                       "' looks like a credential header; counting it would export its values "
                       "as metric labels"));
    }
  }
  return absl::OkStatus();
}

MetadataTally::MetadataTally(std::vector<std::string> keys) : keys_(std::move(keys)) {}

std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>
MetadataTally::InterceptorFactory() {
  return std::make_unique<TallyInterceptorFactory>(*this);
}

void MetadataTally::Record(const std::multimap<grpc::string_ref, grpc::string_ref>& headers) {
  for (const std::string& key : keys_) {
    const auto [begin, end] = headers.equal_range(grpc::string_ref(key));
    for (auto it = begin; it != end; ++it) {
      std::string value(it->second.data(), it->second.size());
      std::lock_guard lock(mu_);
      auto found = counts_.find({key, value});
      if (found == counts_.end()) {
        if (distinct_values_[key] >= kMaxValuesPerKey) {
          value = kOtherValue;
        } else {
          ++distinct_values_[key];
        }
        found = counts_.try_emplace({key, std::move(value)}, 0).first;
      }
      ++found->second;
    }
  }
}

int64_t MetadataTally::Count(const std::string& key, const std::string& value) const {
  std::lock_guard lock(mu_);
  const auto found = counts_.find({key, value});
  return found == counts_.end() ? 0 : found->second;
}

std::map<std::pair<std::string, std::string>, int64_t> MetadataTally::Counts() const {
  std::lock_guard lock(mu_);
  return counts_;
}

std::vector<prometheus::MetricFamily> MetadataTally::Collect() const {
  prometheus::MetricFamily family;
  family.name = "aurigraph_refserver_request_metadata_total";
  family.help = "Requests (unary calls and stream opens) that carried a counted header value.";
  family.type = prometheus::MetricType::Counter;
  for (const auto& [key_value, count] : Counts()) {
    prometheus::ClientMetric metric;
    metric.label = {{"key", key_value.first}, {"value", key_value.second}};
    metric.counter.value = static_cast<double>(count);
    family.metric.push_back(std::move(metric));
  }
  return {std::move(family)};
}

}  // namespace aurigraph::refserver
