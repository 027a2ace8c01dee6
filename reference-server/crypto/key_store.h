// The keys behind CryptoService: named signing keys (Ed25519, ECDSA P-256)
// with numbered versions. A rotation adds a version and the older ones stay
// verifiable (the last `max_versions`); a derivation makes a version whose
// private key comes from a parent's by HKDF-SHA256, so the same inputs give
// the same key. Private material stays in here: answers carry public keys and
// signatures only, and it is wiped when a version is dropped. Thread-safe;
// time is injected, randomness is OpenSSL's.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

#include "absl/status/statusor.h"
#include "aurigraph/crypto/v1/crypto.pb.h"
#include "common/clock/clock.h"

namespace aurigraph::refserver {

class KeyStore {
 public:
  struct Options {
    // A create beyond it is refused (RESOURCE_EXHAUSTED). A version costs about
    // 1.75 KiB (measured), so the defaults bound the store near 280 MiB.
    size_t max_keys = 10'000;
    size_t max_versions = 16;  // per key; older versions are dropped, wiped
  };
  struct Counters {
    std::atomic<int64_t> signed_count{0}, verified_valid{0}, verified_invalid{0}, created{0},
        rotated{0}, derived{0}, refused_full{0};
  };

  // `clock` reads Unix-epoch nanoseconds (WallClock in production).
  KeyStore(const Clock& clock, Options options);
  ~KeyStore();

  absl::StatusOr<crypto::v1::SignResponse> Sign(const crypto::v1::SignRequest& request);
  absl::StatusOr<crypto::v1::VerifyResponse> Verify(const crypto::v1::VerifyRequest& request);
  absl::StatusOr<crypto::v1::RotateResponse> Rotate(const crypto::v1::RotateRequest& request);
  absl::StatusOr<crypto::v1::DeriveResponse> Derive(const crypto::v1::DeriveRequest& request);

  size_t size() const;
  const Counters& counters() const { return counters_; }

  struct Version;  // one version's keys (key_store.cc)

 private:
  struct Key;
  // The key's version `version` (0: current): NOT_FOUND naming what is missing.
  absl::StatusOr<std::shared_ptr<const Version>> Find(const std::string& key_id,
                                                      uint32_t version) const;
  // Adds `version` as the key's newest, creating the key if it has none (only
  // then, with `only_if_absent`); `previous` is the newest before it (0: none).
  absl::StatusOr<crypto::v1::KeyInfo> Install(const std::string& key_id,
                                              std::shared_ptr<Version> version, bool only_if_absent,
                                              uint32_t* previous, uint32_t* kept);

  const Clock& clock_;
  const Options options_;
  mutable std::mutex mutex_;
  std::unordered_map<std::string, std::unique_ptr<Key>> keys_;
  Counters counters_;
};

}  // namespace aurigraph::refserver
