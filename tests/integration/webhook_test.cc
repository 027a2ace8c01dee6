// Webhooks end to end: the reference server's registry, delivery through
// Kafka (librdkafka's mock cluster, on loopback), signed HTTP POSTs with
// retries and a dead-letter topic, received and checked by the loadgen's sink.
#include <curl/curl.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <array>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "absl/strings/str_cat.h"
#include "aurigraph/approval/v1/approval.grpc.pb.h"
#include "aurigraph/webhook/v1/webhook.grpc.pb.h"
#include "common/clock/clock.h"
#include "common/webhook_signature/webhook_signature.h"
#include "loadgen/hooks/aurigraph_hooks.h"
#include "loadgen/transport/grpc_transport_factory.h"
#include "loadgen/webhook/webhook_sink.h"
#include "tests/integration/harness.h"

namespace aurigraph {
namespace {

namespace av1 = approval::v1;
namespace wv1 = webhook::v1;
using loadgen::WebhookSink;
using loadgen::WebhookSinkOptions;

std::unique_ptr<WebhookSink> StartSink(WebhookSinkOptions options = {}) {
  auto sink = WebhookSink::Start(options, WallClock::Instance());
  EXPECT_TRUE(sink.ok()) << sink.status();
  return *std::move(sink);
}

refserver::ServerOptions FastRetries(int64_t backoff_nanos = 50'000'000) {
  refserver::ServerOptions options;
  options.delivery.retry.initial_backoff_nanos = backoff_nanos;
  return options;
}

struct Client {
  explicit Client(const std::string& address)
      : channel(grpc::CreateChannel(address, grpc::InsecureChannelCredentials())),
        webhooks(wv1::WebhookService::NewStub(channel)),
        approvals(av1::ApprovalService::NewStub(channel)) {}

  wv1::Webhook Create(const std::string& url, std::vector<wv1::WebhookEvent> events,
                      int max_attempts = 0) {
    wv1::CreateWebhookRequest request;
    request.set_owner_id("qa");
    request.set_url(url);
    for (auto event : events) request.add_events(event);
    request.set_max_attempts(max_attempts);
    request.set_timeout_ms(2000);
    wv1::Webhook webhook;
    grpc::ClientContext context;
    const grpc::Status status = webhooks->CreateWebhook(&context, request, &webhook);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return webhook;
  }
  wv1::WebhookDeliveryRecord Trigger(const std::string& webhook_id,
                                     const std::string& payload = "") {
    wv1::TriggerWebhookRequest request;
    request.set_webhook_id(webhook_id);
    request.set_event(wv1::WEBHOOK_EVENT_APPROVAL_CREATED);
    request.set_payload(payload);
    wv1::WebhookDeliveryRecord queued;
    grpc::ClientContext context;
    const grpc::Status status = webhooks->TriggerWebhook(&context, request, &queued);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return queued;
  }
  std::vector<wv1::WebhookDeliveryRecord> History(const std::string& webhook_id) {
    std::vector<wv1::WebhookDeliveryRecord> out;
    wv1::DeliveryHistoryRequest request;
    request.set_webhook_id(webhook_id);
    request.mutable_page()->set_page_size(1000);
    for (;;) {
      wv1::DeliveryHistoryResponse response;
      grpc::ClientContext context;
      EXPECT_TRUE(webhooks->GetDeliveryHistory(&context, request, &response).ok());
      out.insert(out.end(), response.deliveries().begin(), response.deliveries().end());
      if (response.next_page_token().empty()) return out;
      request.mutable_page()->set_page_token(response.next_page_token());
    }
  }

