#include "reference-server/service/reference_server.h"

#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/grpcpp.h>
#include <grpcpp/health_check_service_interface.h>
#include <prometheus/exposer.h>
#include <prometheus/registry.h>

#include <condition_variable>
#include <mutex>
#include <thread>

#include "absl/strings/str_cat.h"
#include "common/metrics/process_metrics.h"
#include "reference-server/connections/http2_front.h"
#include "reference-server/consensus/cluster/membership.h"
#include "reference-server/consensus/node/consensus_node.h"
#include "reference-server/consensus/storage/log_storage.h"
#include "reference-server/consensus/transport/grpc_peer_transport.h"
#include "reference-server/decoding/decoded_request.h"
#include "reference-server/faults/delay_queue.h"
#include "reference-server/memory/memory_return.h"
#include "reference-server/metrics/consensus_metrics.h"
#include "reference-server/metrics/contract_metrics.h"
#include "reference-server/metrics/crypto_metrics.h"
#include "reference-server/metrics/domain_metrics.h"
#include "reference-server/metrics/grpc_server_metrics.h"
#include "reference-server/metrics/limit_metrics.h"
#include "reference-server/metrics/metadata_tally.h"
#include "reference-server/metrics/network_metrics.h"
#include "reference-server/metrics/rest_metrics.h"
#include "reference-server/metrics/storage_metrics.h"
#include "reference-server/metrics/traceability_metrics.h"
#include "reference-server/service/approval_service.h"
#include "reference-server/service/consensus_service.h"
#include "reference-server/service/contract_service.h"
#include "reference-server/service/crypto_service.h"
#include "reference-server/service/event_wiring.h"
#include "reference-server/service/network_service.h"
#include "reference-server/service/replicated_transactions.h"
#include "reference-server/service/responder.h"
#include "reference-server/service/rest_gateway.h"
#include "reference-server/service/storage_service.h"
#include "reference-server/service/streaming.h"
#include "reference-server/service/traceability_service.h"
#include "reference-server/service/transaction_service.h"
#include "reference-server/service/webhook_service.h"
#include "reference-server/streams/event_stream.h"

