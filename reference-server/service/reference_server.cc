#include "reference-server/service/reference_server.h"

#include <google/protobuf/util/json_util.h>
#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/grpcpp.h>
#include <grpcpp/health_check_service_interface.h>
#include <prometheus/exposer.h>
#include <prometheus/registry.h>

#include <condition_variable>
#include <fstream>
#include <mutex>
#include <thread>

#include "absl/strings/str_cat.h"
#include "aurigraph/approval/v1/approval.grpc.pb.h"
#include "aurigraph/transaction/v1/transaction.grpc.pb.h"
#include "aurigraph/webhook/v1/webhook.grpc.pb.h"
#include "common/metrics/process_metrics.h"
#include "common/process/process_stats.h"
#include "common/version/version.h"
#include "reference-server/faults/delay_queue.h"
#include "reference-server/memory/memory_return.h"
#include "reference-server/metrics/domain_metrics.h"
#include "reference-server/metrics/grpc_server_metrics.h"
#include "reference-server/metrics/limit_metrics.h"
#include "reference-server/metrics/metadata_tally.h"
#include "reference-server/service/gated_service.h"
#include "reference-server/service/responder.h"
#include "reference-server/streams/event_stream.h"
#include "reference-server/streams/reply_stream.h"

namespace aurigraph::refserver {
namespace {

namespace av1 = approval::v1;
namespace tv1 = transaction::v1;
namespace wv1 = webhook::v1;
namespace cv1 = common::v1;

// This process's resident memory now and at its peak.
void ReadMemory(cv1::HealthResponse* response) {
  response->set_resident_memory_bytes(OwnResidentBytes());
  response->set_peak_resident_memory_bytes(OwnPeakResidentBytes());
}

// BatchSubmitResponses lists at most this many vote errors.
constexpr int kMaxBatchErrors = 100;

// What every streaming RPC shares.
struct Streaming {
  const ServerOptions& options;
  const FaultInjector& faults;
  DelayQueue& delays;
  StreamCounters& counters;
  EventHub<av1::ApprovalEvent>& approval_events;
  EventHub<tv1::CommittedTransaction>& transaction_events;
  const Clock& wall;
  DeliveryPipeline& webhooks;
};

std::string ToJson(const google::protobuf::Message& message) {
  std::string json;
  google::protobuf::util::JsonPrintOptions options;
  options.preserve_proto_field_names = true;
  (void)google::protobuf::util::MessageToJsonString(message, &json, options);
  return json;
}

template <typename T>
absl::Status Assign(absl::StatusOr<T> outcome, T* response) {
  if (!outcome.ok()) return outcome.status();
  *response = *std::move(outcome);
  return absl::OkStatus();
}

class ApprovalServiceImpl final : public GatedService<av1::ApprovalService::CallbackService> {
 public:
  ApprovalServiceImpl(ApprovalStore& store, const Responder& responder, Streaming streaming,
                      int64_t started)
      : GatedService(av1::ApprovalService::service_full_name(), responder),
        store_(store),
        responder_(responder),
        streaming_(streaming),
        wall_(streaming.wall),
        started_(started) {
    using Self = ApprovalServiceImpl;
    Unary("SubmitApprovalRequest", &Self::SubmitApprovalRequest);
    Unary("GetApprovalStatus", &Self::GetApprovalStatus);
    Unary("SubmitValidatorResponse", &Self::SubmitValidatorResponse);
    Unary("CheckHealth", &Self::CheckHealth);
    ServerStreaming("WatchApprovalUpdates", &Self::WatchApprovalUpdates);
    ServerStreaming("StreamPendingApprovals", &Self::StreamPendingApprovals);
    ClientStreaming("BatchSubmitResponses", &Self::OpenBatchSubmitResponses);
    Bidi("BidirectionalApprovalStream", &Self::OpenBidirectionalApprovalStream);
  }

