#include "reference-server/crypto/key_store.h"

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/obj_mac.h>
#include <openssl/param_build.h>
#include <openssl/rand.h>
#include <openssl/sha.h>
#include <openssl/x509.h>

#include <array>
#include <deque>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"

namespace aurigraph::refserver {
namespace {

namespace cv1 = crypto::v1;

constexpr size_t kSeedBytes = 32;
constexpr size_t kMaxKeyIdBytes = 128;
constexpr size_t kMaxDerivationInputBytes = 1024;  // salt and info, each

using Seed = std::array<unsigned char, kSeedBytes>;

template <typename T, void (*Free)(T*)>
struct Freer {
  void operator()(T* p) const { Free(p); }
};
using PkeyPtr = std::unique_ptr<EVP_PKEY, Freer<EVP_PKEY, EVP_PKEY_free>>;
using PkeyCtxPtr = std::unique_ptr<EVP_PKEY_CTX, Freer<EVP_PKEY_CTX, EVP_PKEY_CTX_free>>;
using MdCtxPtr = std::unique_ptr<EVP_MD_CTX, Freer<EVP_MD_CTX, EVP_MD_CTX_free>>;
using SecretBnPtr = std::unique_ptr<BIGNUM, Freer<BIGNUM, BN_clear_free>>;
using BnCtxPtr = std::unique_ptr<BN_CTX, Freer<BN_CTX, BN_CTX_free>>;
using GroupPtr = std::unique_ptr<EC_GROUP, Freer<EC_GROUP, EC_GROUP_free>>;
using PointPtr = std::unique_ptr<EC_POINT, Freer<EC_POINT, EC_POINT_free>>;
using ParamBldPtr = std::unique_ptr<OSSL_PARAM_BLD, Freer<OSSL_PARAM_BLD, OSSL_PARAM_BLD_free>>;
using ParamsPtr = std::unique_ptr<OSSL_PARAM, Freer<OSSL_PARAM, OSSL_PARAM_free>>;
using KdfPtr = std::unique_ptr<EVP_KDF, Freer<EVP_KDF, EVP_KDF_free>>;
using KdfCtxPtr = std::unique_ptr<EVP_KDF_CTX, Freer<EVP_KDF_CTX, EVP_KDF_CTX_free>>;

// OpenSSL's reason for the last failure, as an INTERNAL status; clears its queue.
absl::Status OpenSslFailure(absl::string_view what) {
  char reason[256] = "no reason given";
  if (const unsigned long code = ERR_peek_last_error(); code != 0) {
    ERR_error_string_n(code, reason, sizeof reason);
  }
  ERR_clear_error();
  return absl::InternalError(absl::StrCat(what, ": ", reason));
}

std::string Name(cv1::KeyAlgorithm algorithm) {
  const std::string& name = cv1::KeyAlgorithm_Name(algorithm);
  return name.empty() ? absl::StrCat("algorithm ", static_cast<int>(algorithm)) : name;
}

// Whether keys of `algorithm` (not UNSPECIFIED) can be made here.
absl::Status Supported(cv1::KeyAlgorithm algorithm) {
  switch (algorithm) {
    case cv1::KEY_ALGORITHM_ED25519:
    case cv1::KEY_ALGORITHM_ECDSA_P256_SHA256:
      return absl::OkStatus();
    case cv1::KEY_ALGORITHM_DILITHIUM:
    case cv1::KEY_ALGORITHM_KYBER:
      return absl::UnimplementedError(absl::StrCat(
          "algorithm: ", Name(algorithm),
          " is not available: no post-quantum implementation is packaged for this server "
          "(KEY_ALGORITHM_ED25519 and KEY_ALGORITHM_ECDSA_P256_SHA256 are)"));
    default:
      return absl::InvalidArgumentError(
          absl::StrCat("algorithm: unknown value ", static_cast<int>(algorithm)));
  }
}

absl::Status CheckKeyId(const std::string& id, absl::string_view field) {
  if (id.empty()) return absl::InvalidArgumentError(absl::StrCat(field, ": empty"));
  if (id.size() > kMaxKeyIdBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, ": ", id.size(), " bytes, more than ", kMaxKeyIdBytes));
  }
  for (const char c : id) {
    if (c < 0x21 || c > 0x7e) {
      return absl::InvalidArgumentError(
          absl::StrCat(field, ": only printable ASCII without spaces is allowed"));
    }
  }
  return absl::OkStatus();
}