namespace aurigraph::refserver {

namespace av1 = approval::v1;
namespace tv1 = transaction::v1;

int64_t HandledCounters::total() const {
  int64_t sum = 0;
  for (const auto& count : by_code) sum += count.load(std::memory_order_relaxed);
  return sum;
}

// A cluster node's consensus parts (cluster mode only).
struct ClusterParts {
  explicit ClusterParts(consensus::Membership m) : members(std::move(m)) {}
  consensus::Membership members;
  std::unique_ptr<consensus::LogStorage> storage;
  std::unique_ptr<ReplicatedStateMachine> machine;
  std::unique_ptr<consensus::GrpcPeerTransport> transport;
  std::unique_ptr<consensus::ConsensusNode> node;
  std::unique_ptr<grpc::Service> service;
  std::unique_ptr<grpc::Service> admin;
  ConsensusEvents events;
};

struct ReferenceServer::Impl {
  Impl(const ServerOptions& o, std::unique_ptr<WebhookRegistry> registry,
       std::unique_ptr<DeliveryPipeline> pipeline, std::unique_ptr<KvStore> kv,
       std::unique_ptr<KvStore> contracts_own_store, std::unique_ptr<ContractEngine> contracts,
       std::unique_ptr<ClusterParts> cluster_parts)
      : options(o),
        webhook_registry(std::move(registry)),
        delivery(std::move(pipeline)),
        kv_store(std::move(kv)),
        contract_store(std::move(contracts_own_store)),
        contract_engine(std::move(contracts)),
        faults(o.faults, *o.monotonic_clock),
        approval_store(*o.wall_clock, o.approvals),
        transaction_store(*o.wall_clock, o.transactions),
        key_store(*o.wall_clock, o.keys),
        link_log(*o.wall_clock, o.traceability),
        delayed(*o.monotonic_clock),
        metadata_tally(std::make_shared<MetadataTally>(o.count_metadata)),
        call_gate(o.max_in_flight),
        responder(faults, handled, delayed, call_gate),
        streaming{options,
                  faults,
                  delayed,
                  stream_counters,
                  approval_events,
                  transaction_events,
                  *options.wall_clock,
                  *delivery},
        approval_service(
            MakeApprovalService(approval_store, responder, streaming, o.wall_clock->NowNanos())),
        webhook_service(
            MakeWebhookService(*webhook_registry, *delivery, webhook_hubs, responder, streaming)),
        crypto_service(MakeCryptoService(key_store, responder)),
        storage_service(MakeStorageService(*kv_store, responder)),
        traceability_service(MakeTraceabilityService(link_log, responder)),
        cluster(std::move(cluster_parts)) {
    WireEvents(approval_store, *webhook_registry, streaming, webhook_hubs);
    if (cluster) {
      ClusterParts& c = *cluster;
      const ClusterOptions& co = o.cluster;
      c.machine = std::make_unique<ReplicatedStateMachine>(transaction_store, *contract_engine,
                                                           *contract_store, streaming);
      c.transport = std::make_unique<consensus::GrpcPeerTransport>(
          c.members, [this](raft::Message m) { cluster->node->Receive(std::move(m)); });
      consensus::NodeOptions node;
      node.raft.id = c.members.self();
      node.raft.voters = c.members.ids();
      node.raft.election_ticks = co.election_ticks;
      node.raft.max_inflight = static_cast<size_t>(co.max_inflight);
      node.raft.seed = static_cast<uint64_t>(o.wall_clock->NowNanos());
      node.tick_nanos = co.tick_nanos;
      node.snapshot_entries = co.snapshot_entries;
      node.on_event = ConsensusEventPublisher(c.members, c.events, *o.wall_clock);
      c.node = std::make_unique<consensus::ConsensusNode>(node, *c.storage, *c.transport,
                                                          *c.machine, *o.monotonic_clock);
      c.service = MakeConsensusService(*c.node, c.members, *c.transport, c.events, stream_counters,
                                       o.stream_queue_bound);
      c.admin = MakeConsensusAdminService(*c.node, c.members, *c.transport, co.admin);
      auto replicated = std::make_unique<ReplicatedCommitter>(*c.node, c.members, *c.transport);
      contract_service =
          MakeContractService(*contract_engine, replicated.get(), responder, streaming);
      committer = std::move(replicated);
      peer_link = MakeGrpcPeerLink(c.members, *c.transport);
      std::vector<PeerNetwork::Member> members;
      for (raft::NodeId id : c.members.ids()) {
        members.push_back({c.members.name(id), c.members.address(id)});
      }
      peer_network =
          std::make_unique<PeerNetwork>(std::move(members), c.members.self() - 1, peer_link.get(),
                                        *o.wall_clock, *o.monotonic_clock);
    } else {
      // A cluster of one: itself (its address known once the port is bound).
      peer_network =
          std::make_unique<PeerNetwork>(std::vector<PeerNetwork::Member>{{"self", o.listen}}, 0,
                                        nullptr, *o.wall_clock, *o.monotonic_clock);
      committer = NewLocalCommitter(transaction_store, streaming, *contract_engine);
      contract_service = MakeContractService(*contract_engine, nullptr, responder, streaming);
    }
    transaction_service =
        MakeTransactionService(transaction_store, *committer, responder, streaming);
    network_service = MakeNetworkService(*peer_network, responder, streaming);
  }