  grpc::ServerUnaryReactor* SubmitApprovalRequest(grpc::CallbackServerContext* context,
                                                  const av1::ApprovalRequest* request,
                                                  av1::ApprovalState* response) override {
    return responder_.Finish(context, Assign(store_.Submit(*request), response));
  }
  grpc::ServerUnaryReactor* GetApprovalStatus(grpc::CallbackServerContext* context,
                                              const av1::GetApprovalStatusRequest* request,
                                              av1::ApprovalState* response) override {
    return responder_.Finish(
        context, Assign(store_.Get(request->approval_id(), request->include_votes()), response));
  }
  grpc::ServerUnaryReactor* SubmitValidatorResponse(grpc::CallbackServerContext* context,
                                                    const av1::ValidatorResponse* request,
                                                    av1::ApprovalState* response) override {
    return responder_.Finish(context, Assign(store_.Vote(*request), response));
  }
  grpc::ServerUnaryReactor* CheckHealth(grpc::CallbackServerContext* context,
                                        const cv1::HealthRequest* request,
                                        cv1::HealthResponse* response) override {
    const int64_t now = wall_.NowNanos();
    response->set_status(cv1::SERVING_STATUS_SERVING);
    response->set_uptime_ms((now - started_) / 1'000'000);
    response->set_server_time_unix_nanos(now);
    response->set_version(kVersion);
    ReadMemory(response);
    return responder_.Finish(context, absl::OkStatus());
  }

  grpc::ServerWriteReactor<av1::ApprovalEvent>* WatchApprovalUpdates(
      grpc::CallbackServerContext* context, const av1::WatchApprovalRequest* request) override {
    const std::string id = request->approval_id();
    const Clock& wall = wall_;
    return EventStream<av1::ApprovalEvent, av1::ApprovalEvent>::Open(
        streaming_.approval_events, streaming_.counters, streaming_.options.stream_queue_bound,
        [id](const av1::ApprovalEvent& e) { return id.empty() || e.state().approval_id() == id; },
        [&wall](const av1::ApprovalEvent& e, av1::ApprovalEvent* out) {
          *out = e;
          out->set_sent_at_unix_nanos(wall.NowNanos());
        });
  }

  grpc::ServerWriteReactor<av1::ApprovalState>* StreamPendingApprovals(
      grpc::CallbackServerContext* context, const av1::StreamPendingRequest* request) override {
    std::deque<std::shared_ptr<const av1::ApprovalEvent>> snapshot;
    for (av1::ApprovalState& state :
         store_.Pending(request->validator_id(), streaming_.options.pending_snapshot_limit)) {
      auto event = std::make_shared<av1::ApprovalEvent>();
      event->set_type(av1::APPROVAL_EVENT_TYPE_CREATED);
      *event->mutable_state() = std::move(state);
      snapshot.push_back(std::move(event));
    }
    return EventStream<av1::ApprovalEvent, av1::ApprovalState>::Open(
        streaming_.approval_events, streaming_.counters, streaming_.options.stream_queue_bound,
        [](const av1::ApprovalEvent& e) { return e.type() == av1::APPROVAL_EVENT_TYPE_CREATED; },
        [](const av1::ApprovalEvent& e, av1::ApprovalState* out) { *out = e.state(); },
        std::move(snapshot), /*follow=*/request->follow());
  }

  grpc::ServerReadReactor<Decoded<av1::ValidatorResponse>>* OpenBatchSubmitResponses(
      grpc::CallbackServerContext* context, av1::BatchResponseSummary* summary) {
    // Applies each vote as it arrives; the summary answers the client's half-close.
    class Reader final : public grpc::ServerReadReactor<Decoded<av1::ValidatorResponse>> {
     public:
      Reader(ApprovalStore& store, StreamCounters& counters, av1::BatchResponseSummary* summary)
          : store_(store), counters_(counters), summary_(summary) {
        counters_.client_streams_open.fetch_add(1, std::memory_order_relaxed);
        StartRead(&vote_);
      }
      void OnReadDone(bool ok) override {
        if (!ok) {
          Finish(grpc::Status::OK);
          return;
        }
        if (!vote_.error.ok()) {
          Finish(vote_.error);
          return;
        }
        counters_.messages_received.fetch_add(1, std::memory_order_relaxed);
        summary_->set_received(summary_->received() + 1);
        const auto outcome = store_.Vote(vote_.message);
        if (outcome.ok()) {
          summary_->set_accepted(summary_->accepted() + 1);
        } else {
          summary_->set_rejected(summary_->rejected() + 1);
          if (summary_->errors_size() < kMaxBatchErrors) {
            summary_->add_errors(std::string(outcome.status().message()));
          }
        }
        StartRead(&vote_);
      }
      void OnDone() override {
        counters_.client_streams_open.fetch_sub(1, std::memory_order_relaxed);
        delete this;
      }

     private:
      ApprovalStore& store_;
      StreamCounters& counters_;
      av1::BatchResponseSummary* summary_;
      Decoded<av1::ValidatorResponse> vote_;
    };
    return new Reader(store_, streaming_.counters, summary);
  }