  std::shared_ptr<grpc::Channel> channel;
  std::unique_ptr<wv1::WebhookService::Stub> webhooks;
  std::unique_ptr<av1::ApprovalService::Stub> approvals;
};

// Polls `done` every 20 ms for up to `seconds`.
template <typename Done>
bool WaitFor(Done done, double seconds) {
  const auto until = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  while (std::chrono::steady_clock::now() < until) {
    if (done()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return done();
}

// The embedded Kafka cluster costs about 5% of a core while idle: a server
// starts it with its first webhook (or at start when its registry holds one),
// and events before then have nowhere to go.
TEST(Webhooks, TheEmbeddedKafkaStartsWithTheFirstWebhook) {
  const auto dir = std::filesystem::temp_directory_path() / "webhook-kafka-lazy";
  std::filesystem::remove_all(dir);
  refserver::ServerOptions options = FastRetries();
  options.webhooks.data_dir = dir.string();
  auto server = StartServer(options);
  EXPECT_FALSE(server->kafka_started());
  auto result = RunYaml(R"(
requests: 20
load: {model: closed, concurrency: 2}
operations:
  - rpc: aurigraph.approval.v1.ApprovalService/SubmitApprovalRequest
    request: {approval_id: "lazy-${uuid}", total_validators: 3, required_approvals: 2}
)",
                        server->address());
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->total.ok, 20);
  EXPECT_FALSE(server->kafka_started());
  EXPECT_EQ(server->deliveries().queued.load(), 0);

  auto sink = StartSink();
  Client client(server->address());
  const wv1::Webhook webhook = client.Create(sink->url(), {wv1::WEBHOOK_EVENT_APPROVAL_CREATED});
  EXPECT_TRUE(server->kafka_started());
  sink->AddWebhook(webhook.webhook_id(), webhook.secret());
  client.Trigger(webhook.webhook_id());
  ASSERT_TRUE(WaitFor([&] { return sink->Stats().deliveries == 1; }, 10));

  // Restarted over its registry: Kafka at once, for the webhook it holds.
  server.reset();
  auto restarted = StartServer(options);
  EXPECT_TRUE(restarted->kafka_started());
  Client again(restarted->address());
  again.Trigger(webhook.webhook_id());
  ASSERT_TRUE(WaitFor([&] { return sink->Stats().deliveries == 2; }, 10));
  restarted.reset();
  std::filesystem::remove_all(dir);
}

TEST(Webhooks, ApprovalEventsAreDeliveredSignedThroughKafka) {
  auto server = StartServer(FastRetries());
  auto sink = StartSink();
  Client client(server->address());
  const wv1::Webhook webhook = client.Create(sink->url(), {wv1::WEBHOOK_EVENT_APPROVAL_CREATED});
  ASSERT_FALSE(webhook.secret().empty());
  sink->AddWebhook(webhook.webhook_id(), webhook.secret());
  auto result = RunYaml(R"(
requests: 300
load: {model: open, rate: 600}
operations:
  - rpc: aurigraph.approval.v1.ApprovalService/SubmitApprovalRequest
    request: {approval_id: "wh-${uuid}", total_validators: 3, required_approvals: 2}
)",
                        server->address());
  ASSERT_TRUE(result.ok()) << result.status();
  ASSERT_EQ(result->total.ok, 300);
  ASSERT_TRUE(WaitFor([&] { return sink->Stats().deliveries == 300; }, 20))
      << sink->Stats().deliveries << " queued " << server->deliveries().queued.load()
      << " attempts " << server->deliveries().attempts.load() << " skipped "
      << server->deliveries().skipped.load() << " errors "
      << server->deliveries().produce_errors.load() << " requests " << sink->Stats().requests;
  const auto stats = sink->Stats();
  EXPECT_EQ(stats.invalid_signatures, 0);
  EXPECT_EQ(stats.duplicates, 0);
  EXPECT_EQ(stats.latency_us.TotalCount(), 300);
  EXPECT_EQ(stats.accepted_by_attempt.at(1), 300);
  const auto history = client.History(webhook.webhook_id());
  ASSERT_EQ(history.size(), 300u);
  for (const auto& record : history) {
    EXPECT_EQ(record.status(), wv1::DELIVERY_STATUS_SUCCESS);
    EXPECT_TRUE(sink->Received(record.delivery_id()));
  }
  EXPECT_EQ(server->deliveries().succeeded.load(), 300);
  // The secret is returned once, at creation.
  wv1::GetWebhookRequest get;
  get.set_webhook_id(webhook.webhook_id());
  wv1::Webhook fetched;
  grpc::ClientContext context;
  ASSERT_TRUE(client.webhooks->GetWebhook(&context, get, &fetched).ok());
  EXPECT_TRUE(fetched.secret().empty());
  EXPECT_EQ(fetched.statistics().successful_deliveries(), 300);
}

TEST(Webhooks, FailuresAreRetriedWithExponentialBackoffThenDeadLettered) {
  auto server = StartServer(FastRetries(50'000'000));
  WebhookSinkOptions failing;
  failing.fail_ratio = 1;
  auto sink = StartSink(failing);
  Client client(server->address());
  const wv1::Webhook webhook = client.Create(sink->url(), {wv1::WEBHOOK_EVENT_APPROVAL_CREATED}, 5);
  sink->AddWebhook(webhook.webhook_id(), webhook.secret());
  const wv1::WebhookDeliveryRecord queued =
      client.Trigger(webhook.webhook_id(), R"({"note": "always refused"})");
  ASSERT_TRUE(WaitFor(
      [&] {
        auto history = client.History(webhook.webhook_id());
        return history.size() == 1 && history[0].status() == wv1::DELIVERY_STATUS_DEAD_LETTERED;
      },
      10));
  const auto record = client.History(webhook.webhook_id())[0];
  ASSERT_EQ(record.attempts_size(), 5);
  EXPECT_EQ(sink->Stats().injected_failures, 5);
  // 50, 100, 200, 400 ms between attempts: never early, and late by little.
  for (int i = 1; i < 5; ++i) {
    const int64_t gap =
        record.attempts(i).started_at_unix_nanos() - record.attempts(i - 1).started_at_unix_nanos();
    const int64_t backoff = 50'000'000LL << (i - 1);
    EXPECT_GE(gap, backoff) << "attempt " << i + 1;
    EXPECT_LT(gap, backoff + 150'000'000) << "attempt " << i + 1;
    EXPECT_EQ(record.attempts(i - 1).http_status(), 500);
  }
  EXPECT_EQ(server->deliveries().dead_lettered.load(), 1);

  // The dead-letter topic, read by kcat in a separate process over the Kafka protocol.
  const std::string command =
      absl::StrCat("timeout 10 kcat -b ", server->KafkaBrokers().value(),
                   " -C -t webhook-deliveries-dlq -o beginning -c 1 -q -f '%k %s\\n' 2>&1");
  std::string output;
  FILE* kcat = popen(command.c_str(), "r");
  ASSERT_NE(kcat, nullptr);
  std::array<char, 4096> buffer;
  size_t n;
  while ((n = fread(buffer.data(), 1, buffer.size(), kcat)) > 0) output.append(buffer.data(), n);
  EXPECT_EQ(pclose(kcat), 0) << output;
  EXPECT_NE(output.find(webhook.webhook_id()), std::string::npos) << output;
  EXPECT_NE(output.find(queued.delivery_id()), std::string::npos) << output;

  // Retrying the failed deliveries gives them a fresh budget of attempts.
  wv1::RetryFailedRequest retry;
  retry.set_webhook_id(webhook.webhook_id());
  wv1::RetryFailedResponse retried;
  grpc::ClientContext retry_context;
  ASSERT_TRUE(client.webhooks->RetryFailedDeliveries(&retry_context, retry, &retried).ok());
  EXPECT_EQ(retried.requeued(), 1);
  ASSERT_TRUE(WaitFor(
      [&] {
        auto history = client.History(webhook.webhook_id());
        return history[0].status() == wv1::DELIVERY_STATUS_DEAD_LETTERED &&
               history[0].attempts_size() == 10;
      },
      10));
}

// POSTs `body` to the sink as the server would, signed over `signed_body`.
long Post(const std::string& url, const std::string& webhook_id, const std::string& secret,
          const std::string& signed_body, const std::string& body, int64_t timestamp) {
  CURL* curl = curl_easy_init();
  curl_slist* headers = nullptr;
  for (const std::string& header :
       {absl::StrCat(kSignatureHeader, ": ", SignWebhook(secret, timestamp, signed_body)),
        absl::StrCat(kTimestampHeader, ": ", timestamp), absl::StrCat("X-Webhook-Id: ", webhook_id),
        std::string("X-Attempt: 1")}) {
    headers = curl_slist_append(headers, header.c_str());
  }
  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body.c_str());
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
  long status = 0;
  if (curl_easy_perform(curl) == CURLE_OK) curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
  curl_slist_free_all(headers);
  curl_easy_cleanup(curl);
  return status;
}

