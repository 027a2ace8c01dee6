// The bundled reference implementation of the Aurigraph API, served over gRPC
// (callback API) with health checking and server reflection, and with fault
// injection applied to every response so the harness can be checked against
// known ground truth.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/clock/clock.h"
#include "common/status_codes/status_codes.h"
#include "reference-server/admission/call_gate.h"
#include "reference-server/approval/approval_store.h"
#include "reference-server/connections/connection_guard.h"
#include "reference-server/contract/contract_engine.h"
#include "reference-server/crypto/key_store.h"
#include "reference-server/faults/fault_injector.h"
#include "reference-server/http/http_server.h"
#include "reference-server/storage/kv_store.h"
#include "reference-server/streams/event_stream.h"
#include "reference-server/traceability/link_log.h"
#include "reference-server/transaction/transaction_store.h"
#include "reference-server/webhooks/delivery_pipeline.h"
#include "reference-server/webhooks/webhook_registry.h"

namespace aurigraph::consensus {
class ConsensusNode;
}

namespace aurigraph::refserver {

// A node of a replicated cluster: transactions commit through Raft
// consensus across the members (reference-server/consensus/).
struct ClusterOptions {
  std::string node_id;  // this node's name among `peers`
  std::string peers;    // "ID=HOST:PORT,..." naming every member; empty: a single server
  // The Raft log, term and vote (RocksDB); empty: memory only (a restarted node
  // comes back empty, which Raft tolerates only if the others kept a majority).
  std::string data_dir;
  int64_t tick_nanos = 10'000'000;
  int election_ticks = 15;  // election timeout: 150-300 ms
  uint64_t snapshot_entries = 10'000;
  int max_inflight = 64;  // appends in flight per follower
  bool admin = false;     // serve ConsensusAdminService (fault injection)
};

struct ServerOptions {
  std::string listen = "127.0.0.1:0";  // port 0 picks a free port
  FaultConfig faults;
  ApprovalStore::Options approvals;
  TransactionStore::Options transactions;
  KeyStore::Options keys;    // CryptoService
  KvStore::Options storage;  // StorageService (its directory empty: in memory)
  LinkLog::Options traceability;
  ContractEngine::Options contracts;  // ContractService (its state in `storage`)
  int64_t sweep_interval_nanos = 1'000'000'000;
  // Server streams: events one subscriber may have queued before it is cut off
  // with RESOURCE_EXHAUSTED (see streams/event_stream.h). Above the largest
  // batch (10,000), so one batch's burst never cuts off a subscriber that keeps up.
  size_t stream_queue_bound = 16384;
  // Bidi streams: replies waiting to be written before the server stops reading.
  size_t reply_window = 256;
  // StreamPendingApprovals: at most this many pending approvals in its snapshot.
  size_t pending_snapshot_limit = 10'000;
  // The REST/JSON gateway (service/rest_gateway.h) on rest.listen; empty: none.
  http::ServerOptions rest{.listen = ""};
  // Serve Prometheus metrics at http://HOST:PORT/metrics (gRPC server, domain
  // and process metrics); empty = none. Port 0 picks a free port.
  std::string metrics_listen;
  // TLS (PEM file contents): with tls_cert and tls_key the server speaks TLS;
  // with tls_client_ca as well it requires and verifies client certificates.
  std::string tls_cert;
  std::string tls_key;
  std::string tls_client_ca;
  // Limits that keep one client from taking the server down (README "The
  // server's limits"). Streams one HTTP/2 connection may have open
  // (SETTINGS_MAX_CONCURRENT_STREAMS); a client that ignores the setting is
  // disconnected (connections/connection_policy.h).
  int max_concurrent_streams = 1024;
  // Unary calls held at once (handler to response, injected latency included);
  // beyond it calls are refused with RESOURCE_EXHAUSTED, fairly between
  // connections (admission/call_gate.h).
  int64_t max_in_flight = 4096;
  // A connection whose client resets this many streams within 10 s, more than
  // half of those it opened, is disconnected (rapid reset; see connections/).
  int64_t max_stream_resets = 1000;
  // Accept connections through an HTTP/2 filter in front of gRPC
  // (connections/http2_front.h), which holds clients to the stream limit
  // whether or not they acknowledge it, before gRPC reads their streams, and
  // closes abusive connections with a GOAWAY at a frame boundary. Plain TCP
  // only (not with tls_cert).
  bool http2_front = false;
  // With http2_front: HTTP/2 streams open at once across all connections;
  // beyond it a new stream is refused (REFUSED_STREAM) unless its connection
  // holds less than an equal share (connections/stream_budget.h).
  int64_t max_open_streams = 2048;
  // Request headers whose values are counted per request (see metrics/metadata_tally.h).
  std::vector<std::string> count_metadata;
  // Webhooks: the registry's directory (empty: memory only), how deliveries
  // are queued and retried (see webhooks/delivery_pipeline.h), and the hosts
  // endpoints may point at.
  WebhookRegistry::Options webhooks;
  DeliveryOptions delivery;
  ClusterOptions cluster;
  const Clock* monotonic_clock = &SteadyClock::Instance();  // fault timing
  const Clock* wall_clock = &WallClock::Instance();         // timestamps, deadlines
};

// RPCs finished by the server, by final status code (injected errors included).
struct HandledCounters {
  std::array<std::atomic<int64_t>, kStatusCodeCount> by_code{};
  int64_t total() const;
};

class ReferenceServer {
 public:
  // UNAVAILABLE when the address cannot be bound.
  static absl::StatusOr<std::unique_ptr<ReferenceServer>> Start(const ServerOptions& options);
  ~ReferenceServer();

  std::string address() const;  // "HOST:PORT" with the bound port
  int port() const;
  int metrics_port() const;  // 0 without metrics_listen
  int rest_port() const;     // 0 without a REST gateway
  // Stops accepting calls, finishes in-flight ones (up to `grace_nanos`), stops background work.
  void Shutdown(int64_t grace_nanos = 2'000'000'000);
  void Wait();

  const HandledCounters& handled() const;
  const ApprovalStore& approvals() const;
  const TransactionStore& transactions() const;
  const KeyStore& keys() const;
  const KvStore& storage() const;
  const LinkLog& links() const;
  const ContractEngine& contracts() const;
  const StreamCounters& streams() const;
  // Requests that carried header `key` with `value` (for keys in count_metadata).
  int64_t metadata_count(const std::string& key, const std::string& value) const;
  // Where the webhook delivery topics can be read ("HOST:PORT,..."); the
  // embedded cluster starts here if no webhook has started it yet.
  absl::StatusOr<std::string> KafkaBrokers();
  // Whether Kafka is set up: the embedded cluster waits for the first webhook.
  bool kafka_started() const;
  const DeliveryCounters& deliveries() const;
  // Load shedding and the connections closed for abusing their streams.
  const CallGate& call_gate() const;
  const GuardCounters& connection_guard() const;
  // A cluster node's consensus (nullptr on a single server).
  const consensus::ConsensusNode* consensus() const;

 private:
  struct Impl;
  explicit ReferenceServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace aurigraph::refserver