  grpc::ServerBidiReactor<Decoded<av1::ValidatorResponse>, av1::ApprovalEvent>*
  OpenBidirectionalApprovalStream(grpc::CallbackServerContext* context) {
    ApprovalStore& store = store_;
    const Clock& wall = wall_;
    return ReplyStream<av1::ValidatorResponse, av1::ApprovalEvent>::Open(
        [&store, &wall](const av1::ValidatorResponse& vote, av1::ApprovalEvent* reply) {
          auto outcome = store.Vote(vote);
          reply->set_correlation_id(vote.correlation_id());
          if (outcome.ok()) {
            reply->set_type(outcome->status() == av1::APPROVAL_STATUS_PENDING
                                ? av1::APPROVAL_EVENT_TYPE_VOTE_RECORDED
                                : av1::APPROVAL_EVENT_TYPE_FINALIZED);
            *reply->mutable_state() = *std::move(outcome);
          } else {
            reply->mutable_state()->set_approval_id(vote.approval_id());
            reply->set_code(static_cast<int32_t>(outcome.status().code()));
            reply->set_error(std::string(outcome.status().message()));
          }
          reply->set_sent_at_unix_nanos(wall.NowNanos());
        },
        streaming_.faults, streaming_.delays, streaming_.counters, streaming_.options.reply_window);
  }

 private:
  ApprovalStore& store_;
  const Responder& responder_;
  Streaming streaming_;
  const Clock& wall_;
  int64_t started_;
};

// Tells StreamTransactions subscribers and subscribed webhooks that `tx` was accepted.
void PublishCommitted(const Streaming& streaming, const tv1::Transaction& tx) {
  streaming.webhooks.Publish(
      wv1::WEBHOOK_EVENT_TRANSACTION_COMMITTED, [&] { return ToJson(tx); },
      streaming.wall.NowNanos());
  EventHub<tv1::CommittedTransaction>& hub = streaming.transaction_events;
  if (!hub.has_subscribers()) return;
  auto event = std::make_shared<tv1::CommittedTransaction>();
  *event->mutable_transaction() = tx;
  event->set_sequence(hub.NextSequence());
  hub.Publish(event);
}

class TransactionServiceImpl final : public GatedService<tv1::TransactionService::CallbackService> {
 public:
  TransactionServiceImpl(TransactionStore& store, const Responder& responder, Streaming streaming)
      : GatedService(tv1::TransactionService::service_full_name(), responder),
        store_(store),
        responder_(responder),
        streaming_(streaming) {
    using Self = TransactionServiceImpl;
    Unary("SubmitTransaction", &Self::SubmitTransaction);
    Unary("BatchSubmitTransactions", &Self::BatchSubmitTransactions);
    Unary("GetTransaction", &Self::GetTransaction);
    ServerStreaming("StreamTransactions", &Self::StreamTransactions);
    Bidi("SubmitTransactionStream", &Self::OpenSubmitTransactionStream);
  }

