// How webhook deliveries are signed, shared by the reference server (which
// signs) and the loadgen's webhook sink (which verifies), as seed 001 describes:
//   X-Timestamp: the signing time, Unix seconds
//   X-Signature: "sha256=" + base64(HMAC-SHA256(secret, timestamp + "." + body))
// Signing the timestamp with the body lets a receiver reject replays outside a
// time window; the "." keeps timestamp and body apart. Verification compares
// MACs in constant time, so a forger learns nothing from response timing.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace aurigraph {

inline constexpr char kSignatureHeader[] = "X-Signature";
inline constexpr char kTimestampHeader[] = "X-Timestamp";

// The X-Signature value for `body` signed at `timestamp_seconds`.
std::string SignWebhook(std::string_view secret, int64_t timestamp_seconds, std::string_view body);

enum class SignatureCheck {
  kValid,
  kMalformed,  // a header is missing or not in the expected form
  kMismatch,   // the MAC does not match (wrong secret, or body or timestamp altered)
  kStale,      // the MAC matches but the timestamp is outside the window
};

SignatureCheck VerifyWebhook(std::string_view secret, std::string_view signature,
                             std::string_view timestamp, std::string_view body, int64_t now_seconds,
                             int64_t window_seconds);

const char* SignatureCheckName(SignatureCheck check);

}  // namespace aurigraph