TEST(Webhooks, TheSinkRejectsTamperedStaleAndUnknownDeliveries) {
  auto sink = StartSink();
  sink->AddWebhook("wh-1", "whsec_test");
  const int64_t now = WallClock::Instance().NowNanos() / 1'000'000'000;
  const std::string body = absl::StrCat(R"({"delivery_id":"dl-1","event_at_unix_nanos":)",
                                        WallClock::Instance().NowNanos(), "}");
  std::string tampered = body;
  tampered.replace(tampered.find("dl-1"), 4, "dl-2");
  EXPECT_EQ(Post(sink->url(), "wh-1", "whsec_test", body, tampered, now), 401);
  EXPECT_EQ(Post(sink->url(), "wh-1", "wrong-secret", body, body, now), 401);
  EXPECT_EQ(Post(sink->url(), "wh-1", "whsec_test", body, body, now - 3600), 401);
  EXPECT_EQ(Post(sink->url(), "wh-9", "whsec_test", body, body, now), 404);
  EXPECT_EQ(Post(sink->url(), "wh-1", "whsec_test", body, body, now), 200);
  EXPECT_EQ(Post(sink->url(), "wh-1", "whsec_test", body, body, now), 200);
  const auto stats = sink->Stats();
  EXPECT_EQ(stats.invalid_signatures, 2);
  EXPECT_EQ(stats.stale_timestamps, 1);
  EXPECT_EQ(stats.unknown_webhooks, 1);
  EXPECT_EQ(stats.deliveries, 1);
  EXPECT_EQ(stats.duplicates, 1);
  EXPECT_FALSE(sink->Received("dl-2"));
}

