#include "loadgen/hooks/aurigraph_hooks.h"

#include <grpcpp/grpcpp.h>

#include <utility>

#include "absl/strings/str_cat.h"
#include "aurigraph/consensus/v1/consensus.pb.h"
#include "common/clock/clock.h"
#include "loadgen/catalog/catalog.h"
#include "loadgen/payload/message_fields.h"
#include "loadgen/transport/grpc_transport.h"
#include "loadgen/webhook/webhook_session.h"

namespace aurigraph::loadgen {

LeaderFinder MakeAurigraphLeaderFinder(const ChannelOptions& channel) {
  return [channel](const std::vector<std::string>& addresses) -> absl::StatusOr<std::string> {
    constexpr int64_t kTimeoutNanos = 2'000'000'000;
    std::string answers;
    for (const std::string& address : addresses) {
      auto channels = CreateChannels(address, 1, channel);
      if (!channels.ok()) return channels.status();
      auto response =
          CallUnary(channels->front(), "/aurigraph.consensus.v1.ConsensusService/GetNodeState", "",
                    kTimeoutNanos);
      aurigraph::consensus::v1::NodeState state;
      if (!response.ok() || !state.ParseFromString(*response)) {
        absl::StrAppend(&answers, answers.empty() ? "" : ", ", address, ": ",
                        response.ok() ? "bad NodeState" : response.status().message());
        continue;
      }
      if (state.role() == aurigraph::consensus::v1::NODE_ROLE_LEADER) return address;
      absl::StrAppend(&answers, answers.empty() ? "" : ", ", address, ": ",
                      aurigraph::consensus::v1::NodeRole_Name(state.role()));
    }
    return absl::UnavailableError(absl::StrCat("no node leads (", answers, ")"));
  };
}

namespace {

// Registers a webhook before the load, so the run's events are delivered to
// the sink, and reconciles the deliveries after it.
class WebhookDeliveries final : public RunHook {
 public:
  WebhookDeliveries(WebhookSessionSpec spec, const GrpcTransportFactory& wire)
      : spec_(std::move(spec)), wire_(wire) {}

  absl::Status BeforeLoad() override {
    auto session = WebhookSession::Start(spec_, wire_.channel(), WallClock::Instance());
    if (!session.ok()) return session.status();
    session_ = *std::move(session);
    return absl::OkStatus();
  }

  void AfterLoad(RunEnd& /*end*/) override {
    auto webhooks = session_->Finish();
    result_ =
        std::make_shared<WebhookResult>(webhooks.ok() ? *std::move(webhooks) : WebhookResult{});
    if (!webhooks.ok()) result_->error = std::string(webhooks.status().message());
  }

  void OnResult(RunResult& result) override { result.webhooks = result_; }

 private:
  const WebhookSessionSpec spec_;
  const GrpcTransportFactory& wire_;
  std::unique_ptr<WebhookSession> session_;
  std::shared_ptr<WebhookResult> result_;
};

// The target's memory, as its CheckHealth reports it (the bundled reference server does).
class ServerMemoryReport final : public RunHook {
 public:
  explicit ServerMemoryReport(const GrpcTransportFactory& wire) : wire_(wire) {}

  absl::Status BeforeLoad() override { return absl::OkStatus(); }

  void AfterLoad(RunEnd& end) override {
    auto method = FindBundledMethod("aurigraph.approval.v1.ApprovalService/CheckHealth");
    if (!method.ok()) return;
    auto response = CallUnary(wire_.channel(), method->path, "", 2'000'000'000);
    if (!response.ok()) return;
    for (auto [field, out] : {std::pair{"peak_resident_memory_bytes", &end.server_peak_rss_bytes},
                              std::pair{"resident_memory_bytes", &end.server_rss_bytes}}) {
      auto path = FieldPath::Resolve(*method->response_type, field);
      if (!path.ok()) continue;
      const auto value = path->ReadInt(*response);
      if (value && *value > 0) *out = *value;
    }
  }

 private:
  const GrpcTransportFactory& wire_;
};

WebhookSessionSpec SessionSpec(const Scenario& scenario) {
  const WebhookSinkSpec& w = scenario.webhook_sink;
  WebhookSessionSpec spec;
  spec.sink.listen = w.listen;
  spec.sink.fail_ratio = w.fail_ratio;
  spec.sink.delay_nanos = w.delay_nanos;
  spec.sink.timestamp_window_seconds = w.timestamp_window_nanos / 1'000'000'000;
  spec.sink.seed = scenario.seed;
  spec.events = w.events;
  spec.max_attempts = w.max_attempts;
  spec.timeout_nanos = w.timeout_nanos;
  spec.drain_nanos = w.drain_nanos;
  return spec;
}

}  // namespace

std::vector<std::unique_ptr<RunHook>> MakeAurigraphHooks(const Scenario& scenario,
                                                         const GrpcTransportFactory& wire) {
  std::vector<std::unique_ptr<RunHook>> hooks;
  if (scenario.webhook_sink.enabled) {
    hooks.push_back(std::make_unique<WebhookDeliveries>(SessionSpec(scenario), wire));
  }
  if (scenario.report_server_memory) hooks.push_back(std::make_unique<ServerMemoryReport>(wire));
  return hooks;
}

}  // namespace aurigraph::loadgen