// Ed25519's private key is the seed itself.
absl::StatusOr<PkeyPtr> Ed25519FromSeed(const Seed& seed) {
  PkeyPtr key(EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, nullptr, seed.data(), seed.size()));
  if (!key) return OpenSslFailure("Ed25519 key");
  return key;
}

// P-256's private scalar is (SHA-512(seed) mod (n - 1)) + 1: uniform enough
// (64 bytes reduced modulo a 32-byte order) and never zero.
absl::StatusOr<PkeyPtr> P256FromSeed(const Seed& seed) {
  std::array<unsigned char, SHA512_DIGEST_LENGTH> wide;
  SHA512(seed.data(), seed.size(), wide.data());
  BnCtxPtr bn_ctx(BN_CTX_new());
  GroupPtr group(EC_GROUP_new_by_curve_name(NID_X9_62_prime256v1));
  // In OpenSSL's secure heap: the parameter block built from it is then wiped when freed.
  SecretBnPtr scalar(BN_secure_new());
  if (scalar && !BN_bin2bn(wide.data(), static_cast<int>(wide.size()), scalar.get())) {
    scalar.reset();
  }
  OPENSSL_cleanse(wide.data(), wide.size());
  SecretBnPtr order_less_one(group ? BN_dup(EC_GROUP_get0_order(group.get())) : nullptr);
  if (!bn_ctx || !group || !scalar || !order_less_one || !BN_sub_word(order_less_one.get(), 1) ||
      !BN_nnmod(scalar.get(), scalar.get(), order_less_one.get(), bn_ctx.get()) ||
      !BN_add_word(scalar.get(), 1)) {
    return OpenSslFailure("P-256 scalar");
  }
  PointPtr point(EC_POINT_new(group.get()));
  std::array<unsigned char, 65> public_point;
  if (!point ||
      !EC_POINT_mul(group.get(), point.get(), scalar.get(), nullptr, nullptr, bn_ctx.get()) ||
      EC_POINT_point2oct(group.get(), point.get(), POINT_CONVERSION_UNCOMPRESSED,
                         public_point.data(), public_point.size(),
                         bn_ctx.get()) != public_point.size()) {
    return OpenSslFailure("P-256 public point");
  }
  ParamBldPtr build(OSSL_PARAM_BLD_new());
  if (!build ||
      !OSSL_PARAM_BLD_push_utf8_string(build.get(), OSSL_PKEY_PARAM_GROUP_NAME, "prime256v1", 0) ||
      !OSSL_PARAM_BLD_push_BN(build.get(), OSSL_PKEY_PARAM_PRIV_KEY, scalar.get()) ||
      !OSSL_PARAM_BLD_push_octet_string(build.get(), OSSL_PKEY_PARAM_PUB_KEY, public_point.data(),
                                        public_point.size())) {
    return OpenSslFailure("P-256 parameters");
  }
  ParamsPtr params(OSSL_PARAM_BLD_to_param(build.get()));
  PkeyCtxPtr ctx(EVP_PKEY_CTX_new_from_name(nullptr, "EC", nullptr));
  EVP_PKEY* raw = nullptr;
  if (!params || !ctx || EVP_PKEY_fromdata_init(ctx.get()) <= 0 ||
      EVP_PKEY_fromdata(ctx.get(), &raw, EVP_PKEY_KEYPAIR, params.get()) <= 0) {
    return OpenSslFailure("P-256 key");
  }
  return PkeyPtr(raw);
}

// HKDF-SHA256 (RFC 5869) of a parent's seed into `child`. The algorithm is
// the first byte of the info, so children of two algorithms never share a seed.
absl::Status DeriveSeed(const Seed& parent, cv1::KeyAlgorithm algorithm, const std::string& salt,
                        const std::string& info, Seed* child) {
  KdfPtr kdf(EVP_KDF_fetch(nullptr, "HKDF", nullptr));
  KdfCtxPtr ctx(kdf ? EVP_KDF_CTX_new(kdf.get()) : nullptr);
  if (!ctx) return OpenSslFailure("HKDF");
  std::vector<OSSL_PARAM> params;
  char digest[] = "SHA256";
  params.push_back(OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, digest, 0));
  params.push_back(OSSL_PARAM_construct_octet_string(
      OSSL_KDF_PARAM_KEY, const_cast<unsigned char*>(parent.data()), parent.size()));
  // An absent salt is RFC 5869's default (zeros).
  if (!salt.empty()) {
    params.push_back(OSSL_PARAM_construct_octet_string(
        OSSL_KDF_PARAM_SALT, const_cast<char*>(salt.data()), salt.size()));
  }
  std::string labelled = absl::StrCat(std::string(1, static_cast<char>(algorithm)), info);
  params.push_back(
      OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, labelled.data(), labelled.size()));
  params.push_back(OSSL_PARAM_construct_end());
  if (EVP_KDF_derive(ctx.get(), child->data(), child->size(), params.data()) <= 0) {
    return OpenSslFailure("HKDF");
  }
  return absl::OkStatus();
}