TEST(Webhooks, TheRegistrySurvivesARestart) {
  const auto dir = std::filesystem::temp_directory_path() / "webhook-registry-restart";
  std::filesystem::remove_all(dir);
  auto sink = StartSink();
  refserver::ServerOptions options = FastRetries();
  options.webhooks.data_dir = dir.string();
  wv1::Webhook webhook;
  {
    auto server = StartServer(options);
    Client client(server->address());
    webhook = client.Create(sink->url(), {wv1::WEBHOOK_EVENT_APPROVAL_CREATED});
    client.Create(sink->url(), {wv1::WEBHOOK_EVENT_TRANSACTION_COMMITTED});
  }
  sink->AddWebhook(webhook.webhook_id(), webhook.secret());
  auto server = StartServer(options);
  Client client(server->address());
  wv1::ListWebhooksRequest list;
  list.set_owner_id("qa");
  wv1::ListWebhooksResponse listed;
  grpc::ClientContext context;
  ASSERT_TRUE(client.webhooks->ListWebhooks(&context, list, &listed).ok());
  EXPECT_EQ(listed.webhooks_size(), 2);
  // The restarted server still signs with the secret given at creation.
  av1::ApprovalRequest approval;
  approval.set_approval_id("after-restart");
  approval.set_total_validators(3);
  approval.set_required_approvals(2);
  av1::ApprovalState state;
  grpc::ClientContext submit;
  ASSERT_TRUE(client.approvals->SubmitApprovalRequest(&submit, approval, &state).ok());
  ASSERT_TRUE(WaitFor([&] { return sink->Stats().deliveries == 1; }, 10));
  EXPECT_EQ(sink->Stats().invalid_signatures, 0);
  server.reset();
  std::filesystem::remove_all(dir);
}

