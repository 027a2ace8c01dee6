// TLS for the loadgen's own wires (HTTP/1.1 and WebSocket), by OpenSSL: one
// client context per run, built from the scenario's channel options (a CA
// file or the system's roots, a client certificate for mutual TLS, the name
// the server's certificate must carry), and what each connection needs from
// it: the server's name for SNI and verification, and the last session the
// server issued, offered for resumption.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "loadgen/interfaces/channel_options.h"

typedef struct ssl_st SSL;
typedef struct ssl_ctx_st SSL_CTX;
typedef struct ssl_session_st SSL_SESSION;

namespace aurigraph::loadgen {

// The contents of the PEM file given as `what` (--ca, --cert, --key);
// INVALID_ARGUMENT naming it when it cannot be read or is empty.
absl::StatusOr<std::string> ReadPem(const std::string& path, const char* what);

class TlsClientContext {
 public:
  // `host` is the target's host, a name or an IP literal: the server's
  // certificate must carry it unless `options.server_name` names another.
  // Offers ALPN `alpn` ("http/1.1"). INVALID_ARGUMENT naming a file that
  // cannot be read, is not PEM, or a key that is not the certificate's.
  static absl::StatusOr<std::shared_ptr<TlsClientContext>> Make(const ChannelOptions& options,
                                                                const std::string& host,
                                                                const std::string& alpn);
  ~TlsClientContext();
  TlsClientContext(const TlsClientContext&) = delete;
  TlsClientContext& operator=(const TlsClientContext&) = delete;

  SSL_CTX* native() const { return context_; }
  // Readies a connection's `ssl` as a client: SNI (for a name, not an IP),
  // the name or address to verify, and a copy of the last session to resume.
  void Prepare(SSL* ssl) const;
  // Sessions the server issued (TLS 1.3 tickets, or TLS 1.2 sessions) so far.
  int64_t sessions_issued() const;
  // Why a TLS operation on `ssl` that returned `ret` failed, in one line:
  // OpenSSL's reason and, for a certificate that failed verification, why.
  static std::string ErrorText(SSL* ssl, int ret);
  // " (why)" when the server's certificate failed verification on `ssl`, else "".
  static std::string VerifyFailure(SSL* ssl);
  // Clears OpenSSL's error queue and errno before a TLS operation, so that its
  // failure reads its own reason.
  static void ClearErrors();

  // A TLS handshake over `fd` (a connected non-blocking socket) within
  // `timeout_nanos`; then, under TLS 1.3, where the server checks a client
  // certificate only after the client is done, a wait (up to a second) for
  // its verdict: a session ticket or an alert. UNAVAILABLE saying why it failed.
  absl::Status Handshake(int fd, int64_t timeout_nanos) const;

 private:
  TlsClientContext() = default;
  static int OnNewSession(SSL* ssl, SSL_SESSION* session);

  SSL_CTX* context_ = nullptr;
  std::string verify_name_;
  bool verify_ip_ = false;
  mutable std::mutex mutex_;
  SSL_SESSION* last_session_ = nullptr;  // guarded by mutex_
  int64_t sessions_issued_ = 0;          // guarded by mutex_
};

}  // namespace aurigraph::loadgen
