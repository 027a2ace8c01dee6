#include "loadgen/webhook/webhook_sink.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>

#include <charconv>
#include <chrono>
#include <mutex>
#include <nlohmann/json.hpp>
#include <random>
#include <thread>
#include <unordered_map>
#include <unordered_set>

#include "absl/strings/str_cat.h"
#include "common/webhook_signature/webhook_signature.h"

namespace aurigraph::loadgen {
namespace {

// One request's body, gathered across the access handler's calls.
struct Upload {
  std::string body;
};

std::string Header(MHD_Connection* connection, const char* name) {
  const char* value = MHD_lookup_connection_value(connection, MHD_HEADER_KIND, name);
  return value == nullptr ? "" : value;
}

}  // namespace

struct WebhookSink::Impl {
  WebhookSinkOptions options;
  const Clock& wall;
  MHD_Daemon* daemon = nullptr;
  std::string host;
  int port = 0;
  mutable std::mutex mu;
  std::unordered_map<std::string, std::string> secrets;
  std::unordered_set<std::string> received;
  WebhookSinkStats stats;
  std::mt19937_64 rng;

  Impl(WebhookSinkOptions o, const Clock& w) : options(std::move(o)), wall(w), rng(options.seed) {}

  // The status to answer with; records what it saw.
  unsigned int Handle(MHD_Connection* connection, const std::string& body) {
    const int64_t arrived = wall.NowNanos();
    const std::string webhook_id = Header(connection, "X-Webhook-Id");
    std::lock_guard lock(mu);
    ++stats.requests;
    const auto secret = secrets.find(webhook_id);
    if (secret == secrets.end()) {
      ++stats.unknown_webhooks;
      return MHD_HTTP_NOT_FOUND;
    }
    const SignatureCheck check = VerifyWebhook(
        secret->second, Header(connection, kSignatureHeader), Header(connection, kTimestampHeader),
        body, arrived / 1'000'000'000, options.timestamp_window_seconds);
    if (check == SignatureCheck::kStale) {
      ++stats.stale_timestamps;
      return MHD_HTTP_UNAUTHORIZED;
    }
    if (check != SignatureCheck::kValid) {
      ++stats.invalid_signatures;
      return MHD_HTTP_UNAUTHORIZED;
    }
    const nlohmann::json payload = nlohmann::json::parse(body, nullptr, false);
    if (payload.is_discarded() || !payload.is_object() ||
        !payload.contains("event_at_unix_nanos") || !payload["event_at_unix_nanos"].is_number() ||
        !payload.contains("delivery_id") || !payload["delivery_id"].is_string()) {
      ++stats.malformed_bodies;
      return MHD_HTTP_BAD_REQUEST;
    }
    if (options.fail_ratio > 0 &&
        std::uniform_real_distribution<double>(0, 1)(rng) < options.fail_ratio) {
      ++stats.injected_failures;
      return MHD_HTTP_INTERNAL_SERVER_ERROR;
    }
    ++stats.accepted;
    if (!received.insert(payload["delivery_id"].get<std::string>()).second) {
      ++stats.duplicates;
      return MHD_HTTP_OK;
    }
    ++stats.deliveries;
    if (stats.first_delivery_unix_nanos == 0) stats.first_delivery_unix_nanos = arrived;
    stats.last_delivery_unix_nanos = arrived;
    const int64_t event_at = payload["event_at_unix_nanos"].get<int64_t>();
    stats.latency_us.Record(std::max<int64_t>(0, (arrived - event_at) / 1000));
    int attempt = 0;
    const std::string attempt_header = Header(connection, "X-Attempt");
    std::from_chars(attempt_header.data(), attempt_header.data() + attempt_header.size(), attempt);
    ++stats.accepted_by_attempt[attempt];
    return MHD_HTTP_OK;
  }

  static MHD_Result Access(void* self, MHD_Connection* connection, const char*, const char*,
                           const char*, const char* upload_data, size_t* upload_data_size,
                           void** request_state) {
    auto* impl = static_cast<Impl*>(self);
    if (*request_state == nullptr) {
      *request_state = new Upload();
      return MHD_YES;
    }
    auto* upload = static_cast<Upload*>(*request_state);
    if (*upload_data_size > 0) {
      upload->body.append(upload_data, *upload_data_size);
      *upload_data_size = 0;
      return MHD_YES;
    }
    const unsigned int status = impl->Handle(connection, upload->body);
    // Thread per connection: holding the answer holds only this connection.
    if (impl->options.delay_nanos > 0) {
      std::this_thread::sleep_for(std::chrono::nanoseconds(impl->options.delay_nanos));
    }
    MHD_Response* response = MHD_create_response_from_buffer(0, nullptr, MHD_RESPMEM_PERSISTENT);
    const MHD_Result queued = MHD_queue_response(connection, status, response);
    MHD_destroy_response(response);
    return queued;
  }

  static void Completed(void*, MHD_Connection*, void** request_state, MHD_RequestTerminationCode) {
    delete static_cast<Upload*>(*request_state);
    *request_state = nullptr;
  }
};

absl::StatusOr<std::unique_ptr<WebhookSink>> WebhookSink::Start(WebhookSinkOptions options,
                                                                const Clock& wall) {
  auto impl = std::make_unique<Impl>(std::move(options), wall);
  const std::string& listen = impl->options.listen;
  const size_t colon = listen.rfind(':');
  sockaddr_in address{};
  address.sin_family = AF_INET;
  int port = -1;
  if (colon != std::string::npos) {
    std::from_chars(listen.data() + colon + 1, listen.data() + listen.size(), port);
  }
  if (colon == std::string::npos || port < 0 || port > 65535 ||
      inet_pton(AF_INET, listen.substr(0, colon).c_str(), &address.sin_addr) != 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("webhook sink listen '", listen, "': expected IPv4-HOST:PORT"));
  }
  address.sin_port = htons(static_cast<uint16_t>(port));
  impl->host = listen.substr(0, colon);
  impl->daemon = MHD_start_daemon(
      MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD, 0, nullptr, nullptr,
      &Impl::Access, impl.get(), MHD_OPTION_SOCK_ADDR, &address, MHD_OPTION_NOTIFY_COMPLETED,
      &Impl::Completed, nullptr, MHD_OPTION_CONNECTION_TIMEOUT, 60u, MHD_OPTION_END);
  if (impl->daemon == nullptr) {
    return absl::UnavailableError(absl::StrCat("webhook sink: cannot listen on ", listen));
  }
  impl->port = MHD_get_daemon_info(impl->daemon, MHD_DAEMON_INFO_BIND_PORT)->port;
  return std::unique_ptr<WebhookSink>(new WebhookSink(std::move(impl)));
}

WebhookSink::WebhookSink(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

WebhookSink::~WebhookSink() { MHD_stop_daemon(impl_->daemon); }

std::string WebhookSink::url() const {
  return absl::StrCat("http://", impl_->host, ":", impl_->port, "/webhook");
}

void WebhookSink::AddWebhook(const std::string& webhook_id, const std::string& secret) {
  std::lock_guard lock(impl_->mu);
  impl_->secrets[webhook_id] = secret;
}

WebhookSinkStats WebhookSink::Stats() const {
  std::lock_guard lock(impl_->mu);
  return impl_->stats;
}

bool WebhookSink::Received(const std::string& delivery_id) const {
  std::lock_guard lock(impl_->mu);
  return impl_->received.count(delivery_id) > 0;
}

}  // namespace aurigraph::loadgen