TEST(Webhooks, WatchStreamsSeeRegistryChangesAndDeliveryRecords) {
  auto server = StartServer(FastRetries());
  auto sink = StartSink();
  Client client(server->address());
  grpc::ClientContext registry_context, deliveries_context;
  wv1::WatchRegistryRequest watch_registry;
  watch_registry.set_owner_id("qa");
  auto registry_reader = client.webhooks->WatchWebhookRegistry(&registry_context, watch_registry);
  auto deliveries_reader =
      client.webhooks->WatchDeliveries(&deliveries_context, wv1::WatchDeliveriesRequest());
  // Both streams are subscribed once the server has counted them.
  ASSERT_TRUE(WaitFor([&] { return server->streams().subscribers.load() == 2; }, 5));
  const wv1::Webhook webhook = client.Create(sink->url(), {wv1::WEBHOOK_EVENT_APPROVAL_CREATED});
  sink->AddWebhook(webhook.webhook_id(), webhook.secret());
  wv1::WebhookRegistryEvent change;
  ASSERT_TRUE(registry_reader->Read(&change));
  EXPECT_EQ(change.change(), wv1::REGISTRY_CHANGE_CREATED);
  EXPECT_EQ(change.webhook().webhook_id(), webhook.webhook_id());
  EXPECT_TRUE(change.webhook().secret().empty());
  const wv1::WebhookDeliveryRecord queued = client.Trigger(webhook.webhook_id());
  // The record as queued, then as delivered.
  wv1::WebhookDeliveryRecord record;
  ASSERT_TRUE(deliveries_reader->Read(&record));
  EXPECT_EQ(record.delivery_id(), queued.delivery_id());
  EXPECT_EQ(record.status(), wv1::DELIVERY_STATUS_PENDING);
  ASSERT_TRUE(deliveries_reader->Read(&record));
  EXPECT_EQ(record.status(), wv1::DELIVERY_STATUS_SUCCESS);
  EXPECT_EQ(record.attempts_size(), 1);
  registry_context.TryCancel();
  deliveries_context.TryCancel();
}

// --kafka HOST:PORT: a server that uses brokers it does not own (here another
// server's cluster) delivers through them, resuming from the group's offsets.
TEST(Webhooks, DeliveryThroughBrokersGivenByAddress) {
  auto owner = StartServer();
  refserver::ServerOptions options = FastRetries();
  options.delivery.kafka = owner->KafkaBrokers().value();
  auto server = StartServer(options);
  EXPECT_EQ(server->KafkaBrokers().value(), owner->KafkaBrokers().value());
  auto sink = StartSink();
  Client client(server->address());
  const wv1::Webhook webhook = client.Create(sink->url(), {wv1::WEBHOOK_EVENT_APPROVAL_CREATED});
  sink->AddWebhook(webhook.webhook_id(), webhook.secret());
  for (int i = 0; i < 20; ++i) client.Trigger(webhook.webhook_id());
  ASSERT_TRUE(WaitFor([&] { return sink->Stats().deliveries == 20; }, 10))
      << sink->Stats().deliveries;
  EXPECT_EQ(sink->Stats().duplicates, 0);
  // The owner's own consumer saw the records too, and left them alone: not its webhook.
  EXPECT_EQ(owner->deliveries().attempts.load(), 0);
}

