#include "reference-server/webhooks/http_sender.h"

#include <curl/curl.h>

#include <mutex>

#include "absl/strings/str_cat.h"
#include "common/webhook_signature/webhook_signature.h"

namespace aurigraph::refserver {

namespace wv1 = webhook::v1;

namespace {

const char* MethodName(wv1::HttpMethod method) {
  switch (method) {
    case wv1::HTTP_METHOD_GET:
      return "GET";
    case wv1::HTTP_METHOD_PUT:
      return "PUT";
    case wv1::HTTP_METHOD_DELETE:
      return "DELETE";
    case wv1::HTTP_METHOD_PATCH:
      return "PATCH";
    default:
      return "POST";
  }
}

size_t DiscardBody(char*, size_t size, size_t count, void*) { return size * count; }

}  // namespace

void HttpSender::InitOnce() {
  static std::once_flag curl_init;
  std::call_once(curl_init, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

HttpSender::HttpSender(const Clock& wall, const Clock& monotonic)
    : wall_(wall), monotonic_(monotonic), curl_(curl_easy_init()) {}

HttpSender::~HttpSender() { curl_easy_cleanup(curl_); }

AttemptOutcome HttpSender::Send(const wv1::Webhook& webhook, const std::string& secret,
                                const wv1::WebhookDeliveryRecord& record, int attempt) {
  AttemptOutcome outcome;
  outcome.started_at_unix_nanos = wall_.NowNanos();
  const int64_t timestamp = outcome.started_at_unix_nanos / 1'000'000'000;
  const std::string signature = SignWebhook(secret, timestamp, record.payload());
  curl_slist* headers = nullptr;
  for (const std::string& header :
       {std::string("Content-Type: application/json"),
        absl::StrCat(kSignatureHeader, ": ", signature),
        absl::StrCat(kTimestampHeader, ": ", timestamp),
        absl::StrCat("X-Webhook-Id: ", record.webhook_id()),
        absl::StrCat("X-Delivery-Id: ", record.delivery_id()),
        absl::StrCat("X-Event: ", wv1::WebhookEvent_Name(record.event())),
        absl::StrCat("X-Attempt: ", attempt), std::string("Expect:")}) {
    headers = curl_slist_append(headers, header.c_str());
  }
  CURL* curl = curl_;
  curl_easy_setopt(curl, CURLOPT_URL, webhook.url().c_str());
  curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, MethodName(webhook.method()));
  curl_easy_setopt(curl, CURLOPT_POSTFIELDS, record.payload().data());
  curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE, static_cast<long>(record.payload().size()));
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, static_cast<long>(webhook.timeout_ms()));
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, DiscardBody);
  const int64_t begin = monotonic_.NowNanos();
  const CURLcode code = curl_easy_perform(curl);
  outcome.response_nanos = monotonic_.NowNanos() - begin;
  long http_status = 0;
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &http_status);
  curl_slist_free_all(headers);
  outcome.http_status = static_cast<int>(http_status);
  if (code != CURLE_OK) outcome.transport_error = curl_easy_strerror(code);
  return outcome;
}

}  // namespace aurigraph::refserver
