#include "reference-server/webhooks/secret_box.h"

#include <openssl/evp.h>
#include <openssl/rand.h>

#include <algorithm>
#include <memory>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/input/input_file.h"

namespace aurigraph::refserver {
namespace {

constexpr absl::string_view kPrefix = "aes256gcm:";
constexpr int kKeyBytes = 32;
constexpr int kNonceBytes = 12;
constexpr int kTagBytes = 16;

using CipherContext = std::unique_ptr<EVP_CIPHER_CTX, decltype(&EVP_CIPHER_CTX_free)>;

const unsigned char* Bytes(absl::string_view s) {
  return reinterpret_cast<const unsigned char*>(s.data());
}

}  // namespace

absl::StatusOr<SecretBox> SecretBox::FromKeyFile(const std::string& path) {
  auto text = ReadInputFile(path, "--secret-key-file " + path);
  if (!text.ok()) return text.status();
  if (text->size() == kKeyBytes) return SecretBox(*std::move(text));
  const std::string hex(absl::StripAsciiWhitespace(*text));
  const bool is_hex =
      hex.size() == 2 * kKeyBytes &&
      std::all_of(hex.begin(), hex.end(), [](char c) { return absl::ascii_isxdigit(c); });
  if (!is_hex) {
    return absl::InvalidArgumentError(
        absl::StrCat("--secret-key-file ", path,
                     ": expected 64 hex digits or 32 bytes (e.g. openssl rand -hex 32)"));
  }
  return SecretBox(absl::HexStringToBytes(hex));
}

SecretBox::SecretBox(std::string key) : key_(std::move(key)) {}

bool SecretBox::IsSealed(absl::string_view stored) { return absl::StartsWith(stored, kPrefix); }

std::string SecretBox::Seal(absl::string_view secret, absl::string_view context) const {
  std::string sealed(kNonceBytes + secret.size() + kTagBytes, '\0');
  auto* out = reinterpret_cast<unsigned char*>(sealed.data());
  RAND_bytes(out, kNonceBytes);
  CipherContext ctx(EVP_CIPHER_CTX_new(), &EVP_CIPHER_CTX_free);
  int length = 0;
  EVP_EncryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, Bytes(key_), out);
  EVP_EncryptUpdate(ctx.get(), nullptr, &length, Bytes(context), static_cast<int>(context.size()));
  EVP_EncryptUpdate(ctx.get(), out + kNonceBytes, &length, Bytes(secret),
                    static_cast<int>(secret.size()));
  EVP_EncryptFinal_ex(ctx.get(), out + kNonceBytes + length, &length);
  EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_GET_TAG, kTagBytes,
                      out + kNonceBytes + secret.size());
  return absl::StrCat(kPrefix, absl::Base64Escape(sealed));
}

absl::StatusOr<std::string> SecretBox::Open(absl::string_view sealed,
                                            absl::string_view context) const {
  std::string raw;
  const auto refused = [&] {
    return absl::DataLossError(
        "a webhook secret does not open with this key (another key, or altered bytes)");
  };
  if (!IsSealed(sealed) || !absl::Base64Unescape(sealed.substr(kPrefix.size()), &raw) ||
      raw.size() < kNonceBytes + kTagBytes) {
    return refused();
  }
  const size_t text_bytes = raw.size() - kNonceBytes - kTagBytes;
  std::string secret(text_bytes, '\0');
  const auto* in = Bytes(raw);
  CipherContext ctx(EVP_CIPHER_CTX_new(), &EVP_CIPHER_CTX_free);
  int length = 0;
  EVP_DecryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, Bytes(key_), in);
  EVP_DecryptUpdate(ctx.get(), nullptr, &length, Bytes(context), static_cast<int>(context.size()));
  EVP_DecryptUpdate(ctx.get(), reinterpret_cast<unsigned char*>(secret.data()), &length,
                    in + kNonceBytes, static_cast<int>(text_bytes));
  EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_TAG, kTagBytes,
                      const_cast<unsigned char*>(in + kNonceBytes + text_bytes));
  if (EVP_DecryptFinal_ex(ctx.get(), reinterpret_cast<unsigned char*>(secret.data()) + length,
                          &length) != 1) {
    return refused();
  }
  return secret;
}

}  // namespace aurigraph::refserver
