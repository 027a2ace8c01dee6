#include "common/webhook_signature/webhook_signature.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <charconv>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"

namespace aurigraph {
namespace {

constexpr std::string_view kPrefix = "sha256=";

absl::string_view Absl(std::string_view text) {
  return absl::string_view(text.data(), text.size());
}

// HMAC-SHA256 of timestamp + "." + body.
std::string Mac(std::string_view secret, std::string_view timestamp, std::string_view body) {
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  std::string message(timestamp);
  message += '.';
  message += body;
  HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
       reinterpret_cast<const unsigned char*>(message.data()), message.size(), mac, &length);
  return std::string(reinterpret_cast<const char*>(mac), length);
}

}  // namespace

std::string SignWebhook(std::string_view secret, int64_t timestamp_seconds, std::string_view body) {
  return absl::StrCat(Absl(kPrefix),
                      absl::Base64Escape(Mac(secret, absl::StrCat(timestamp_seconds), body)));
}

SignatureCheck VerifyWebhook(std::string_view secret, std::string_view signature,
                             std::string_view timestamp, std::string_view body, int64_t now_seconds,
                             int64_t window_seconds) {
  int64_t signed_at = 0;
  const auto [end, ec] =
      std::from_chars(timestamp.data(), timestamp.data() + timestamp.size(), signed_at);
  if (timestamp.empty() || ec != std::errc() || end != timestamp.data() + timestamp.size()) {
    return SignatureCheck::kMalformed;
  }
  if (signature.substr(0, kPrefix.size()) != kPrefix) return SignatureCheck::kMalformed;
  std::string given;
  if (!absl::Base64Unescape(Absl(signature.substr(kPrefix.size())), &given)) {
    return SignatureCheck::kMalformed;
  }
  const std::string expected = Mac(secret, timestamp, body);
  if (given.size() != expected.size() ||
      CRYPTO_memcmp(given.data(), expected.data(), expected.size()) != 0) {
    return SignatureCheck::kMismatch;
  }
  const int64_t skew = now_seconds - signed_at;
  if (skew > window_seconds || skew < -window_seconds) return SignatureCheck::kStale;
  return SignatureCheck::kValid;
}

const char* SignatureCheckName(SignatureCheck check) {
  switch (check) {
    case SignatureCheck::kValid:
      return "valid";
    case SignatureCheck::kMalformed:
      return "malformed";
    case SignatureCheck::kMismatch:
      return "mismatch";
    case SignatureCheck::kStale:
      return "stale";
  }
  return "malformed";
}

}  // namespace aurigraph
