// Webhook secrets sealed for storage under a key the operator gives
// (--secret-key-file): AES-256-GCM with a fresh nonce per seal, and the
// webhook's id authenticated with it, so the registry's files (RocksDB tables
// and WAL) hold no secret in clear and a sealed secret cannot be moved to
// another webhook.
#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace aurigraph::refserver {

class SecretBox {
 public:
  // A file of 64 hex digits (a trailing newline allowed) or of 32 raw bytes.
  static absl::StatusOr<SecretBox> FromKeyFile(const std::string& path);
  // `key`: 32 bytes.
  explicit SecretBox(std::string key);

  // "aes256gcm:" then base64 of nonce, ciphertext and tag.
  std::string Seal(absl::string_view secret, absl::string_view context) const;
  // DATA_LOSS when `sealed` was not sealed with this key for this `context`
  // (another key, another webhook, or altered bytes).
  absl::StatusOr<std::string> Open(absl::string_view sealed, absl::string_view context) const;
  static bool IsSealed(absl::string_view stored);

 private:
  std::string key_;
};

}  // namespace aurigraph::refserver