  grpc::ServerUnaryReactor* SubmitTransaction(grpc::CallbackServerContext* context,
                                              const tv1::Transaction* request,
                                              tv1::TransactionResponse* response) override {
    const absl::Status status = Assign(store_.Submit(*request), response);
    if (status.ok()) PublishCommitted(streaming_, *request);
    return responder_.Finish(context, status);
  }
  grpc::ServerUnaryReactor* BatchSubmitTransactions(grpc::CallbackServerContext* context,
                                                    const tv1::BatchRequest* request,
                                                    tv1::BatchResponse* response) override {
    const absl::Status status = Assign(store_.SubmitBatch(*request), response);
    if (status.ok()) {
      for (int i = 0; i < response->results_size(); ++i) {
        if (response->results(i).status() == tv1::TRANSACTION_STATUS_ACCEPTED) {
          PublishCommitted(streaming_, request->transactions(i));
        }
      }
    }
    return responder_.Finish(context, status);
  }
  grpc::ServerWriteReactor<tv1::CommittedTransaction>* StreamTransactions(
      grpc::CallbackServerContext* context, const tv1::StreamRequest* request) override {
    const std::string account = request->account();
    const Clock& wall = streaming_.wall;
    return EventStream<tv1::CommittedTransaction, tv1::CommittedTransaction>::Open(
        streaming_.transaction_events, streaming_.counters, streaming_.options.stream_queue_bound,
        [account](const tv1::CommittedTransaction& e) {
          return account.empty() || e.transaction().sender() == account ||
                 e.transaction().receiver() == account;
        },
        [&wall](const tv1::CommittedTransaction& e, tv1::CommittedTransaction* out) {
          *out = e;
          out->set_sent_at_unix_nanos(wall.NowNanos());
        });
  }
  grpc::ServerBidiReactor<Decoded<tv1::Transaction>, tv1::TransactionResponse>*
  OpenSubmitTransactionStream(grpc::CallbackServerContext* context) {
    TransactionStore& store = store_;
    const Streaming& streaming = streaming_;
    return ReplyStream<tv1::Transaction, tv1::TransactionResponse>::Open(
        [&store, &streaming](const tv1::Transaction& tx, tv1::TransactionResponse* reply) {
          auto outcome = store.Submit(tx);
          if (outcome.ok()) {
            *reply = *std::move(outcome);
            PublishCommitted(streaming, tx);
            return;
          }
          reply->set_id(tx.id());
          reply->set_status(tv1::TRANSACTION_STATUS_REJECTED);
          reply->set_code(static_cast<int32_t>(outcome.status().code()));
          reply->set_error(std::string(outcome.status().message()));
        },
        streaming_.faults, streaming_.delays, streaming_.counters, streaming_.options.reply_window);
  }
  grpc::ServerUnaryReactor* GetTransaction(grpc::CallbackServerContext* context,
                                           const tv1::GetTransactionRequest* request,
                                           tv1::Transaction* response) override {
    return responder_.Finish(context, Assign(store_.Get(request->id()), response));
  }

 private:
  TransactionStore& store_;
  const Responder& responder_;
  Streaming streaming_;
};

// Registry changes and delivery records, for the two watch streams.
struct WebhookHubs {
  EventHub<wv1::WebhookRegistryEvent> registry;
  EventHub<wv1::WebhookDeliveryRecord> deliveries;
};

class WebhookServiceImpl final : public GatedService<wv1::WebhookService::CallbackService> {
 public:
  WebhookServiceImpl(WebhookRegistry& registry, DeliveryPipeline& pipeline, WebhookHubs& hubs,
                     const Responder& responder, Streaming streaming)
      : GatedService(wv1::WebhookService::service_full_name(), responder),
        registry_(registry),
        pipeline_(pipeline),
        hubs_(hubs),
        responder_(responder),
        streaming_(streaming) {
    using Self = WebhookServiceImpl;
    Unary("CreateWebhook", &Self::CreateWebhook);
    Unary("GetWebhook", &Self::GetWebhook);
    Unary("ListWebhooks", &Self::ListWebhooks);
    Unary("UpdateWebhook", &Self::UpdateWebhook);
    Unary("DeleteWebhook", &Self::DeleteWebhook);
    Unary("TriggerWebhook", &Self::TriggerWebhook);
    Unary("GetDeliveryHistory", &Self::GetDeliveryHistory);
    Unary("RetryFailedDeliveries", &Self::RetryFailedDeliveries);
    ServerStreaming("WatchWebhookRegistry", &Self::WatchWebhookRegistry);
    ServerStreaming("WatchDeliveries", &Self::WatchDeliveries);
  }

