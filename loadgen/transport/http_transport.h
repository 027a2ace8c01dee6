// Sends requests as HTTP/1.1 over keep-alive connections: each connection
// carries one request at a time (no pipelining, as wrk and h2load --h1 do),
// and a request finds the first idle connection or waits, in arrival order,
// for one (its latency counts the wait: it is measured from the intended send
// time). The request's method and path come as the ":method" and ":path"
// headers, its bytes are the body. Responses are parsed by Boost.Beast's
// parser. Over TLS (OpenSSL), bytes on the wire are the socket's: records,
// handshakes and all. Knows nothing of schedules, histograms or results.
#pragma once

#include <sys/socket.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "loadgen/interfaces/transport.h"
#include "loadgen/interfaces/transport_factory.h"
#include "loadgen/transport/tls_client.h"

namespace aurigraph::loadgen {

// Where connections go: the address that accepted the probe, the Host header
// to send, and TLS (absent: plaintext).
struct HttpEndpoint {
  struct Address {
    sockaddr_storage storage{};
    socklen_t length = 0;
  };
  Address address;
  std::vector<Address> resolved;  // every address HOST resolves to, in the resolver's order
  std::string host;               // "127.0.0.1:8080"
  std::string authority;          // the Host header when not `host`
  std::shared_ptr<const TlsClientContext> tls;

  const std::string& host_header() const { return authority.empty() ? host : authority; }
};

// `address` (HOST:PORT) resolved; INVALID_ARGUMENT when it is not one.
absl::StatusOr<HttpEndpoint> ResolveHttpEndpoint(const std::string& address);

// Connects to each resolved address in turn until one accepts (and completes
// a TLS handshake, for a TLS endpoint), within `timeout_nanos` in all, and
// makes it the endpoint's; UNAVAILABLE naming the target and why otherwise.
absl::Status ProbeHttpEndpoint(HttpEndpoint& endpoint, int64_t timeout_nanos);

// The gRPC status code (as results count them) for an HTTP status: 2xx is OK,
// the others as google.rpc.Code maps them to HTTP (404 NOT_FOUND, 429
// RESOURCE_EXHAUSTED, 503 UNAVAILABLE, ...), UNKNOWN for a status it does not map.
int GrpcCodeForHttpStatus(int http_status);

class HttpTransport final : public Transport {
 public:
  // `connections` connections (opened when first needed) to `endpoint`; at
  // most `slots` requests in flight or waiting for a connection.
  HttpTransport(HttpEndpoint endpoint, int connections, std::vector<UnaryMethod> methods,
                uint32_t slots);
  ~HttpTransport() override;

  void Start(uint32_t slot, uint32_t operation, std::string_view request,
             std::span<const Header> headers) override;
  bool Next(int64_t timeout_nanos, Completion* completion) override;
  // Handles the connections until the time is up, stamping each response as
  // it comes: a response's time is when it was read, never when it is handed over.
  void SleepThrough(int64_t nanos) override;
  void CancelAll() override;
  std::vector<WireTotals> CountsByOperation() const override;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace aurigraph::loadgen