  ServerOptions options;
  // Before everything that publishes deliveries, so it outlives them.
  std::unique_ptr<WebhookRegistry> webhook_registry;
  std::unique_ptr<DeliveryPipeline> delivery;
  WebhookHubs webhook_hubs;
  std::unique_ptr<KvStore> kv_store;
  // A cluster's contracts keep their state in a store of their own, which
  // only the replicated state machine writes; a single server's in kv_store.
  std::unique_ptr<KvStore> contract_store;
  std::unique_ptr<ContractEngine> contract_engine;
  FaultInjector faults;
  StreamCounters stream_counters;
  EventHub<av1::ApprovalEvent> approval_events;
  EventHub<CommittedEvent> transaction_events;
  ApprovalStore approval_store;
  TransactionStore transaction_store;
  KeyStore key_store;
  LinkLog link_log;
  HandledCounters handled;
  DelayQueue delayed;
  std::shared_ptr<MetadataTally> metadata_tally;
  CallGate call_gate;
  Responder responder;
  Streaming streaming;
  std::unique_ptr<grpc::Service> approval_service;
  std::unique_ptr<grpc::Service> transaction_service;
  std::unique_ptr<grpc::Service> webhook_service;
  std::unique_ptr<grpc::Service> crypto_service;
  std::unique_ptr<grpc::Service> storage_service;
  std::unique_ptr<grpc::Service> traceability_service;
  std::unique_ptr<grpc::Service> contract_service;
  std::unique_ptr<ClusterParts> cluster;
  std::unique_ptr<TransactionCommitter> committer;
  // The network before its link: the link waits for its deliveries, which
  // report to the network, when it goes.
  std::unique_ptr<PeerNetwork> peer_network;
  std::unique_ptr<PeerLink> peer_link;
  std::unique_ptr<grpc::Service> network_service;
  std::unique_ptr<RestGateway> rest;  // after what it calls, so it stops first
  // Metrics (with metrics_listen): the exposer holds its collectables weakly.
  std::shared_ptr<prometheus::Registry> registry;
  std::shared_ptr<DomainMetrics> domain_metrics;
  std::shared_ptr<metrics::ProcessMetrics> process_metrics;
  std::shared_ptr<LimitMetrics> limit_metrics;
  std::shared_ptr<ConsensusMetrics> consensus_metrics;
  std::shared_ptr<CryptoMetrics> crypto_metrics;
  std::shared_ptr<StorageMetrics> storage_metrics;
  std::shared_ptr<TraceabilityMetrics> traceability_metrics;
  std::shared_ptr<ContractMetrics> contract_metrics;
  std::shared_ptr<NetworkMetrics> network_metrics;
  std::shared_ptr<RestMetrics> rest_metrics;
  std::unique_ptr<GrpcServerMetrics> grpc_metrics;
  std::unique_ptr<prometheus::Exposer> exposer;
  std::unique_ptr<grpc::Server> server;
  // After the server, so that they go first: the guard watches gRPC's
  // connections; the front (http2_front instead) relays them.
  std::unique_ptr<ConnectionGuard> guard;
  std::unique_ptr<Http2Front> front;
  std::string host;
  int port = 0;
  std::thread sweeper;
  TrimPolicy memory{32 << 20};  // hands freed memory back (the sweeper)
  std::mutex mutex;
  std::condition_variable stop_changed;
  bool stopping = false;
};

absl::StatusOr<std::unique_ptr<ReferenceServer>> ReferenceServer::Start(
    const ServerOptions& options) {
  for (const std::string& header : options.count_metadata) {
    if (auto countable = CheckCountable(header); !countable.ok()) return countable;
  }
  auto registry = WebhookRegistry::Open(options.webhooks, *options.wall_clock);
  if (!registry.ok()) return registry.status();
  auto pipeline = DeliveryPipeline::Start(options.delivery, **registry, *options.wall_clock,
                                          *options.monotonic_clock);
  if (!pipeline.ok()) return pipeline.status();
  auto kv_store = KvStore::Open(*options.wall_clock, options.storage);
  if (!kv_store.ok()) return kv_store.status();
  std::unique_ptr<KvStore> contract_store;
  if (!options.cluster.peers.empty()) {
    // In memory: the log and its snapshots are what lasts; a restart replays them.
    KvStore::Options own = options.storage;
    own.directory.clear();
    auto opened = KvStore::Open(*options.wall_clock, own);
    if (!opened.ok()) return opened.status();
    contract_store = *std::move(opened);
  }
  auto contracts = ContractEngine::Open(contract_store ? *contract_store : **kv_store,
                                        *options.wall_clock, options.contracts);
  if (!contracts.ok()) return contracts.status();
  std::unique_ptr<ClusterParts> cluster;
  if (!options.cluster.peers.empty()) {
    auto members = consensus::Membership::Parse(options.cluster.node_id, options.cluster.peers);
    if (!members.ok()) return members.status();
    cluster = std::make_unique<ClusterParts>(*std::move(members));
    if (options.cluster.data_dir.empty()) {
      cluster->storage = consensus::NewMemoryLogStorage();
    } else {
      auto storage = consensus::OpenRocksLogStorage(options.cluster.data_dir);
      if (!storage.ok()) return storage.status();
      cluster->storage = *std::move(storage);
    }
  }
  auto impl = std::make_unique<Impl>(options, *std::move(registry), *std::move(pipeline),
                                     *std::move(kv_store), std::move(contract_store),
                                     *std::move(contracts), std::move(cluster));
  const size_t colon = options.listen.rfind(':');
  if (colon == std::string::npos) {
    return absl::InvalidArgumentError(
        absl::StrCat("--listen ", options.listen, ": expected HOST:PORT"));
  }
  impl->host = options.listen.substr(0, colon);
  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ServerBuilder builder;
  std::vector<std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>> creators;
  if (!options.metrics_listen.empty()) {
    try {  // civetweb reports a port it cannot bind by throwing
      impl->exposer = std::make_unique<prometheus::Exposer>(options.metrics_listen, 1);
    } catch (const std::exception& e) {
      return absl::UnavailableError(absl::StrCat("--metrics-listen ", options.metrics_listen,
                                                 ": cannot listen (", e.what(), ")"));
    }
    impl->registry = std::make_shared<prometheus::Registry>();
    impl->grpc_metrics = std::make_unique<GrpcServerMetrics>(*impl->registry);
    impl->domain_metrics = std::make_shared<DomainMetrics>(
        impl->approval_store, impl->transaction_store, impl->stream_counters, impl->delayed,
        *impl->webhook_registry, impl->delivery->counters());
    impl->process_metrics = std::make_shared<metrics::ProcessMetrics>();
    impl->exposer->RegisterCollectable(impl->registry);
    impl->exposer->RegisterCollectable(impl->domain_metrics);
    impl->exposer->RegisterCollectable(impl->process_metrics);
    impl->exposer->RegisterCollectable(impl->metadata_tally);
    impl->crypto_metrics = std::make_shared<CryptoMetrics>(impl->key_store);
    impl->exposer->RegisterCollectable(impl->crypto_metrics);
    impl->storage_metrics = std::make_shared<StorageMetrics>(*impl->kv_store);
    impl->exposer->RegisterCollectable(impl->storage_metrics);
    impl->traceability_metrics = std::make_shared<TraceabilityMetrics>(impl->link_log);
    impl->exposer->RegisterCollectable(impl->traceability_metrics);
    impl->contract_metrics = std::make_shared<ContractMetrics>(*impl->contract_engine);
    impl->exposer->RegisterCollectable(impl->contract_metrics);
    impl->network_metrics = std::make_shared<NetworkMetrics>(*impl->peer_network);
    impl->exposer->RegisterCollectable(impl->network_metrics);
    if (impl->cluster) {
      impl->consensus_metrics = std::make_shared<ConsensusMetrics>(
          *impl->cluster->node, impl->cluster->members, *impl->cluster->transport);
      impl->exposer->RegisterCollectable(impl->consensus_metrics);
    }
    creators.push_back(impl->grpc_metrics->InterceptorFactory());
  }
  if (!options.count_metadata.empty()) {
    creators.push_back(impl->metadata_tally->InterceptorFactory());
  }
  if (!creators.empty()) builder.experimental().SetInterceptorCreators(std::move(creators));
  std::shared_ptr<grpc::ServerCredentials> credentials = grpc::InsecureServerCredentials();
  if (!options.tls_cert.empty()) {
    grpc::SslServerCredentialsOptions ssl(
        options.tls_client_ca.empty() ? GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE
                                      : GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY);
    ssl.pem_key_cert_pairs.push_back({options.tls_key, options.tls_cert});
    ssl.pem_root_certs = options.tls_client_ca;
    credentials = grpc::SslServerCredentials(ssl);
  }
  if (options.http2_front && !options.tls_cert.empty()) {
    return absl::InvalidArgumentError(
        "--http2-front: not with --tls-cert (the filter reads the frames, which TLS hides)");
  }
  if (!options.http2_front) builder.AddListeningPort(options.listen, credentials, &impl->port);
  builder.RegisterService(impl->approval_service.get());
  builder.RegisterService(impl->transaction_service.get());
  builder.RegisterService(impl->webhook_service.get());
  builder.RegisterService(impl->crypto_service.get());
  builder.RegisterService(impl->storage_service.get());
  builder.RegisterService(impl->traceability_service.get());
  builder.RegisterService(impl->contract_service.get());
  builder.RegisterService(impl->network_service.get());
  if (impl->cluster) {
    builder.RegisterService(impl->cluster->service.get());
    builder.RegisterService(impl->cluster->admin.get());
  }
  builder.SetMaxReceiveMessageSize(kMaxMessageBytes);
  // gRPC would inflate a compressed request in full before checking its size;
  // the services decode requests themselves, within the limit (decoding/).
  builder.AddChannelArgument(GRPC_ARG_ENABLE_PER_MESSAGE_DECOMPRESSION, 0);
  builder.AddChannelArgument(GRPC_ARG_MAX_CONCURRENT_STREAMS, options.max_concurrent_streams);
  builder.AddChannelArgument(GRPC_ARG_ENABLE_CHANNELZ, 1);  // the connection guard reads it
  // Without this, gRPC sets SO_REUSEPORT and a second server on a busy port
  // would silently share it instead of failing.
  builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
  impl->server = builder.BuildAndStart();
  if (impl->server == nullptr || (!options.http2_front && impl->port == 0)) {
    return absl::UnavailableError(absl::StrCat("cannot listen on ", options.listen));
  }
  if (options.http2_front) {
    Http2Front::Options front;
    front.listen = options.listen;
    front.limits.max_concurrent_streams = options.max_concurrent_streams;
    front.limits.max_refused_streams = options.max_concurrent_streams;
    front.policy.max_concurrent_streams = options.max_concurrent_streams;
    front.policy.max_resets = options.max_stream_resets;
    front.max_open_streams = options.max_open_streams;
    auto started = Http2Front::Start(front, impl->server.get(), *options.monotonic_clock);
    if (!started.ok()) return started.status();
    impl->front = *std::move(started);
    impl->port = impl->front->port();
  }
  if (impl->cluster) {
    if (auto started = impl->cluster->node->Start(); !started.ok()) return started;
  } else {
    impl->peer_network->SetSelfAddress(absl::StrCat(impl->host, ":", impl->port));
  }
  if (!options.rest.listen.empty()) {
    auto rest = RestGateway::Start(options.rest, impl->transaction_store, *impl->committer,
                                   impl->approval_store, impl->responder, impl->streaming);
    if (!rest.ok()) {
      return absl::Status(rest.status().code(),
                          absl::StrCat("--rest-listen: ", rest.status().message()));
    }
    impl->rest = *std::move(rest);
    if (impl->exposer) {
      impl->rest_metrics = std::make_shared<RestMetrics>(impl->rest->server());
      impl->exposer->RegisterCollectable(impl->rest_metrics);
    }
  }
  if (!impl->front) {
    ConnectionGuard::Options guard;
    guard.port = impl->port;
    guard.limits.max_concurrent_streams = options.max_concurrent_streams;
    guard.limits.max_resets = options.max_stream_resets;
    impl->guard = std::make_unique<ConnectionGuard>(guard);
  }
  if (impl->exposer) {
    impl->limit_metrics = std::make_shared<LimitMetrics>(
        impl->call_gate, impl->front ? impl->front->counters() : impl->guard->counters());
    impl->exposer->RegisterCollectable(impl->limit_metrics);
  }
  Impl* raw = impl.get();
  impl->sweeper = std::thread([raw] {
    std::unique_lock lock(raw->mutex);
    while (!raw->stopping) {
      raw->stop_changed.wait_for(lock, std::chrono::nanoseconds(raw->options.sweep_interval_nanos));
      if (raw->stopping) break;
      lock.unlock();
      raw->approval_store.Sweep();
      raw->kv_store->Sweep();
      ReturnFreedMemory(raw->memory, raw->options.monotonic_clock->NowNanos());
      lock.lock();
    }
  });
  return std::unique_ptr<ReferenceServer>(new ReferenceServer(std::move(impl)));
}

ReferenceServer::ReferenceServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

ReferenceServer::~ReferenceServer() { Shutdown(); }

std::string ReferenceServer::address() const { return absl::StrCat(impl_->host, ":", impl_->port); }
int ReferenceServer::port() const { return impl_->port; }
int ReferenceServer::metrics_port() const {
  if (!impl_->exposer) return 0;
  const auto ports = impl_->exposer->GetListeningPorts();
  return ports.empty() ? 0 : ports.front();
}

int ReferenceServer::rest_port() const { return impl_->rest ? impl_->rest->port() : 0; }

void ReferenceServer::Shutdown(int64_t grace_nanos) {
  {
    std::lock_guard lock(impl_->mutex);
    if (impl_->stopping) return;
    impl_->stopping = true;
  }
  impl_->stop_changed.notify_all();
  if (impl_->rest) impl_->rest->Stop();  // no new REST calls; answers still to come go nowhere
  // Calls waiting for consensus end (UNAVAILABLE) before the server drains them.
  if (impl_->cluster) impl_->cluster->node->Stop();
  if (impl_->front) impl_->front->StopAccepting();
  impl_->server->Shutdown(std::chrono::system_clock::now() + std::chrono::nanoseconds(grace_nanos));
  if (impl_->cluster) impl_->cluster->transport->Close();
  if (impl_->sweeper.joinable()) impl_->sweeper.join();
}

void ReferenceServer::Wait() { impl_->server->Wait(); }

const HandledCounters& ReferenceServer::handled() const { return impl_->handled; }
const ApprovalStore& ReferenceServer::approvals() const { return impl_->approval_store; }
const TransactionStore& ReferenceServer::transactions() const { return impl_->transaction_store; }
const KeyStore& ReferenceServer::keys() const { return impl_->key_store; }
const KvStore& ReferenceServer::storage() const { return *impl_->kv_store; }
const LinkLog& ReferenceServer::links() const { return impl_->link_log; }
const ContractEngine& ReferenceServer::contracts() const { return *impl_->contract_engine; }
const StreamCounters& ReferenceServer::streams() const { return impl_->stream_counters; }
bool ReferenceServer::kafka_started() const { return impl_->delivery->connected(); }
absl::StatusOr<std::string> ReferenceServer::KafkaBrokers() {
  if (auto connected = impl_->delivery->Connect(); !connected.ok()) return connected;
  return impl_->delivery->bootstrap_servers();
}
const DeliveryCounters& ReferenceServer::deliveries() const { return impl_->delivery->counters(); }
const CallGate& ReferenceServer::call_gate() const { return impl_->call_gate; }
const consensus::ConsensusNode* ReferenceServer::consensus() const {
  return impl_->cluster ? impl_->cluster->node.get() : nullptr;
}
const GuardCounters& ReferenceServer::connection_guard() const {
  return impl_->front ? impl_->front->counters() : impl_->guard->counters();
}
int64_t ReferenceServer::metadata_count(const std::string& key, const std::string& value) const {
  return impl_->metadata_tally->Count(key, value);
}

}  // namespace aurigraph::refserver
