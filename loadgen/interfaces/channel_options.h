// Channel settings, kept apart from the transport so scenarios can carry them
// without depending on gRPC.
#pragma once

#include <cstdint>
#include <string>

namespace aurigraph::loadgen {

// How channels connect: plaintext, TLS (server verified against a CA file, or
// the system's roots) or mutual TLS, and the HTTP/2 settings a user may need.
struct ChannelOptions {
  // What frames gRPC's unary calls: gRPC's own library, or nghttp2 (the
  // HTTP/2 library h2load is built on) for plaintext, identity-encoded unary
  // calls at a fraction of the library's CPU per call.
  enum class Client { kGrpc, kNghttp2 };
  Client client = Client::kGrpc;
  bool tls = false;
  std::string ca_file;               // PEM roots; empty = the system's
  std::string cert_file;             // mutual TLS: this client's certificate chain...
  std::string key_file;              // ...and its private key
  std::string server_name;           // the name the server's certificate must carry
  std::string authority;             // the :authority header, when not the target
  bool gzip = false;                 // compress requests
  int64_t keepalive_time_nanos = 0;  // 0 = gRPC's default
  int64_t keepalive_timeout_nanos = 0;
  int64_t max_message_bytes = 64 * 1024 * 1024;  // received
  // After a connection attempt fails, the next waits this long, growing 1.6
  // times per failure in a row up to the max (gRPC's defaults and growth);
  // calls meanwhile fail UNAVAILABLE at once.
  int64_t reconnect_backoff_nanos = 1'000'000'000;
  int64_t reconnect_backoff_max_nanos = 120'000'000'000;
};

}  // namespace aurigraph::loadgen