  grpc::ServerUnaryReactor* CreateWebhook(grpc::CallbackServerContext* context,
                                          const wv1::CreateWebhookRequest* request,
                                          wv1::Webhook* response) override {
    return responder_.Finish(context, Assign(registry_.Create(*request), response));
  }
  grpc::ServerUnaryReactor* GetWebhook(grpc::CallbackServerContext* context,
                                       const wv1::GetWebhookRequest* request,
                                       wv1::Webhook* response) override {
    return responder_.Finish(context, Assign(registry_.Get(request->webhook_id()), response));
  }
  grpc::ServerUnaryReactor* ListWebhooks(grpc::CallbackServerContext* context,
                                         const wv1::ListWebhooksRequest* request,
                                         wv1::ListWebhooksResponse* response) override {
    return responder_.Finish(context, Assign(registry_.List(*request), response));
  }
  grpc::ServerUnaryReactor* UpdateWebhook(grpc::CallbackServerContext* context,
                                          const wv1::UpdateWebhookRequest* request,
                                          wv1::Webhook* response) override {
    return responder_.Finish(context, Assign(registry_.Update(*request), response));
  }
  grpc::ServerUnaryReactor* DeleteWebhook(grpc::CallbackServerContext* context,
                                          const wv1::DeleteWebhookRequest* request,
                                          wv1::DeleteWebhookResponse* response) override {
    auto deleted = registry_.Delete(request->webhook_id());
    if (deleted.ok()) response->set_deleted(*deleted);
    return responder_.Finish(context, deleted.status());
  }
  grpc::ServerUnaryReactor* TriggerWebhook(grpc::CallbackServerContext* context,
                                           const wv1::TriggerWebhookRequest* request,
                                           wv1::WebhookDeliveryRecord* response) override {
    return responder_.Finish(
        context,
        Assign(pipeline_.Trigger(request->webhook_id(), request->event(), request->payload()),
               response));
  }
  grpc::ServerUnaryReactor* GetDeliveryHistory(grpc::CallbackServerContext* context,
                                               const wv1::DeliveryHistoryRequest* request,
                                               wv1::DeliveryHistoryResponse* response) override {
    return responder_.Finish(context, Assign(registry_.History(*request), response));
  }
  grpc::ServerUnaryReactor* RetryFailedDeliveries(grpc::CallbackServerContext* context,
                                                  const wv1::RetryFailedRequest* request,
                                                  wv1::RetryFailedResponse* response) override {
    auto requeued = pipeline_.RetryFailed(request->webhook_id());
    if (requeued.ok()) response->set_requeued(*requeued);
    return responder_.Finish(context, requeued.status());
  }
  grpc::ServerWriteReactor<wv1::WebhookRegistryEvent>* WatchWebhookRegistry(
      grpc::CallbackServerContext* context, const wv1::WatchRegistryRequest* request) override {
    const std::string owner = request->owner_id();
    const Clock& wall = streaming_.wall;
    return EventStream<wv1::WebhookRegistryEvent, wv1::WebhookRegistryEvent>::Open(
        hubs_.registry, streaming_.counters, streaming_.options.stream_queue_bound,
        [owner](const wv1::WebhookRegistryEvent& e) {
          return owner.empty() || e.webhook().owner_id() == owner;
        },
        [&wall](const wv1::WebhookRegistryEvent& e, wv1::WebhookRegistryEvent* out) {
          *out = e;
          out->set_sent_at_unix_nanos(wall.NowNanos());
        });
  }
  grpc::ServerWriteReactor<wv1::WebhookDeliveryRecord>* WatchDeliveries(
      grpc::CallbackServerContext* context, const wv1::WatchDeliveriesRequest* request) override {
    const std::string webhook_id = request->webhook_id();
    return EventStream<wv1::WebhookDeliveryRecord, wv1::WebhookDeliveryRecord>::Open(
        hubs_.deliveries, streaming_.counters, streaming_.options.stream_queue_bound,
        [webhook_id](const wv1::WebhookDeliveryRecord& e) {
          return webhook_id.empty() || e.webhook_id() == webhook_id;
        },
        [](const wv1::WebhookDeliveryRecord& e, wv1::WebhookDeliveryRecord* out) { *out = e; });
  }