const EVP_MD* DigestFor(cv1::KeyAlgorithm algorithm) {
  // Ed25519 hashes internally (PureEdDSA): no digest is named.
  return algorithm == cv1::KEY_ALGORITHM_ECDSA_P256_SHA256 ? EVP_sha256() : nullptr;
}

}  // namespace

struct KeyStore::Version {
  ~Version() { OPENSSL_cleanse(seed.data(), seed.size()); }

  uint32_t number = 0;
  cv1::KeyAlgorithm algorithm = cv1::KEY_ALGORITHM_UNSPECIFIED;
  int64_t created_unix_nanos = 0;
  Seed seed{};
  PkeyPtr key;
  std::string public_der;  // SubjectPublicKeyInfo
  std::string fingerprint;

  void Describe(const std::string& key_id, cv1::KeyInfo* info) const {
    info->set_key_id(key_id);
    info->set_version(number);
    info->set_algorithm(algorithm);
    info->set_public_key(public_der);
    info->set_created_at_unix_nanos(created_unix_nanos);
    info->set_fingerprint(fingerprint);
  }
};

// Versions oldest first; the last is current.
struct KeyStore::Key {
  std::deque<std::shared_ptr<const Version>> versions;
};

namespace {

absl::StatusOr<std::shared_ptr<KeyStore::Version>> MakeVersion(cv1::KeyAlgorithm algorithm,
                                                               const Seed& seed, int64_t created) {
  auto version = std::make_shared<KeyStore::Version>();
  version->algorithm = algorithm;
  version->created_unix_nanos = created;
  version->seed = seed;
  auto key = algorithm == cv1::KEY_ALGORITHM_ED25519 ? Ed25519FromSeed(seed) : P256FromSeed(seed);
  if (!key.ok()) return key.status();
  version->key = *std::move(key);
  const int length = i2d_PUBKEY(version->key.get(), nullptr);
  if (length <= 0) return OpenSslFailure("public key");
  version->public_der.resize(static_cast<size_t>(length));
  auto* out = reinterpret_cast<unsigned char*>(version->public_der.data());
  i2d_PUBKEY(version->key.get(), &out);
  std::array<unsigned char, SHA256_DIGEST_LENGTH> digest;
  SHA256(reinterpret_cast<const unsigned char*>(version->public_der.data()),
         version->public_der.size(), digest.data());
  version->fingerprint = absl::BytesToHexString(
      absl::string_view(reinterpret_cast<const char*>(digest.data()), digest.size()));
  return version;
}

absl::StatusOr<std::shared_ptr<KeyStore::Version>> NewVersion(cv1::KeyAlgorithm algorithm,
                                                              int64_t created) {
  Seed seed;
  if (RAND_priv_bytes(seed.data(), static_cast<int>(seed.size())) != 1) {
    return OpenSslFailure("random key");
  }
  auto version = MakeVersion(algorithm, seed, created);
  OPENSSL_cleanse(seed.data(), seed.size());
  return version;
}

}  // namespace

KeyStore::KeyStore(const Clock& clock, Options options) : clock_(clock), options_(options) {}

KeyStore::~KeyStore() = default;

size_t KeyStore::size() const {
  std::lock_guard lock(mutex_);
  return keys_.size();
}

absl::StatusOr<std::shared_ptr<const KeyStore::Version>> KeyStore::Find(const std::string& key_id,
                                                                        uint32_t version) const {
  std::lock_guard lock(mutex_);
  const auto it = keys_.find(key_id);
  if (it == keys_.end()) return absl::NotFoundError(absl::StrCat("key '", key_id, "' not found"));
  const auto& versions = it->second->versions;
  if (version == 0) return versions.back();
  const uint32_t newest = versions.back()->number;
  const uint32_t oldest = versions.front()->number;
  if (version > newest) {
    return absl::NotFoundError(absl::StrCat("key '", key_id, "' has no version ", version,
                                            " (its newest is ", newest, ")"));
  }
  if (version < oldest) {
    return absl::NotFoundError(absl::StrCat("version ", version, " of key '", key_id,
                                            "' is no longer kept (versions ", oldest, "-", newest,
                                            " are)"));
  }
  return versions[version - oldest];
}

