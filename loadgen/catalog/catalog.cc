#include "loadgen/catalog/catalog.h"

#include <google/protobuf/descriptor.h>

#include "absl/strings/str_cat.h"
#include "aurigraph/approval/v1/approval.pb.h"
#include "aurigraph/consensus/v1/consensus.pb.h"
#include "aurigraph/transaction/v1/transaction.pb.h"
#include "aurigraph/webhook/v1/webhook.pb.h"

namespace aurigraph::loadgen {
namespace {

// Touching one descriptor per file registers it in the generated pool (and keeps
// the linker from dropping the generated code).
const google::protobuf::DescriptorPool& BundledPool() {
  static const bool registered = [] {
    aurigraph::approval::v1::ApprovalRequest::descriptor();
    aurigraph::transaction::v1::Transaction::descriptor();
    aurigraph::webhook::v1::Webhook::descriptor();
    aurigraph::consensus::v1::LogEntry::descriptor();
    return true;
  }();
  (void)registered;
  return *google::protobuf::DescriptorPool::generated_pool();
}

}  // namespace

absl::StatusOr<MethodInfo> FindBundledMethod(const std::string& rpc) {
  const size_t slash = rpc.find('/');
  if (slash == std::string::npos || slash == 0 || slash + 1 == rpc.size()) {
    return absl::InvalidArgumentError(
        absl::StrCat("rpc '", rpc, "' is not of the form package.Service/Method"));
  }
  const std::string service = rpc.substr(0, slash);
  const std::string method_name = rpc.substr(slash + 1);
  const auto* service_descriptor = BundledPool().FindServiceByName(service);
  if (service_descriptor == nullptr) {
    return absl::NotFoundError(absl::StrCat("unknown rpc '", rpc, "': no service ", service,
                                            " in the bundled Aurigraph API"));
  }
  const auto* method = service_descriptor->FindMethodByName(method_name);
  if (method == nullptr) {
    return absl::NotFoundError(
        absl::StrCat("unknown rpc '", rpc, "': ", service, " has no method ", method_name));
  }
  MethodInfo info;
  info.path = absl::StrCat("/", service, "/", method_name);
  info.request_type = method->input_type();
  info.response_type = method->output_type();
  if (method->client_streaming() && method->server_streaming())
    info.kind = CallKind::kBidiStreaming;
  else if (method->client_streaming())
    info.kind = CallKind::kClientStreaming;
  else if (method->server_streaming())
    info.kind = CallKind::kServerStreaming;
  return info;
}

}  // namespace aurigraph::loadgen
