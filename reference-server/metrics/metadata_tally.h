// Counts the requests (unary calls and stream opens) that carried each value
// of chosen request headers, so a client's metadata can be checked end to end
// against what the server received. Exported to Prometheus as
// aurigraph_refserver_request_metadata_total{key, value}; values past the first
// 1,000 of a header count as value="(other)", which bounds the series.
// Headers that carry credentials are refused (CheckCountable): their values
// would be published to anyone who can read the metrics.
#pragma once

#include <grpcpp/support/server_interceptor.h>
#include <prometheus/collectable.h>

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"

namespace aurigraph::refserver {

// InvalidArgument when `header` looks like it carries a credential: its name
// contains authorization, cookie, token, secret, password or key (the rule
// the loadgen uses to redact metadata from results).
absl::Status CheckCountable(const std::string& header);

class MetadataTally final : public prometheus::Collectable {
 public:
  explicit MetadataTally(std::vector<std::string> keys);

  // For ServerBuilder::experimental().SetInterceptorCreators; the factory
  // refers to this object, which must outlive the server.
  std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface> InterceptorFactory();

  // Requests that carried `key` with `value`.
  int64_t Count(const std::string& key, const std::string& value) const;
  // Every (key, value) seen, with its count.
  std::map<std::pair<std::string, std::string>, int64_t> Counts() const;
  std::vector<prometheus::MetricFamily> Collect() const override;

  // Records one request's headers; called by the interceptor.
  void Record(const std::multimap<grpc::string_ref, grpc::string_ref>& headers);

 private:
  std::vector<std::string> keys_;
  mutable std::mutex mu_;
  std::map<std::pair<std::string, std::string>, int64_t> counts_;
  std::map<std::string, int> distinct_values_;
};

}  // namespace aurigraph::refserver
