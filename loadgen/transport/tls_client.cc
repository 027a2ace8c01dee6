#include "loadgen/transport/tls_client.h"

#include <arpa/inet.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <poll.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "common/clock/clock.h"
#include "common/input/input_file.h"

namespace aurigraph::loadgen {
namespace {

// How long the probe waits after a TLS 1.3 handshake for the server's verdict
// on the client: within a millisecond on an idle loopback, but a loaded
// machine may delay it; only a server that issues no tickets waits it all.
constexpr int64_t kVerdictWaitNanos = 1'000'000'000;

int64_t Now() { return SteadyClock::Instance().NowNanos(); }

bool IsIpLiteral(const std::string& host) {
  unsigned char address[sizeof(in6_addr)];
  return inet_pton(AF_INET, host.c_str(), address) == 1 ||
         inet_pton(AF_INET6, host.c_str(), address) == 1;
}

// OpenSSL's reason for the last error it queued, and clears the queue.
std::string LastOpenSslError() {
  const unsigned long error = ERR_peek_last_error();
  ERR_clear_error();
  if (error == 0) return "no reason given";
  const char* reason = ERR_reason_error_string(error);
  return reason != nullptr ? reason : absl::StrCat("OpenSSL error ", error);
}

// Where a context finds its TlsClientContext: ex data, not app data, which
// Boost.Asio's ssl::context takes for its own.
int ContextIndex() {
  static const int index = SSL_CTX_get_ex_new_index(0, nullptr, nullptr, nullptr, nullptr);
  return index;
}

// Waits until `fd` is ready for `events` or `until` (steady nanos) passes.
bool WaitFor(int fd, short events, int64_t until) {
  const int64_t left = until - Now();
  if (left <= 0) return false;
  pollfd p{fd, events, 0};
  return poll(&p, 1, static_cast<int>((left + 999'999) / 1'000'000)) == 1;
}

}  // namespace

absl::StatusOr<std::string> ReadPem(const std::string& path, const char* what) {
  auto text = ReadInputFile(path, absl::StrCat(what, " ", path));
  if (!text.ok()) return absl::InvalidArgumentError(text.status().message());
  if (text->empty()) {
    return absl::InvalidArgumentError(absl::StrCat(what, " ", path, ": cannot read (empty)"));
  }
  return text;
}

absl::StatusOr<std::shared_ptr<TlsClientContext>> TlsClientContext::Make(
    const ChannelOptions& options, const std::string& host, const std::string& alpn) {
  // Unreadable files get the same message as the gRPC wire gives them.
  for (auto [path, what] :
       {std::pair{&options.ca_file, "--ca"}, std::pair{&options.cert_file, "--cert"},
        std::pair{&options.key_file, "--key"}}) {
    if (path->empty()) continue;
    if (auto pem = ReadPem(*path, what); !pem.ok()) return pem.status();
  }
  if (options.cert_file.empty() != options.key_file.empty()) {
    return absl::InvalidArgumentError("mutual TLS needs both a client certificate and its key");
  }
  std::shared_ptr<TlsClientContext> tls(new TlsClientContext());
  ERR_clear_error();
  tls->context_ = SSL_CTX_new(TLS_client_method());
  if (tls->context_ == nullptr) {
    return absl::InternalError(absl::StrCat("TLS: ", LastOpenSslError()));
  }
  SSL_CTX* context = tls->context_;
  SSL_CTX_set_min_proto_version(context, TLS1_2_VERSION);
  SSL_CTX_set_verify(context, SSL_VERIFY_PEER, nullptr);
  // Partial writes, retried from where they stopped: the transports write
  // from their own buffers as sockets take them.
  SSL_CTX_set_mode(context, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
  // An HTTP server may close a connection without close_notify once its
  // response is framed (a response cut short of its Content-Length or last
  // chunk is still caught); a body delimited only by the close is taken whole.
  SSL_CTX_set_options(context, SSL_OP_IGNORE_UNEXPECTED_EOF);
  const bool roots = options.ca_file.empty() ? SSL_CTX_set_default_verify_paths(context) == 1
                                             : SSL_CTX_load_verify_locations(
                                                   context, options.ca_file.c_str(), nullptr) == 1;
  if (!roots) {
    return absl::InvalidArgumentError(
        options.ca_file.empty()
            ? absl::StrCat("TLS: the system's roots cannot be loaded: ", LastOpenSslError())
            : absl::StrCat("--ca ", options.ca_file, ": not PEM certificates (", LastOpenSslError(),
                           ")"));
  }
  if (!options.cert_file.empty()) {
    if (SSL_CTX_use_certificate_chain_file(context, options.cert_file.c_str()) != 1) {
      return absl::InvalidArgumentError(absl::StrCat(
          "--cert ", options.cert_file, ": not a PEM certificate (", LastOpenSslError(), ")"));
    }
    if (SSL_CTX_use_PrivateKey_file(context, options.key_file.c_str(), SSL_FILETYPE_PEM) != 1 ||
        SSL_CTX_check_private_key(context) != 1) {
      const bool mismatch = ERR_GET_REASON(ERR_peek_last_error()) == X509_R_KEY_VALUES_MISMATCH;
      const std::string reason = LastOpenSslError();
      return absl::InvalidArgumentError(
          mismatch
              ? absl::StrCat("--key ", options.key_file, ": not the key of --cert ",
                             options.cert_file)
              : absl::StrCat("--key ", options.key_file, ": not a PEM private key (", reason, ")"));
    }
  }
  if (!alpn.empty()) {
    std::string protocols(1, static_cast<char>(alpn.size()));
    protocols += alpn;
    SSL_CTX_set_alpn_protos(context, reinterpret_cast<const unsigned char*>(protocols.data()),
                            static_cast<unsigned>(protocols.size()));
  }
  // Sessions are kept here, not in OpenSSL's cache: the last one is offered
  // by every new connection.
  SSL_CTX_set_session_cache_mode(context, SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);
  SSL_CTX_sess_set_new_cb(context, &TlsClientContext::OnNewSession);
  SSL_CTX_set_ex_data(context, ContextIndex(), tls.get());
  tls->verify_name_ = options.server_name.empty() ? host : options.server_name;
  tls->verify_ip_ = IsIpLiteral(tls->verify_name_);
  return tls;
}

TlsClientContext::~TlsClientContext() {
  if (last_session_ != nullptr) SSL_SESSION_free(last_session_);
  SSL_CTX_free(context_);
}

int TlsClientContext::OnNewSession(SSL* ssl, SSL_SESSION* session) {
  auto* tls =
      static_cast<TlsClientContext*>(SSL_CTX_get_ex_data(SSL_get_SSL_CTX(ssl), ContextIndex()));
  // A copy: `session` stays its connection's, which OpenSSL marks spent when
  // the connection resumes with it or ends without a shutdown.
  SSL_SESSION* copy = SSL_SESSION_dup(session);
  std::lock_guard lock(tls->mutex_);
  ++tls->sessions_issued_;
  if (copy == nullptr) return 0;
  if (tls->last_session_ != nullptr) SSL_SESSION_free(tls->last_session_);
  tls->last_session_ = copy;
  return 0;  // the connection keeps its own
}

void TlsClientContext::Prepare(SSL* ssl) const {
  SSL_set_connect_state(ssl);
  if (verify_ip_) {
    X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), verify_name_.c_str());
  } else {
    SSL_set_tlsext_host_name(ssl, verify_name_.c_str());
    SSL_set1_host(ssl, verify_name_.c_str());
  }
  // A copy again, for the same reason: the kept session stays resumable for
  // every connection to come (a server takes a ticket again).
  std::lock_guard lock(mutex_);
  if (last_session_ == nullptr) return;
  SSL_SESSION* copy = SSL_SESSION_dup(last_session_);
  if (copy == nullptr) return;
  SSL_set_session(ssl, copy);
  SSL_SESSION_free(copy);
}

int64_t TlsClientContext::sessions_issued() const {
  std::lock_guard lock(mutex_);
  return sessions_issued_;
}

void TlsClientContext::ClearErrors() {
  ERR_clear_error();
  errno = 0;
}

std::string TlsClientContext::ErrorText(SSL* ssl, int ret) {
  const int error = SSL_get_error(ssl, ret);
  std::string text;
  if (error == SSL_ERROR_SYSCALL && ERR_peek_last_error() == 0) {
    text = errno != 0 ? std::strerror(errno) : "the connection closed during TLS";
  } else if (error == SSL_ERROR_ZERO_RETURN) {
    text = "the server closed TLS";
  } else {
    text = LastOpenSslError();
  }
  ERR_clear_error();
  return text + VerifyFailure(ssl);
}

std::string TlsClientContext::VerifyFailure(SSL* ssl) {
  const long verified = SSL_get_verify_result(ssl);
  return verified == X509_V_OK ? std::string()
                               : absl::StrCat(" (", X509_verify_cert_error_string(verified), ")");
}

absl::Status TlsClientContext::Handshake(int fd, int64_t timeout_nanos) const {
  const int64_t give_up = Now() + timeout_nanos;
  std::unique_ptr<SSL, decltype(&SSL_free)> ssl(SSL_new(context_), &SSL_free);
  if (ssl == nullptr || SSL_set_fd(ssl.get(), fd) != 1) {
    return absl::UnavailableError(absl::StrCat("TLS: ", LastOpenSslError()));
  }
  Prepare(ssl.get());
  const auto failed = [&](int ret) {
    const int error = SSL_get_error(ssl.get(), ret);
    return absl::UnavailableError(absl::StrCat(
        "TLS handshake failed: ", error == SSL_ERROR_WANT_READ || error == SSL_ERROR_WANT_WRITE
                                      ? "timed out"
                                      : ErrorText(ssl.get(), ret)));
  };
  while (true) {
    ClearErrors();
    const int ret = SSL_do_handshake(ssl.get());
    if (ret == 1) break;
    const int error = SSL_get_error(ssl.get(), ret);
    const short want = error == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT;
    if ((error != SSL_ERROR_WANT_READ && error != SSL_ERROR_WANT_WRITE) ||
        !WaitFor(fd, want, give_up)) {
      return failed(ret);
    }
  }
  if (SSL_version(ssl.get()) != TLS1_3_VERSION) return absl::OkStatus();
  const int64_t issued = sessions_issued();
  const int64_t until = std::min(give_up, Now() + kVerdictWaitNanos);
  char byte;
  while (sessions_issued() == issued) {
    ClearErrors();
    const int ret = SSL_read(ssl.get(), &byte, 1);
    if (ret > 0) break;  // the server spoke: it took the handshake
    const int error = SSL_get_error(ssl.get(), ret);
    if (error != SSL_ERROR_WANT_READ) return failed(ret);
    // No verdict in time: a server that issues no tickets, taken as accepting.
    if (!WaitFor(fd, POLLIN, until)) break;
  }
  return absl::OkStatus();
}

}  // namespace aurigraph::loadgen
