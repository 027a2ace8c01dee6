#include "loadgen/webhook/webhook_session.h"

#include <chrono>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "aurigraph/webhook/v1/webhook.pb.h"
#include "loadgen/transport/grpc_transport.h"

namespace aurigraph::loadgen {

namespace wv1 = webhook::v1;

namespace {

constexpr char kService[] = "/aurigraph.webhook.v1.WebhookService/";
constexpr int64_t kCallTimeoutNanos = 10'000'000'000;
constexpr int64_t kPollNanos = 100'000'000;

template <typename Response>
absl::StatusOr<Response> Call(const std::shared_ptr<grpc::Channel>& channel, const char* method,
                              const google::protobuf::Message& request) {
  auto bytes = CallUnary(channel, absl::StrCat(kService, method), request.SerializeAsString(),
                         kCallTimeoutNanos);
  if (!bytes.ok()) return bytes.status();
  Response response;
  if (!response.ParseFromString(*bytes)) {
    return absl::DataLossError(absl::StrCat(kService, method, ": unreadable response"));
  }
  return response;
}

bool Unfinished(const wv1::WebhookDeliveryRecord& record) {
  return record.status() == wv1::DELIVERY_STATUS_PENDING ||
         record.status() == wv1::DELIVERY_STATUS_RETRY;
}

}  // namespace

struct WebhookSession::Impl {
  WebhookSessionSpec spec;
  std::shared_ptr<grpc::Channel> channel;
  const Clock& wall;
  std::unique_ptr<WebhookSink> sink;
  wv1::Webhook webhook;

  Impl(WebhookSessionSpec s, std::shared_ptr<grpc::Channel> c, const Clock& w)
      : spec(std::move(s)), channel(std::move(c)), wall(w) {}

  absl::StatusOr<std::vector<wv1::WebhookDeliveryRecord>> Records() {
    std::vector<wv1::WebhookDeliveryRecord> records;
    wv1::DeliveryHistoryRequest request;
    request.set_webhook_id(webhook.webhook_id());
    request.mutable_page()->set_page_size(1000);
    for (;;) {
      auto page = Call<wv1::DeliveryHistoryResponse>(channel, "GetDeliveryHistory", request);
      if (!page.ok()) return page.status();
      for (auto& record : *page->mutable_deliveries()) records.push_back(std::move(record));
      if (page->next_page_token().empty()) return records;
      request.mutable_page()->set_page_token(page->next_page_token());
    }
  }
};

absl::StatusOr<std::unique_ptr<WebhookSession>> WebhookSession::Start(
    const WebhookSessionSpec& spec, std::shared_ptr<grpc::Channel> channel, const Clock& wall) {
  wv1::CreateWebhookRequest request;
  request.set_owner_id("aurigraph-loadgen");
  for (const std::string& name : spec.events) {
    wv1::WebhookEvent event;
    const std::string full =
        absl::StartsWith(name, "WEBHOOK_EVENT_") ? name : absl::StrCat("WEBHOOK_EVENT_", name);
    if (!wv1::WebhookEvent_Parse(full, &event) || event == wv1::WEBHOOK_EVENT_UNSPECIFIED) {
      return absl::InvalidArgumentError(absl::StrCat(
          "webhook_sink.events: unknown event '", name,
          "' (APPROVAL_CREATED, APPROVAL_UPDATED, APPROVAL_FINALIZED, TRANSACTION_COMMITTED)"));
    }
    request.add_events(event);
  }
  auto impl = std::make_unique<Impl>(spec, std::move(channel), wall);
  auto sink = WebhookSink::Start(spec.sink, wall);
  if (!sink.ok()) return sink.status();
  impl->sink = *std::move(sink);
  request.set_url(impl->sink->url());
  request.set_max_attempts(spec.max_attempts);
  request.set_timeout_ms(spec.timeout_nanos / 1'000'000);
  auto webhook = Call<wv1::Webhook>(impl->channel, "CreateWebhook", request);
  if (!webhook.ok()) {
    return absl::Status(
        webhook.status().code(),
        absl::StrCat("webhook_sink: registering the webhook failed: ", webhook.status().message()));
  }
  impl->webhook = *std::move(webhook);
  impl->sink->AddWebhook(impl->webhook.webhook_id(), impl->webhook.secret());
  return std::unique_ptr<WebhookSession>(new WebhookSession(std::move(impl)));
}

WebhookSession::WebhookSession(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

WebhookSession::~WebhookSession() {
  wv1::DeleteWebhookRequest request;
  request.set_webhook_id(impl_->webhook.webhook_id());
  Call<wv1::DeleteWebhookResponse>(impl_->channel, "DeleteWebhook", request).IgnoreError();
}

absl::StatusOr<WebhookResult> WebhookSession::Finish() {
  const int64_t drain_start = impl_->wall.NowNanos();
  std::vector<wv1::WebhookDeliveryRecord> records;
  for (;;) {
    auto fetched = impl_->Records();
    if (!fetched.ok()) return fetched.status();
    records = *std::move(fetched);
    const bool settled = std::none_of(records.begin(), records.end(), Unfinished);
    if (settled || impl_->wall.NowNanos() - drain_start >= impl_->spec.drain_nanos) break;
    std::this_thread::sleep_for(std::chrono::nanoseconds(kPollNanos));
  }
  WebhookResult r;
  r.drain_seconds = static_cast<double>(impl_->wall.NowNanos() - drain_start) / 1e9;
  r.webhook_id = impl_->webhook.webhook_id();
  for (int event : impl_->webhook.events()) {
    r.events.push_back(wv1::WebhookEvent_Name(static_cast<wv1::WebhookEvent>(event)));
  }
  r.sink_fail_ratio = impl_->spec.sink.fail_ratio;
  r.sink_delay_us = impl_->spec.sink.delay_nanos / 1000;
  r.records = static_cast<int64_t>(records.size());
  for (const auto& record : records) {
    r.attempts += record.attempts_size();
    if (impl_->sink->Received(record.delivery_id())) {
      ++r.succeeded;
    } else if (record.status() == wv1::DELIVERY_STATUS_DEAD_LETTERED) {
      ++r.dead_lettered;
    } else if (record.status() == wv1::DELIVERY_STATUS_FAILED) {
      ++r.failed;
    } else {
      // Pending at the end of the drain, or reported delivered without reaching the sink.
      ++r.missing;
      if (Unfinished(record)) ++r.unfinished;
    }
  }
  const WebhookSinkStats stats = impl_->sink->Stats();
  r.requests = stats.requests;
  r.deliveries = stats.deliveries;
  r.duplicates = stats.duplicates;
  r.injected_failures = stats.injected_failures;
  r.invalid_signatures = stats.invalid_signatures;
  r.stale_timestamps = stats.stale_timestamps;
  r.unknown_webhooks = stats.unknown_webhooks;
  r.malformed_bodies = stats.malformed_bodies;
  for (const auto& [attempt, count] : stats.accepted_by_attempt) {
    r.accepted_by_attempt[absl::StrCat(attempt)] = count;
  }
  const int64_t span = stats.last_delivery_unix_nanos - stats.first_delivery_unix_nanos;
  r.delivery_rate = stats.deliveries >= 2 && span > 0
                        ? static_cast<double>(stats.deliveries - 1) * 1e9 / span
                        : 0;
  r.latency = std::make_shared<Histogram>(stats.latency_us);
  return r;
}

}  // namespace aurigraph::loadgen