 private:
  WebhookRegistry& registry_;
  DeliveryPipeline& pipeline_;
  WebhookHubs& hubs_;
  const Responder& responder_;
  Streaming streaming_;
};

wv1::WebhookEvent WebhookEventOf(ApprovalStore::Change change) {
  switch (change) {
    case ApprovalStore::Change::kCreated:
      return wv1::WEBHOOK_EVENT_APPROVAL_CREATED;
    case ApprovalStore::Change::kFinalized:
      return wv1::WEBHOOK_EVENT_APPROVAL_FINALIZED;
    default:  // a vote recorded, an approval expired
      return wv1::WEBHOOK_EVENT_APPROVAL_UPDATED;
  }
}

}  // namespace

int64_t HandledCounters::total() const {
  int64_t sum = 0;
  for (const auto& count : by_code) sum += count.load(std::memory_order_relaxed);
  return sum;
}

struct ReferenceServer::Impl {
  Impl(const ServerOptions& o, std::unique_ptr<WebhookRegistry> registry,
       std::unique_ptr<DeliveryPipeline> pipeline)
      : options(o),
        webhook_registry(std::move(registry)),
        delivery(std::move(pipeline)),
        faults(o.faults, *o.monotonic_clock),
        approval_store(*o.wall_clock, o.approvals),
        transaction_store(*o.wall_clock, o.transactions),
        delayed(*o.monotonic_clock),
        metadata_tally(std::make_shared<MetadataTally>(o.count_metadata)),
        call_gate(o.max_in_flight),
        responder(faults, handled, delayed, call_gate),
        approval_service(approval_store, responder, MakeStreaming(), o.wall_clock->NowNanos()),
        transaction_service(transaction_store, responder, MakeStreaming()),
        webhook_service(*webhook_registry, *delivery, webhook_hubs, responder, MakeStreaming()) {
    approval_store.SetObserver([this](ApprovalStore::Change change,
                                      const av1::ApprovalState& state) {
      delivery->Publish(
          WebhookEventOf(change), [&] { return ToJson(state); }, options.wall_clock->NowNanos());
      if (!approval_events.has_subscribers()) return;
      auto event = std::make_shared<av1::ApprovalEvent>();
      event->set_sequence(approval_events.NextSequence());
      event->set_type(EventTypeOf(change));
      *event->mutable_state() = state;
      approval_events.Publish(event);
    });
    webhook_registry->SetObserver([this](WebhookRegistry::Change change,
                                         const wv1::Webhook& webhook) {
      if (!webhook_hubs.registry.has_subscribers()) return;
      auto event = std::make_shared<wv1::WebhookRegistryEvent>();
      event->set_change(change == WebhookRegistry::Change::kCreated ? wv1::REGISTRY_CHANGE_CREATED
                        : change == WebhookRegistry::Change::kUpdated
                            ? wv1::REGISTRY_CHANGE_UPDATED
                            : wv1::REGISTRY_CHANGE_DELETED);
      *event->mutable_webhook() = webhook;
      webhook_hubs.registry.Publish(event);
    });
    delivery->SetObserver([this](const wv1::WebhookDeliveryRecord& record) {
      if (!webhook_hubs.deliveries.has_subscribers()) return;
      webhook_hubs.deliveries.Publish(std::make_shared<wv1::WebhookDeliveryRecord>(record));
    });
  }

  static av1::ApprovalEventType EventTypeOf(ApprovalStore::Change change) {
    switch (change) {
      case ApprovalStore::Change::kCreated:
        return av1::APPROVAL_EVENT_TYPE_CREATED;
      case ApprovalStore::Change::kVoteRecorded:
        return av1::APPROVAL_EVENT_TYPE_VOTE_RECORDED;
      case ApprovalStore::Change::kFinalized:
        return av1::APPROVAL_EVENT_TYPE_FINALIZED;
      case ApprovalStore::Change::kExpired:
        return av1::APPROVAL_EVENT_TYPE_EXPIRED;
    }
    return av1::APPROVAL_EVENT_TYPE_UNSPECIFIED;
  }
  Streaming MakeStreaming() {
    return Streaming{options,
                     faults,
                     delayed,
                     stream_counters,
                     approval_events,
                     transaction_events,
                     *options.wall_clock,
                     *delivery};
  }

