// aurigraph-refserver: the bundled reference implementation of the Aurigraph API.
#include <boost/program_options.hpp>
#include <csignal>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <sstream>
#include <thread>

#include "absl/strings/str_split.h"
#include "common/runtime/runtime.h"
#include "common/status_codes/status_codes.h"
#include "common/units/units.h"
#include "common/version/version.h"
#include "reference-server/consensus/node/consensus_node.h"
#include "reference-server/decoding/decoded_request.h"
#include "reference-server/metrics/metadata_tally.h"
#include "reference-server/service/reference_server.h"
#include "reference-server/webhooks/secret_box.h"

namespace po = boost::program_options;
using namespace aurigraph;
using namespace aurigraph::refserver;

namespace {

int Fail(const std::string& message) {
  std::cerr << "aurigraph-refserver: " << message << "\n";
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  PrepareGrpcProcess();
  po::options_description options("aurigraph-refserver [options]");
  options.add_options()("help,h", "show this help")("version", "print the version")(
      "listen", po::value<std::string>()->default_value("127.0.0.1:50051"),
      "HOST:PORT (port 0 picks a free port)")(
      "latency", po::value<std::string>()->default_value("none"),
      "added response latency: none, fixed:5ms, uniform:1ms:10ms, exponential:2ms (mean)")(
      "error-rate", po::value<double>()->default_value(0),
      "fraction of responses replaced by an error (0..1)")(
      "error-code", po::value<std::string>()->default_value("UNAVAILABLE"),
      "status code of injected errors")("stall", po::value<std::string>(),
                                        "hold every response for D every P, e.g. 200ms/2s")(
      "service-slots", po::value<int>()->default_value(0),
      "serve calls in this many slots, each held for the added --latency; calls beyond them "
      "wait in order, so the capacity is SLOTS / latency (known ground truth for capacity "
      "searches); 0: no limit")("fault-seed", po::value<uint64_t>()->default_value(1),
                                "seed of the fault injection generators")(
      "approval-ttl", po::value<std::string>()->default_value("60s"),
      "default approval time to live")("approval-retention",
                                       po::value<std::string>()->default_value("5m"),
                                       "how long finalized approvals are kept")(
      "max-stored-transactions", po::value<int64_t>()->default_value(1'000'000),
      "transactions kept (and checked for duplicate ids); the oldest are forgotten beyond it")(
      "stream-queue", po::value<int64_t>()->default_value(16384),
      "events a server-stream subscriber may have queued; beyond it the subscriber is cut off "
      "with RESOURCE_EXHAUSTED")(
      "reply-window", po::value<int64_t>()->default_value(256),
      "bidi streams: replies waiting to be written before the server stops reading requests")(
      "max-concurrent-streams", po::value<int>()->default_value(1024),
      "HTTP/2 streams one connection may have open (SETTINGS_MAX_CONCURRENT_STREAMS); a client "
      "that ignores it is disconnected")(
      "max-in-flight", po::value<int64_t>()->default_value(4096),
      "unary calls held at once; beyond it calls are refused with RESOURCE_EXHAUSTED, the "
      "connections holding the most first")(
      "max-stream-resets", po::value<int64_t>()->default_value(1000),
      "disconnect a client that resets this many streams within 10 s, more than half of those "
      "it opened (HTTP/2 rapid reset)")(
      "http2-front", po::bool_switch(),
      "accept connections through an HTTP/2 filter in front of gRPC: streams beyond "
      "--max-concurrent-streams are refused before gRPC reads them, whether or not the client "
      "acknowledged the limit, and abusive connections are closed with a GOAWAY between frames "
      "(plain TCP only)")(
      "max-open-streams", po::value<int64_t>()->default_value(2048),
      "with --http2-front: HTTP/2 streams open at once in all connections; beyond it a new "
      "stream is refused (REFUSED_STREAM) unless its connection holds less than an equal share")(
      "storage-max-keys", po::value<int64_t>()->default_value(1'000'000),
      "StorageService: keys held at once (history included); a put of one more is refused with "
      "RESOURCE_EXHAUSTED")(
      "storage-max-bytes", po::value<std::string>()->default_value("1GiB"),
      "StorageService: value bytes held, every kept version counted; a put beyond it is refused")(
      "storage-max-value", po::value<std::string>()->default_value("1MiB"),
      "StorageService: the largest value a put may store")(
      "storage-max-history", po::value<int64_t>()->default_value(16),
      "StorageService: versions kept per key; older ones are dropped")(
      "storage-retention", po::value<std::string>()->default_value("60s"),
      "StorageService: how long a deleted or expired key stays in its history before it is "
      "forgotten")(
      "traceability-max-links", po::value<int64_t>()->default_value(1'000'000),
      "TraceabilityService: links the log holds; one more is refused with RESOURCE_EXHAUSTED")(
      "contract-max-contracts", po::value<int64_t>()->default_value(1000),
      "ContractService: contracts deployed at once; one more is refused with RESOURCE_EXHAUSTED")(
      "contract-default-gas", po::value<int64_t>()->default_value(100'000),
      "ContractService: the gas limit of a call that names none")(
      "contract-max-gas", po::value<int64_t>()->default_value(1'000'000),
      "ContractService: the largest gas limit a call may ask for")(
      "crypto-max-keys", po::value<int64_t>()->default_value(10'000),
      "CryptoService: keys held at once; creating one more is refused with RESOURCE_EXHAUSTED")(
      "crypto-max-versions", po::value<int64_t>()->default_value(16),
      "CryptoService: versions kept (verifiable) per key; older ones are dropped and wiped")(
      "leak", po::value<std::string>(),
      "keep this much memory per unary call, e.g. 4KiB (an injected leak for leak detection)")(
      "tls-cert", po::value<std::string>(), "serve TLS with this PEM certificate (and --tls-key)")(
      "tls-key", po::value<std::string>(), "the PEM private key of --tls-cert")(
      "tls-client-ca", po::value<std::string>(),
      "require client certificates signed by this PEM CA (mutual TLS)")(
      "metrics-listen", po::value<std::string>(),
      "serve Prometheus metrics at http://HOST:PORT/metrics (port 0 picks a free port)")(
      "rest-listen", po::value<std::string>(),
      "serve the REST/JSON gateway (HTTP/1.1) on HOST:PORT (port 0 picks a free port)")(
      "rest-threads", po::value<int>()->default_value(2), "REST gateway: threads serving HTTP")(
      "rest-max-body", po::value<std::string>()->default_value("4MiB"),
      "REST gateway: the largest request body (413 above it)")(
      "ws-idle-timeout", po::value<std::string>()->default_value("60s"),
      "REST gateway's WebSocket channel (/v1/ws): ping a connection silent for half this "
      "long, close it when nothing (not even a pong) came in this long")(
      "count-metadata", po::value<std::string>(),
      "count requests per value of these request headers, e.g. x-tenant "
      "(metric aurigraph_refserver_request_metadata_total; credential headers are refused)")(
      "data-dir", po::value<std::string>(),
      "keep the webhook registry and delivery records here (RocksDB), StorageService's store "
      "(DIR/storage) and on a cluster node the Raft log (DIR/raft), so they survive a restart "
      "(default: memory only)")(
      "secret-key-file", po::value<std::string>(),
      "encrypt webhook secrets at rest in --data-dir (AES-256-GCM) with this key: 64 hex digits, "
      "e.g. from openssl rand -hex 32; secrets already stored in clear are sealed at start")(
      "kafka", po::value<std::string>()->default_value("embedded"),
      "webhook delivery queue: 'embedded' (librdkafka's in-process mock cluster) or brokers "
      "HOST:PORT,...")("webhook-allow-hosts",
                       po::value<std::string>()->default_value("127.0.0.1,localhost,::1"),
                       "hosts webhook endpoints may point at, comma-separated")(
      "webhook-backoff", po::value<std::string>()->default_value("1s"),
      "wait after a failed delivery attempt, doubling per attempt (capped at 60s)")(
      "webhook-workers", po::value<int>()->default_value(8), "concurrent webhook HTTP requests")(
      "max-stored-deliveries", po::value<int64_t>()->default_value(1'000'000),
      "finished webhook delivery records kept for the history RPC; the oldest are forgotten "
      "beyond it")("node-id", po::value<std::string>(),
                   "cluster mode: this node's id among --peers")(
      "peers", po::value<std::string>(),
      "cluster mode: every member as ID=HOST:PORT,... (this node included, at least 3); "
      "transactions then commit through Raft consensus, and --listen defaults to this node's "
      "address")("election-timeout", po::value<std::string>()->default_value("150ms"),
                 "cluster mode: a follower that hears no leader for 1-2x this campaigns")(
      "heartbeat", po::value<std::string>()->default_value("10ms"),
      "cluster mode: the leader's heartbeat interval (Raft's tick)")(
      "snapshot-entries", po::value<int64_t>()->default_value(10'000),
      "cluster mode: compact the Raft log into a snapshot every this many entries")(
      "admin",
      "cluster mode: serve ConsensusAdminService (crash, pause, partition, peer latency, "
      "heal) for failover tests; never on a node others depend on");
  po::variables_map vm;
  try {
    po::store(po::parse_command_line(argc, argv, options), vm);
    po::notify(vm);
  } catch (const po::error& e) {
    return Fail(std::string(e.what()) + " (see --help)");
  }
  if (vm.count("help")) {
    std::cout << options << "\n";
    return 0;
  }
  if (vm.count("version")) {
    std::cout << "aurigraph-refserver " << kVersion << "\n";
    return 0;
  }

  ServerOptions server_options;
  server_options.listen = vm["listen"].as<std::string>();
  if (vm.count("peers") != vm.count("node-id")) return Fail("--node-id and --peers go together");
  if (vm.count("peers")) {
    ClusterOptions& cluster = server_options.cluster;
    cluster.node_id = vm["node-id"].as<std::string>();
    cluster.peers = vm["peers"].as<std::string>();
    // This node serves where the others reach it, unless told otherwise.
    if (vm["listen"].defaulted()) {
      for (absl::string_view item : absl::StrSplit(cluster.peers, ',', absl::SkipWhitespace())) {
        std::pair<std::string, std::string> member = absl::StrSplit(item, absl::MaxSplits('=', 1));
        if (member.first == cluster.node_id) server_options.listen = member.second;
      }
    }
    auto heartbeat = ParseDuration(vm["heartbeat"].as<std::string>());
    auto election = ParseDuration(vm["election-timeout"].as<std::string>());
    if (!heartbeat.ok() || *heartbeat < 1'000'000) {
      return Fail("--heartbeat: expected a duration of at least 1ms, such as 10ms");
    }
    if (!election.ok() || *election < 3 * *heartbeat) {
      return Fail(
          "--election-timeout: expected a duration of at least 3 heartbeats, such as 150ms");
    }
    cluster.tick_nanos = *heartbeat;
    cluster.election_ticks = static_cast<int>(*election / *heartbeat);
    if (vm["snapshot-entries"].as<int64_t>() < 1) return Fail("--snapshot-entries must be >= 1");
    cluster.snapshot_entries = static_cast<uint64_t>(vm["snapshot-entries"].as<int64_t>());
    if (vm.count("data-dir")) cluster.data_dir = vm["data-dir"].as<std::string>() + "/raft";
    cluster.admin = vm.count("admin") > 0;
  }
  FaultConfig& faults = server_options.faults;
  if (auto s = ParseLatencySpec(vm["latency"].as<std::string>(), &faults); !s.ok())
    return Fail(std::string(s.message()));
  faults.error_rate = vm["error-rate"].as<double>();
  if (faults.error_rate < 0 || faults.error_rate > 1) return Fail("--error-rate must be in 0..1");
  auto code = ParseStatusCode(vm["error-code"].as<std::string>());
  if (!code.ok() || *code == 0)
    return Fail("--error-code: unknown or OK status code '" + vm["error-code"].as<std::string>() +
                "'");
  faults.error_code = *code;
  if (vm.count("stall")) {
    if (auto s = ParseStallSpec(vm["stall"].as<std::string>(), &faults); !s.ok())
      return Fail(std::string(s.message()));
  }
  faults.service_slots = vm["service-slots"].as<int>();
  if (faults.service_slots < 0 || faults.service_slots > 1'000'000) {
    return Fail("--service-slots must be in 0..1000000");
  }
  faults.seed = vm["fault-seed"].as<uint64_t>();
  if (vm.count("leak")) {
    auto bytes = ParseBytes(vm["leak"].as<std::string>());
    if (!bytes.ok() || *bytes <= 0) return Fail("--leak: expected a size such as 4KiB");
    faults.leak_bytes_per_call = *bytes;
  }
  auto ttl = ParseDuration(vm["approval-ttl"].as<std::string>());
  if (!ttl.ok() || *ttl <= 0)
    return Fail("--approval-ttl: expected a positive duration such as 60s");
  server_options.approvals.default_ttl_nanos = *ttl;
  auto retention = ParseDuration(vm["approval-retention"].as<std::string>());
  if (!retention.ok()) return Fail("--approval-retention: expected a duration such as 5m");
  server_options.approvals.retention_nanos = *retention;
  KvStore::Options& storage = server_options.storage;
  if (vm["storage-max-keys"].as<int64_t>() < 1) return Fail("--storage-max-keys must be >= 1");
  storage.max_keys = static_cast<size_t>(vm["storage-max-keys"].as<int64_t>());
  auto storage_bytes = ParseBytes(vm["storage-max-bytes"].as<std::string>());
  if (!storage_bytes.ok() || *storage_bytes <= 0)
    return Fail("--storage-max-bytes: expected a size such as 1GiB");
  storage.max_bytes = *storage_bytes;
  auto storage_value = ParseBytes(vm["storage-max-value"].as<std::string>());
  if (!storage_value.ok() || *storage_value <= 0 || *storage_value > kMaxMessageBytes / 2)
    return Fail("--storage-max-value: expected a size such as 1MiB, below half the message limit");
  storage.max_value_bytes = static_cast<size_t>(*storage_value);
  if (vm["storage-max-history"].as<int64_t>() < 1)
    return Fail("--storage-max-history must be >= 1");
  storage.max_history = static_cast<size_t>(vm["storage-max-history"].as<int64_t>());
  auto storage_retention = ParseDuration(vm["storage-retention"].as<std::string>());
  if (!storage_retention.ok() || *storage_retention < 0)
    return Fail("--storage-retention: expected a duration such as 60s");
  storage.retention_nanos = *storage_retention;
  if (vm.count("data-dir")) storage.directory = vm["data-dir"].as<std::string>() + "/storage";
  server_options.transactions.max_stored = vm["max-stored-transactions"].as<int64_t>();
  if (server_options.transactions.max_stored < 1)
    return Fail("--max-stored-transactions must be >= 1");
  if (vm["stream-queue"].as<int64_t>() < 1) return Fail("--stream-queue must be >= 1");
  server_options.stream_queue_bound = static_cast<size_t>(vm["stream-queue"].as<int64_t>());
  if (vm["reply-window"].as<int64_t>() < 1) return Fail("--reply-window must be >= 1");
  server_options.reply_window = static_cast<size_t>(vm["reply-window"].as<int64_t>());
  server_options.max_concurrent_streams = vm["max-concurrent-streams"].as<int>();
  if (server_options.max_concurrent_streams < 1)
    return Fail("--max-concurrent-streams must be >= 1");
  server_options.max_in_flight = vm["max-in-flight"].as<int64_t>();
  if (server_options.max_in_flight < 1) return Fail("--max-in-flight must be >= 1");
  if (vm["traceability-max-links"].as<int64_t>() < 1)
    return Fail("--traceability-max-links must be >= 1");
  server_options.traceability.max_links =
      static_cast<size_t>(vm["traceability-max-links"].as<int64_t>());
  ContractEngine::Options& contracts = server_options.contracts;
  if (vm["contract-max-contracts"].as<int64_t>() < 1)
    return Fail("--contract-max-contracts must be >= 1");
  contracts.max_contracts = static_cast<size_t>(vm["contract-max-contracts"].as<int64_t>());
  if (vm["contract-max-gas"].as<int64_t>() < 1) return Fail("--contract-max-gas must be >= 1");
  contracts.max_gas = static_cast<uint64_t>(vm["contract-max-gas"].as<int64_t>());
  if (vm["contract-default-gas"].as<int64_t>() < 1 ||
      vm["contract-default-gas"].as<int64_t>() > vm["contract-max-gas"].as<int64_t>())
    return Fail("--contract-default-gas must be between 1 and --contract-max-gas");
  contracts.default_gas = static_cast<uint64_t>(vm["contract-default-gas"].as<int64_t>());
  if (vm["crypto-max-keys"].as<int64_t>() < 1) return Fail("--crypto-max-keys must be >= 1");
  server_options.keys.max_keys = static_cast<size_t>(vm["crypto-max-keys"].as<int64_t>());
  if (vm["crypto-max-versions"].as<int64_t>() < 1)
    return Fail("--crypto-max-versions must be >= 1");
  server_options.keys.max_versions = static_cast<size_t>(vm["crypto-max-versions"].as<int64_t>());
  server_options.max_stream_resets = vm["max-stream-resets"].as<int64_t>();
  if (server_options.max_stream_resets < 1) return Fail("--max-stream-resets must be >= 1");
  server_options.http2_front = vm["http2-front"].as<bool>();
  server_options.max_open_streams = vm["max-open-streams"].as<int64_t>();
  if (server_options.max_open_streams < 1) return Fail("--max-open-streams must be >= 1");
  if (vm.count("metrics-listen"))
    server_options.metrics_listen = vm["metrics-listen"].as<std::string>();
  if (vm.count("rest-listen")) server_options.rest.listen = vm["rest-listen"].as<std::string>();
  server_options.rest.threads = vm["rest-threads"].as<int>();
  if (server_options.rest.threads < 1 || server_options.rest.threads > 256)
    return Fail("--rest-threads must be 1-256");
  {
    auto bytes = ParseBytes(vm["rest-max-body"].as<std::string>());
    if (!bytes.ok() || *bytes < 1) return Fail("--rest-max-body: a size such as 4MiB");
    server_options.rest.max_body_bytes = static_cast<size_t>(*bytes);
  }
  {
    auto idle = ParseDuration(vm["ws-idle-timeout"].as<std::string>());
    if (!idle.ok() || *idle < 100'000'000) {
      return Fail("--ws-idle-timeout: a duration of at least 100ms, such as 60s");
    }
    server_options.rest.websocket_idle_timeout_nanos = *idle;
  }
  if (vm.count("count-metadata")) {
    for (absl::string_view key :
         absl::StrSplit(vm["count-metadata"].as<std::string>(), ',', absl::SkipEmpty())) {
      if (auto s = CheckCountable(std::string(key)); !s.ok()) return Fail(std::string(s.message()));
      server_options.count_metadata.emplace_back(key);
    }
  }
  if (vm.count("data-dir")) server_options.webhooks.data_dir = vm["data-dir"].as<std::string>();
  if (vm.count("secret-key-file")) {
    if (!vm.count("data-dir"))
      return Fail("--secret-key-file: only with --data-dir (secrets at rest)");
    auto box = SecretBox::FromKeyFile(vm["secret-key-file"].as<std::string>());
    if (!box.ok()) return Fail(std::string(box.status().message()));
    server_options.webhooks.secret_box = std::make_shared<const SecretBox>(*std::move(box));
  }
  server_options.delivery.kafka = vm["kafka"].as<std::string>();
  server_options.webhooks.allowed_hosts.clear();
  for (absl::string_view host :
       absl::StrSplit(vm["webhook-allow-hosts"].as<std::string>(), ',', absl::SkipEmpty())) {
    server_options.webhooks.allowed_hosts.emplace(host);
  }
  auto backoff = ParseDuration(vm["webhook-backoff"].as<std::string>());
  if (!backoff.ok() || *backoff <= 0)
    return Fail("--webhook-backoff: expected a duration such as 1s");
  server_options.delivery.retry.initial_backoff_nanos = *backoff;
  server_options.delivery.http_workers = vm["webhook-workers"].as<int>();
  // The embedded cluster starts with the first webhook: its address is known then.
  server_options.delivery.on_connected = [](const std::string& brokers) {
    std::cout << "kafka on " << brokers << std::endl;
  };
  server_options.webhooks.max_stored_deliveries = vm["max-stored-deliveries"].as<int64_t>();
  if (server_options.webhooks.max_stored_deliveries < 1)
    return Fail("--max-stored-deliveries must be >= 1");
  if (server_options.delivery.http_workers < 1 || server_options.delivery.http_workers > 256)
    return Fail("--webhook-workers: 1..256");
  if (vm.count("tls-cert") != vm.count("tls-key"))
    return Fail("--tls-cert and --tls-key go together");
  if (server_options.http2_front && vm.count("tls-cert"))
    return Fail(
        "--http2-front: not with --tls-cert (the filter reads the frames, which TLS hides)");
  for (auto [flag, out] : {std::pair{"tls-cert", &server_options.tls_cert},
                           std::pair{"tls-key", &server_options.tls_key},
                           std::pair{"tls-client-ca", &server_options.tls_client_ca}}) {
    if (!vm.count(flag)) continue;
    std::ifstream in(vm[flag].as<std::string>());
    std::stringstream text;
    text << in.rdbuf();
    if (!in || text.str().empty()) {
      return Fail(std::string("--") + flag + " " + vm[flag].as<std::string>() + ": cannot read");
    }
    *out = text.str();
  }
  if (!server_options.tls_client_ca.empty() && server_options.tls_cert.empty()) {
    return Fail("--tls-client-ca needs --tls-cert and --tls-key");
  }

  // Signals are waited for on a thread of our own, so shutdown runs outside a signal handler.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  auto server = ReferenceServer::Start(server_options);
  if (!server.ok()) {
    std::cerr << "aurigraph-refserver: " << server.status().message() << "\n";
    return 3;
  }
  std::cout << "listening on " << (*server)->address() << std::endl;
  if (const consensus::ConsensusNode* node = (*server)->consensus()) {
    std::cout << "cluster node " << server_options.cluster.node_id << " of "
              << server_options.cluster.peers << "; Raft log "
              << (node->durable() ? "in " + server_options.cluster.data_dir
                                  : std::string("in memory (no --data-dir): a restart forgets "
                                                "term, vote and log"))
              << std::endl;
  }
  if ((*server)->rest_port() != 0) {
    const std::string& rest = server_options.rest.listen;
    std::cout << "rest on http://" << rest.substr(0, rest.rfind(':')) << ":"
              << (*server)->rest_port() << std::endl;
  }
  if ((*server)->metrics_port() != 0) {
    const std::string& metrics = server_options.metrics_listen;
    std::cout << "metrics on http://" << metrics.substr(0, metrics.rfind(':')) << ":"
              << (*server)->metrics_port() << "/metrics" << std::endl;
  }

  std::thread waiter([&] {
    int signal = 0;
    sigwait(&signals, &signal);
    (*server)->Shutdown();
  });
  (*server)->Wait();
  waiter.join();
  return 0;
}
