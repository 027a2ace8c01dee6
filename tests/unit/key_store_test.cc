// CryptoService's key store: signatures checked with OpenSSL directly against
// the public key it hands out, rotation keeping old versions verifiable up to
// the bound, deterministic HKDF derivation, the refusals, and no key material
// in anything it answers.
#include "reference-server/crypto/key_store.h"

#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include <memory>
#include <string>
#include <thread>
#include <vector>

namespace aurigraph::refserver {
namespace {

namespace cv1 = crypto::v1;

// Verifies with OpenSSL from the DER public key alone, not through the store.
bool VerifiedByPublicKey(const std::string& der, cv1::KeyAlgorithm algorithm,
                         const std::string& data, const std::string& signature) {
  const auto* p = reinterpret_cast<const unsigned char*>(der.data());
  std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> key(
      d2i_PUBKEY(nullptr, &p, static_cast<long>(der.size())), EVP_PKEY_free);
  if (!key) return false;
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  const EVP_MD* md = algorithm == cv1::KEY_ALGORITHM_ED25519 ? nullptr : EVP_sha256();
  return EVP_DigestVerifyInit(ctx.get(), nullptr, md, nullptr, key.get()) == 1 &&
         EVP_DigestVerify(ctx.get(), reinterpret_cast<const unsigned char*>(signature.data()),
                          signature.size(), reinterpret_cast<const unsigned char*>(data.data()),
                          data.size()) == 1;
}

struct Fixture {
  explicit Fixture(KeyStore::Options options = {}) : keys(clock, options) {}
  cv1::RotateResponse Rotate(const std::string& id,
                             cv1::KeyAlgorithm algorithm = cv1::KEY_ALGORITHM_UNSPECIFIED) {
    cv1::RotateRequest r;
    r.set_key_id(id);
    r.set_algorithm(algorithm);
    auto out = keys.Rotate(r);
    EXPECT_TRUE(out.ok()) << out.status();
    return out.ok() ? *out : cv1::RotateResponse();
  }
  absl::StatusOr<cv1::SignResponse> Sign(const std::string& id, const std::string& data) {
    cv1::SignRequest r;
    r.set_key_id(id);
    r.set_data(data);
    return keys.Sign(r);
  }
  absl::StatusOr<cv1::VerifyResponse> Verify(const std::string& id, uint32_t version,
                                             const std::string& data, const std::string& sig) {
    cv1::VerifyRequest r;
    r.set_key_id(id);
    r.set_key_version(version);
    r.set_data(data);
    r.set_signature(sig);
    return keys.Verify(r);
  }
  absl::StatusOr<cv1::DeriveResponse> Derive(
      const std::string& parent, const std::string& id, const std::string& info,
      uint32_t parent_version = 0, cv1::KeyAlgorithm algorithm = cv1::KEY_ALGORITHM_UNSPECIFIED) {
    cv1::DeriveRequest r;
    r.set_parent_key_id(parent);
    r.set_parent_version(parent_version);
    r.set_key_id(id);
    r.set_salt("salt");
    r.set_info(info);
    r.set_algorithm(algorithm);
    return keys.Derive(r);
  }
  ManualClock clock{1'700'000'000'000'000'000};
  KeyStore keys;
};

TEST(KeyStore, SignaturesOfBothAlgorithmsVerifyAgainstThePublicKeyAndNothingElse) {
  for (const auto algorithm : {cv1::KEY_ALGORITHM_ED25519, cv1::KEY_ALGORITHM_ECDSA_P256_SHA256}) {
    Fixture f;
    const cv1::RotateResponse created = f.Rotate("k", algorithm);
    EXPECT_EQ(created.key().version(), 1u);
    EXPECT_EQ(created.previous_version(), 0u);
    EXPECT_EQ(created.key().algorithm(), algorithm);
    EXPECT_EQ(created.key().created_at_unix_nanos(), f.clock.NowNanos());
    EXPECT_EQ(created.key().fingerprint().size(), 64u);
    auto signed_data = f.Sign("k", "payload");
    ASSERT_TRUE(signed_data.ok()) << signed_data.status();
    EXPECT_EQ(signed_data->key_version(), 1u);
    const std::string& sig = signed_data->signature();
    EXPECT_TRUE(VerifiedByPublicKey(created.key().public_key(), algorithm, "payload", sig));
    EXPECT_FALSE(VerifiedByPublicKey(created.key().public_key(), algorithm, "payloaD", sig));
    EXPECT_TRUE(f.Verify("k", 0, "payload", sig)->valid());
    EXPECT_TRUE(f.Verify("k", 1, "payload", sig)->valid());
    EXPECT_FALSE(f.Verify("k", 1, "payloaD", sig)->valid());
    std::string flipped = sig;
    flipped[flipped.size() / 2] ^= 1;
    EXPECT_FALSE(f.Verify("k", 1, "payload", flipped)->valid());
    // Malformed or empty signatures are invalid, not errors.
    EXPECT_FALSE(f.Verify("k", 1, "payload", "garbage")->valid());
    EXPECT_FALSE(f.Verify("k", 1, "payload", "")->valid());
    EXPECT_EQ(f.keys.counters().signed_count.load(), 1);
    EXPECT_EQ(f.keys.counters().verified_valid.load(), 2);
    EXPECT_EQ(f.keys.counters().verified_invalid.load(), 4);
  }
}

TEST(KeyStore, RotationKeepsOlderVersionsVerifiableUpToTheBound) {
  Fixture f({.max_keys = 10, .max_versions = 3});
  f.Rotate("k", cv1::KEY_ALGORITHM_ECDSA_P256_SHA256);
  const std::string first = f.Sign("k", "m")->signature();
  const cv1::RotateResponse second = f.Rotate("k");  // keeps the key's algorithm
  EXPECT_EQ(second.key().version(), 2u);
  EXPECT_EQ(second.previous_version(), 1u);
  EXPECT_EQ(second.versions_kept(), 2u);
  EXPECT_EQ(second.key().algorithm(), cv1::KEY_ALGORITHM_ECDSA_P256_SHA256);
  auto now_signed = f.Sign("k", "m");
  EXPECT_EQ(now_signed->key_version(), 2u);
  EXPECT_TRUE(f.Verify("k", 1, "m", first)->valid());
  EXPECT_FALSE(f.Verify("k", 0, "m", first)->valid());  // the current version is 2
  EXPECT_TRUE(f.Verify("k", 0, "m", now_signed->signature())->valid());
  f.Rotate("k");
  EXPECT_EQ(f.Rotate("k").versions_kept(), 3u);  // versions 2-4
  auto dropped = f.Verify("k", 1, "m", first);
  ASSERT_FALSE(dropped.ok());
  EXPECT_TRUE(absl::IsNotFound(dropped.status()));
  EXPECT_EQ(dropped.status().message(),
            "version 1 of key 'k' is no longer kept (versions 2-4 are)");
  auto ahead = f.Verify("k", 9, "m", first);
  EXPECT_EQ(ahead.status().message(), "key 'k' has no version 9 (its newest is 4)");
  EXPECT_EQ(f.keys.counters().created.load(), 1);
  EXPECT_EQ(f.keys.counters().rotated.load(), 3);
}

TEST(KeyStore, DerivationGivesTheSameKeyForTheSameInputsOnly) {
  Fixture f;
  f.Rotate("root");
  f.Rotate("root");  // versions 1 and 2
  auto a = f.Derive("root", "child-a", "purpose", 1);
  auto b = f.Derive("root", "child-b", "purpose", 1);
  auto other_info = f.Derive("root", "child-c", "other", 1);
  auto other_version = f.Derive("root", "child-d", "purpose", 2);
  ASSERT_TRUE(a.ok() && b.ok() && other_info.ok() && other_version.ok()) << a.status();
  EXPECT_EQ(a->parent_version(), 1u);
  EXPECT_EQ(a->key().public_key(), b->key().public_key());
  EXPECT_NE(a->key().public_key(), other_info->key().public_key());
  EXPECT_NE(a->key().public_key(), other_version->key().public_key());
  EXPECT_EQ(other_version->parent_version(), 2u);
  // Deriving into an existing key adds a version; a P-256 child of an Ed25519 parent signs too.
  auto p256 = f.Derive("root", "child-a", "purpose", 1, cv1::KEY_ALGORITHM_ECDSA_P256_SHA256);
  ASSERT_TRUE(p256.ok()) << p256.status();
  EXPECT_EQ(p256->key().version(), 2u);
  auto again = f.Derive("root", "child-e", "purpose", 1, cv1::KEY_ALGORITHM_ECDSA_P256_SHA256);
  EXPECT_EQ(again->key().public_key(), p256->key().public_key());
  auto sig = f.Sign("child-a", "m");
  ASSERT_TRUE(sig.ok()) << sig.status();
  EXPECT_EQ(sig->algorithm(), cv1::KEY_ALGORITHM_ECDSA_P256_SHA256);
  EXPECT_TRUE(
      VerifiedByPublicKey(p256->key().public_key(), sig->algorithm(), "m", sig->signature()));
  EXPECT_EQ(f.keys.counters().derived.load(), 6);
}

TEST(KeyStore, BadRequestsAreRefusedWithTheRightCodeAndAMessageNamingTheProblem) {
  Fixture f;
  auto missing = f.Sign("nobody", "m");
  EXPECT_TRUE(absl::IsNotFound(missing.status()));
  EXPECT_EQ(missing.status().message(),
            "key 'nobody' not found (create it with RotateKeys, or sign with create_if_missing)");
  EXPECT_TRUE(absl::IsInvalidArgument(f.Sign("", "m").status()));
  EXPECT_TRUE(absl::IsInvalidArgument(f.Sign("has space", "m").status()));
  EXPECT_TRUE(absl::IsInvalidArgument(f.Sign(std::string(129, 'k'), "m").status()));
  for (const auto pq : {cv1::KEY_ALGORITHM_DILITHIUM, cv1::KEY_ALGORITHM_KYBER}) {
    cv1::RotateRequest r;
    r.set_key_id("pq");
    r.set_algorithm(pq);
    auto refused = f.keys.Rotate(r);
    EXPECT_TRUE(absl::IsUnimplemented(refused.status())) << refused.status();
    EXPECT_NE(refused.status().message().find("no post-quantum implementation"), std::string::npos);
  }
  cv1::RotateRequest unknown;
  unknown.set_key_id("u");
  unknown.set_algorithm(static_cast<cv1::KeyAlgorithm>(99));
  EXPECT_EQ(f.keys.Rotate(unknown).status().message(), "algorithm: unknown value 99");
  f.Rotate("ed");
  cv1::SignRequest wrong;
  wrong.set_key_id("ed");
  wrong.set_algorithm(cv1::KEY_ALGORITHM_ECDSA_P256_SHA256);
  auto mismatch = f.keys.Sign(wrong);
  EXPECT_TRUE(absl::IsFailedPrecondition(mismatch.status()));
  EXPECT_EQ(mismatch.status().message(),
            "key 'ed' is KEY_ALGORITHM_ED25519, not KEY_ALGORITHM_ECDSA_P256_SHA256");
  EXPECT_TRUE(absl::IsInvalidArgument(f.Derive("ed", "ed", "x").status()));
  EXPECT_TRUE(absl::IsNotFound(f.Derive("none", "child", "x").status()));
  cv1::DeriveRequest long_info;
  long_info.set_parent_key_id("ed");
  long_info.set_key_id("child");
  long_info.set_info(std::string(1025, 'i'));
  EXPECT_EQ(f.keys.Derive(long_info).status().message(), "info: 1025 bytes, more than 1024");
  EXPECT_EQ(f.keys.size(), 1u);  // nothing refused was created
}

TEST(KeyStore, AFullStoreRefusesNewKeysButStillRotatesAndSigns) {
  Fixture f({.max_keys = 2, .max_versions = 16});
  f.Rotate("a");
  f.Rotate("b");
  auto refused = f.keys.Rotate([] {
    cv1::RotateRequest r;
    r.set_key_id("c");
    return r;
  }());
  EXPECT_TRUE(absl::IsResourceExhausted(refused.status()));
  EXPECT_EQ(refused.status().message(), "key store full: 2 keys (the limit, --crypto-max-keys)");
  cv1::SignRequest create;
  create.set_key_id("d");
  create.set_create_if_missing(true);
  EXPECT_TRUE(absl::IsResourceExhausted(f.keys.Sign(create).status()));
  EXPECT_EQ(f.Rotate("a").key().version(), 2u);
  EXPECT_TRUE(f.Sign("b", "m").ok());
  EXPECT_EQ(f.keys.size(), 2u);
  EXPECT_EQ(f.keys.counters().refused_full.load(), 2);
}

// Signers racing to create the same key all sign with one key, version 1.
TEST(KeyStore, ConcurrentCreateIfMissingMakesOneKey) {
  Fixture f;
  std::vector<std::thread> threads;
  std::vector<cv1::SignResponse> out(8);
  for (size_t i = 0; i < out.size(); ++i) {
    threads.emplace_back([&f, &out, i] {
      cv1::SignRequest r;
      r.set_key_id("shared");
      r.set_data("m");
      r.set_create_if_missing(true);
      out[i] = *f.keys.Sign(r);
    });
  }
  for (auto& t : threads) t.join();
  for (const auto& s : out) {
    EXPECT_EQ(s.key_version(), 1u);
    EXPECT_TRUE(f.Verify("shared", 1, "m", s.signature())->valid());
  }
  EXPECT_EQ(f.keys.size(), 1u);
  EXPECT_EQ(f.keys.counters().created.load(), 1);
}

}  // namespace
}  // namespace aurigraph::refserver