absl::StatusOr<cv1::KeyInfo> KeyStore::Install(const std::string& key_id,
                                               std::shared_ptr<Version> version,
                                               bool only_if_absent, uint32_t* previous,
                                               uint32_t* kept) {
  std::lock_guard lock(mutex_);
  auto it = keys_.find(key_id);
  if (it != keys_.end() && only_if_absent) {
    const auto& versions = it->second->versions;
    *previous = versions.back()->number;
    *kept = static_cast<uint32_t>(versions.size());
    cv1::KeyInfo info;
    versions.back()->Describe(key_id, &info);
    return info;
  }
  if (it == keys_.end()) {
    if (keys_.size() >= options_.max_keys) {
      counters_.refused_full.fetch_add(1, std::memory_order_relaxed);
      return absl::ResourceExhaustedError(
          absl::StrCat("key store full: ", keys_.size(), " keys (the limit, --crypto-max-keys)"));
    }
    it = keys_.emplace(key_id, std::make_unique<Key>()).first;
    counters_.created.fetch_add(1, std::memory_order_relaxed);
  }
  auto& versions = it->second->versions;
  *previous = versions.empty() ? 0 : versions.back()->number;
  version->number = *previous + 1;
  versions.push_back(std::move(version));
  while (versions.size() > options_.max_versions) versions.pop_front();
  *kept = static_cast<uint32_t>(versions.size());
  cv1::KeyInfo info;
  versions.back()->Describe(key_id, &info);
  return info;
}

absl::StatusOr<cv1::SignResponse> KeyStore::Sign(const cv1::SignRequest& request) {
  if (auto ok = CheckKeyId(request.key_id(), "key_id"); !ok.ok()) return ok;
  const cv1::KeyAlgorithm wanted = request.algorithm();
  if (wanted != cv1::KEY_ALGORITHM_UNSPECIFIED) {
    if (auto ok = Supported(wanted); !ok.ok()) return ok;
  }
  auto found = Find(request.key_id(), 0);
  if (!found.ok() && absl::IsNotFound(found.status()) && request.create_if_missing()) {
    auto made =
        NewVersion(wanted == cv1::KEY_ALGORITHM_UNSPECIFIED ? cv1::KEY_ALGORITHM_ED25519 : wanted,
                   clock_.NowNanos());
    if (!made.ok()) return made.status();
    // Another call may have created it meanwhile: then its key is the one used.
    uint32_t previous = 0, kept = 0;
    if (auto installed =
            Install(request.key_id(), *std::move(made), /*only_if_absent=*/true, &previous, &kept);
        !installed.ok()) {
      return installed.status();
    }
    found = Find(request.key_id(), 0);
  } else if (!found.ok() && absl::IsNotFound(found.status())) {
    return absl::NotFoundError(absl::StrCat(
        found.status().message(), " (create it with RotateKeys, or sign with create_if_missing)"));
  }
  if (!found.ok()) return found.status();
  const Version& version = **found;
  if (wanted != cv1::KEY_ALGORITHM_UNSPECIFIED && wanted != version.algorithm) {
    return absl::FailedPreconditionError(absl::StrCat(
        "key '", request.key_id(), "' is ", Name(version.algorithm), ", not ", Name(wanted)));
  }
  MdCtxPtr ctx(EVP_MD_CTX_new());
  const auto* data = reinterpret_cast<const unsigned char*>(request.data().data());
  size_t length = 0;
  if (!ctx ||
      EVP_DigestSignInit(ctx.get(), nullptr, DigestFor(version.algorithm), nullptr,
                         version.key.get()) != 1 ||
      EVP_DigestSign(ctx.get(), nullptr, &length, data, request.data().size()) != 1) {
    return OpenSslFailure("sign");
  }
  cv1::SignResponse response;
  std::string* signature = response.mutable_signature();
  signature->resize(length);
  if (EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(signature->data()), &length, data,
                     request.data().size()) != 1) {
    return OpenSslFailure("sign");
  }
  signature->resize(length);  // a DER ECDSA signature may come out shorter than the bound
  response.set_key_id(request.key_id());
  response.set_key_version(version.number);
  response.set_algorithm(version.algorithm);
  counters_.signed_count.fetch_add(1, std::memory_order_relaxed);
  return response;
}