  ServerOptions options;
  // Before everything that publishes deliveries, so it outlives them.
  std::unique_ptr<WebhookRegistry> webhook_registry;
  std::unique_ptr<DeliveryPipeline> delivery;
  WebhookHubs webhook_hubs;
  FaultInjector faults;
  StreamCounters stream_counters;
  EventHub<av1::ApprovalEvent> approval_events;
  EventHub<tv1::CommittedTransaction> transaction_events;
  ApprovalStore approval_store;
  TransactionStore transaction_store;
  HandledCounters handled;
  DelayQueue delayed;
  std::shared_ptr<MetadataTally> metadata_tally;
  CallGate call_gate;
  Responder responder;
  ApprovalServiceImpl approval_service;
  TransactionServiceImpl transaction_service;
  WebhookServiceImpl webhook_service;
  // Metrics (with metrics_listen): the exposer holds its collectables weakly.
  std::shared_ptr<prometheus::Registry> registry;
  std::shared_ptr<DomainMetrics> domain_metrics;
  std::shared_ptr<metrics::ProcessMetrics> process_metrics;
  std::shared_ptr<LimitMetrics> limit_metrics;
  std::unique_ptr<GrpcServerMetrics> grpc_metrics;
  std::unique_ptr<prometheus::Exposer> exposer;
  std::unique_ptr<grpc::Server> server;
  std::unique_ptr<ConnectionGuard> guard;  // after the server: stops watching before it goes
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
  auto impl = std::make_unique<Impl>(options, *std::move(registry), *std::move(pipeline));
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
  builder.AddListeningPort(options.listen, credentials, &impl->port);
  builder.RegisterService(&impl->approval_service);
  builder.RegisterService(&impl->transaction_service);
  builder.RegisterService(&impl->webhook_service);
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
  if (impl->server == nullptr || impl->port == 0) {
    return absl::UnavailableError(absl::StrCat("cannot listen on ", options.listen));
  }
  ConnectionGuard::Options guard;
  guard.port = impl->port;
  guard.limits.max_concurrent_streams = options.max_concurrent_streams;
  guard.limits.max_resets = options.max_stream_resets;
  impl->guard = std::make_unique<ConnectionGuard>(guard);
  if (impl->exposer) {
    impl->limit_metrics = std::make_shared<LimitMetrics>(impl->call_gate, impl->guard->counters());
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

void ReferenceServer::Shutdown(int64_t grace_nanos) {
  {
    std::lock_guard lock(impl_->mutex);
    if (impl_->stopping) return;
    impl_->stopping = true;
  }
  impl_->stop_changed.notify_all();
  impl_->server->Shutdown(std::chrono::system_clock::now() + std::chrono::nanoseconds(grace_nanos));
  if (impl_->sweeper.joinable()) impl_->sweeper.join();
}

void ReferenceServer::Wait() { impl_->server->Wait(); }

const HandledCounters& ReferenceServer::handled() const { return impl_->handled; }
const ApprovalStore& ReferenceServer::approvals() const { return impl_->approval_store; }
const TransactionStore& ReferenceServer::transactions() const { return impl_->transaction_store; }
const StreamCounters& ReferenceServer::streams() const { return impl_->stream_counters; }
const std::string& ReferenceServer::kafka_bootstrap() const {
  return impl_->delivery->bootstrap_servers();
}
const DeliveryCounters& ReferenceServer::deliveries() const { return impl_->delivery->counters(); }
const CallGate& ReferenceServer::call_gate() const { return impl_->call_gate; }
const GuardCounters& ReferenceServer::connection_guard() const { return impl_->guard->counters(); }
int64_t ReferenceServer::metadata_count(const std::string& key, const std::string& value) const {
  return impl_->metadata_tally->Count(key, value);
}

}  // namespace aurigraph::refserver