TEST(Webhooks, EndpointsOutsideTheAllowListAreRefused) {
  auto server = StartServer();
  Client client(server->address());
  for (const auto& [url, code] :
       {std::pair{"ftp://127.0.0.1/x", grpc::StatusCode::INVALID_ARGUMENT},
        {"http://example.com/hook", grpc::StatusCode::PERMISSION_DENIED},
        {"http://user:pw@127.0.0.1/hook", grpc::StatusCode::INVALID_ARGUMENT}}) {
    wv1::CreateWebhookRequest request;
    request.set_owner_id("qa");
    request.set_url(url);
    request.add_events(wv1::WEBHOOK_EVENT_APPROVAL_CREATED);
    wv1::Webhook webhook;
    grpc::ClientContext context;
    EXPECT_EQ(client.webhooks->CreateWebhook(&context, request, &webhook).error_code(), code)
        << url;
  }
}

TEST(Webhooks, TheShippedScenarioMeasuresDeliveriesRetriesAndLoss) {
  auto server = StartServer(FastRetries(20'000'000));
  const std::string path = std::string(SCENARIO_DIR) + "/webhook-delivery.yaml";
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  auto scenario = loadgen::ParseScenario(
      text.str(), path,
      {"duration=2s", "warmup=0s", "load.rate=300", "webhook_sink.fail_ratio=0.2",
       "webhook_sink.drain=20s", "gates=[\"webhook_missing <= 0\", \"webhook_p99 < 1us\"]"});
  ASSERT_TRUE(scenario.ok()) << scenario.status();
  // The webhook check is the bundled system's plug-in to the generic run, as the CLI plugs it.
  loadgen::GrpcTransportFactory wire(server->address(), scenario->connections, scenario->channel,
                                     scenario->connect_timeout_nanos);
  const auto hooks = loadgen::MakeAurigraphHooks(*scenario, wire);
  loadgen::RunOptions options;
  options.target = server->address();
  options.transport = &wire;
  for (const auto& hook : hooks) options.hooks.push_back(hook.get());
  auto result = loadgen::RunScenario(*scenario, options);
  ASSERT_TRUE(result.ok()) << result.status();
  ASSERT_TRUE(result->webhooks);
  const loadgen::WebhookResult& w = *result->webhooks;
  ASSERT_TRUE(w.error.empty()) << w.error;
  // One APPROVAL_CREATED delivery per accepted approval, each delivered or dead-lettered.
  EXPECT_EQ(w.records, result->total.ok);
  EXPECT_EQ(w.deliveries + w.dead_lettered, w.records);
  EXPECT_EQ(w.missing, 0);
  EXPECT_EQ(w.unfinished, 0);
  EXPECT_EQ(w.invalid_signatures, 0);
  EXPECT_EQ(w.duplicates, 0);
  // Every attempt the target recorded reached the sink; a fifth of them were refused.
  EXPECT_EQ(w.attempts, w.requests);
  EXPECT_EQ(w.injected_failures, w.attempts - w.deliveries);
  const double refused = static_cast<double>(w.injected_failures) / static_cast<double>(w.attempts);
  EXPECT_GT(refused, 0.14);
  EXPECT_LT(refused, 0.26);
  EXPECT_GT(w.accepted_by_attempt.at("2"), 0);
  EXPECT_EQ(w.latency->TotalCount(), w.deliveries);
  // The result file keeps it all, and the gates read it.
  auto reread = loadgen::ResultFromJson(loadgen::ResultToJson(*result), "result.json");
  ASSERT_TRUE(reread.ok()) << reread.status();
  ASSERT_TRUE(reread->webhooks);
  EXPECT_EQ(reread->webhooks->deliveries, w.deliveries);
  EXPECT_EQ(reread->webhooks->latency->TotalCount(), w.deliveries);
  ASSERT_EQ(result->gates.size(), 2u);
  EXPECT_TRUE(result->gates[0].passed) << result->gates[0].message;
  EXPECT_FALSE(result->gates[1].passed);
}

}  // namespace
}  // namespace aurigraph