absl::StatusOr<cv1::VerifyResponse> KeyStore::Verify(const cv1::VerifyRequest& request) {
  if (auto ok = CheckKeyId(request.key_id(), "key_id"); !ok.ok()) return ok;
  auto found = Find(request.key_id(), request.key_version());
  if (!found.ok()) return found.status();
  const Version& version = **found;
  MdCtxPtr ctx(EVP_MD_CTX_new());
  if (!ctx || EVP_DigestVerifyInit(ctx.get(), nullptr, DigestFor(version.algorithm), nullptr,
                                   version.key.get()) != 1) {
    return OpenSslFailure("verify");
  }
  // 1 is a valid signature; 0 or a negative value (a malformed one) is not.
  const bool valid =
      EVP_DigestVerify(
          ctx.get(), reinterpret_cast<const unsigned char*>(request.signature().data()),
          request.signature().size(), reinterpret_cast<const unsigned char*>(request.data().data()),
          request.data().size()) == 1;
  ERR_clear_error();
  (valid ? counters_.verified_valid : counters_.verified_invalid)
      .fetch_add(1, std::memory_order_relaxed);
  cv1::VerifyResponse response;
  response.set_valid(valid);
  response.set_key_id(request.key_id());
  response.set_key_version(version.number);
  response.set_algorithm(version.algorithm);
  return response;
}

absl::StatusOr<cv1::RotateResponse> KeyStore::Rotate(const cv1::RotateRequest& request) {
  if (auto ok = CheckKeyId(request.key_id(), "key_id"); !ok.ok()) return ok;
  cv1::KeyAlgorithm algorithm = request.algorithm();
  if (algorithm == cv1::KEY_ALGORITHM_UNSPECIFIED) {
    auto current = Find(request.key_id(), 0);
    algorithm = current.ok() ? (*current)->algorithm : cv1::KEY_ALGORITHM_ED25519;
  }
  if (auto ok = Supported(algorithm); !ok.ok()) return ok;
  auto made = NewVersion(algorithm, clock_.NowNanos());
  if (!made.ok()) return made.status();
  cv1::RotateResponse response;
  uint32_t previous = 0, kept = 0;
  auto info =
      Install(request.key_id(), *std::move(made), /*only_if_absent=*/false, &previous, &kept);
  if (!info.ok()) return info.status();
  *response.mutable_key() = *std::move(info);
  response.set_previous_version(previous);
  response.set_versions_kept(kept);
  if (previous > 0) counters_.rotated.fetch_add(1, std::memory_order_relaxed);
  return response;
}

absl::StatusOr<cv1::DeriveResponse> KeyStore::Derive(const cv1::DeriveRequest& request) {
  if (auto ok = CheckKeyId(request.parent_key_id(), "parent_key_id"); !ok.ok()) return ok;
  if (auto ok = CheckKeyId(request.key_id(), "key_id"); !ok.ok()) return ok;
  if (request.key_id() == request.parent_key_id()) {
    return absl::InvalidArgumentError("key_id: the derived key must not be its own parent");
  }
  for (const auto& [field, value] :
       {std::pair<const char*, const std::string&>{"salt", request.salt()},
        {"info", request.info()}}) {
    if (value.size() > kMaxDerivationInputBytes) {
      return absl::InvalidArgumentError(
          absl::StrCat(field, ": ", value.size(), " bytes, more than ", kMaxDerivationInputBytes));
    }
  }
  if (request.algorithm() != cv1::KEY_ALGORITHM_UNSPECIFIED) {
    if (auto ok = Supported(request.algorithm()); !ok.ok()) return ok;
  }
  auto parent = Find(request.parent_key_id(), request.parent_version());
  if (!parent.ok()) return parent.status();
  const cv1::KeyAlgorithm algorithm = request.algorithm() == cv1::KEY_ALGORITHM_UNSPECIFIED
                                          ? (*parent)->algorithm
                                          : request.algorithm();
  Seed seed;
  if (auto derived = DeriveSeed((*parent)->seed, algorithm, request.salt(), request.info(), &seed);
      !derived.ok()) {
    return derived;
  }
  auto made = MakeVersion(algorithm, seed, clock_.NowNanos());
  OPENSSL_cleanse(seed.data(), seed.size());
  if (!made.ok()) return made.status();
  uint32_t previous = 0, kept = 0;
  auto info =
      Install(request.key_id(), *std::move(made), /*only_if_absent=*/false, &previous, &kept);
  if (!info.ok()) return info.status();
  counters_.derived.fetch_add(1, std::memory_order_relaxed);
  cv1::DeriveResponse response;
  *response.mutable_key() = *std::move(info);
  response.set_parent_version((*parent)->number);
  return response;
}

}  // namespace aurigraph::refserver
