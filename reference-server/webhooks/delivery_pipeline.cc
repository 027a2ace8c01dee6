#include "reference-server/webhooks/delivery_pipeline.h"

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <openssl/rand.h>

#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "reference-server/faults/delay_queue.h"
#include "reference-server/webhooks/delivery_decisions.h"
#include "reference-server/webhooks/http_sender.h"

namespace aurigraph::refserver {

namespace wv1 = webhook::v1;

namespace {

// Records waiting for an HTTP worker; beyond it the consumer stops reading.
constexpr size_t kMaxQueuedWork = 10'000;

std::string NewDeliveryId() {
  unsigned char raw[8];
  RAND_bytes(raw, sizeof raw);
  std::string id = "dl-";
  for (unsigned char c : raw) absl::StrAppend(&id, absl::Hex(c, absl::kZeroPad2));
  return id;
}

absl::StatusOr<rd_kafka_t*> NewClient(
    rd_kafka_type_t type, const std::vector<std::pair<std::string, std::string>>& settings) {
  char error[512];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  for (const auto& [key, value] : settings) {
    if (rd_kafka_conf_set(conf, key.c_str(), value.c_str(), error, sizeof error) !=
        RD_KAFKA_CONF_OK) {
      rd_kafka_conf_destroy(conf);
      return absl::InvalidArgumentError(absl::StrCat("kafka ", key, ": ", error));
    }
  }
  rd_kafka_t* client = rd_kafka_new(type, conf, error, sizeof error);
  if (client == nullptr) {
    rd_kafka_conf_destroy(conf);
    return absl::UnavailableError(absl::StrCat("kafka: ", error));
  }
  return client;
}

}  // namespace

struct DeliveryPipeline::Impl {
  DeliveryOptions options;
  WebhookRegistry& registry;
  const Clock& wall;
  const Clock& monotonic;
  const DeliveryDecisions decisions;
  rd_kafka_t* producer = nullptr;
  rd_kafka_t* consumer = nullptr;
  std::string bootstrap;
  DeliveryCounters counters;
  std::mutex observer_mu;  // workers may already run when the observer is set
  Observer observer;
  std::atomic<bool> stopping{false};
  std::mutex mu;
  std::condition_variable work_ready;
  std::condition_variable space_ready;
  std::deque<wv1::WebhookDeliveryRecord> work;
  std::vector<std::thread> workers;
  std::thread consumer_thread;
  std::unique_ptr<DelayQueue> retries;
  std::mutex connect_mu;
  std::atomic<bool> connected{false};

  Impl(DeliveryOptions o, WebhookRegistry& r, const Clock& w, const Clock& m)
      : options(std::move(o)), registry(r), wall(w), monotonic(m), decisions(options.retry, wall) {}

  // Sets up Kafka, the consumer and the HTTP workers once, and queues the
  // registry's unfinished deliveries; UNAVAILABLE when Kafka cannot be set up.
  absl::Status Connect();

  // Destroys the Kafka clients (flushing what the producer holds, up to 2 s).
  void DestroyClients() {
    if (consumer != nullptr) {
      rd_kafka_consumer_close(consumer);
      rd_kafka_destroy(consumer);
      consumer = nullptr;
    }
    if (producer != nullptr) {
      rd_kafka_flush(producer, 2000);
      rd_kafka_destroy(producer);
      producer = nullptr;
    }
  }

  void Produce(const std::string& topic, const wv1::WebhookDeliveryRecord& record) {
    const std::string value = record.SerializeAsString();
    for (;;) {
      const rd_kafka_resp_err_t err =
          rd_kafka_producev(producer, RD_KAFKA_V_TOPIC(topic.c_str()),
                            RD_KAFKA_V_KEY(record.webhook_id().data(), record.webhook_id().size()),
                            RD_KAFKA_V_VALUE(const_cast<char*>(value.data()), value.size()),
                            RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);
      if (err == RD_KAFKA_RESP_ERR_NO_ERROR) {
        if (topic == options.topic) counters.queued.fetch_add(1, std::memory_order_relaxed);
        return;
      }
      if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL || stopping) {
        counters.produce_errors.fetch_add(1, std::memory_order_relaxed);
        return;
      }
      rd_kafka_poll(producer, 10);  // the local queue is full: let it drain
    }
  }

  void Store(const wv1::WebhookDeliveryRecord& record) {
    registry.PutDelivery(record).IgnoreError();  // a store error leaves the last stored state
    Observer notify;
    {
      std::lock_guard lock(observer_mu);
      notify = observer;
    }
    if (notify) notify(record);
  }

  void ScheduleRetry(const wv1::WebhookDeliveryRecord& record, int64_t backoff_nanos) {
    retries->Schedule(monotonic.NowNanos() + backoff_nanos, [this, record] {
      if (!stopping) Produce(options.topic, record);
    });
  }

  // Queues a stored record: at once, or at its retry time.
  void Requeue(const wv1::WebhookDeliveryRecord& record) {
    if (const int64_t wait = decisions.RequeueDelay(record); wait > 0) {
      ScheduleRetry(record, wait);
    } else {
      Produce(options.topic, record);
    }
  }

  void ConsumeLoop() {
    while (!stopping) {
      rd_kafka_poll(producer, 0);  // delivery reports
      rd_kafka_message_t* message = rd_kafka_consumer_poll(consumer, 100);
      if (message == nullptr) continue;
      if (message->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
        wv1::WebhookDeliveryRecord record;
        if (record.ParseFromArray(message->payload, static_cast<int>(message->len))) {
          std::unique_lock lock(mu);
          space_ready.wait(lock, [&] { return work.size() < kMaxQueuedWork || stopping; });
          work.push_back(std::move(record));
          work_ready.notify_one();
        }
      }
      rd_kafka_message_destroy(message);
    }
  }

  void WorkLoop() {
    HttpSender http(wall, monotonic);
    for (;;) {
      wv1::WebhookDeliveryRecord record;
      {
        std::unique_lock lock(mu);
        work_ready.wait(lock, [&] { return !work.empty() || stopping; });
        if (stopping) break;
        record = std::move(work.front());
        work.pop_front();
        space_ready.notify_one();
      }
      Attempt(http, std::move(record));
    }
  }

  void Attempt(HttpSender& http, wv1::WebhookDeliveryRecord queued) {
    auto current = registry.GetDelivery(queued.delivery_id());
    if (!DeliveryDecisions::IsDue(queued, current)) {
      counters.skipped.fetch_add(1, std::memory_order_relaxed);
      return;
    }
    wv1::WebhookDeliveryRecord record = *std::move(current);
    auto webhook = registry.Get(record.webhook_id());
    auto secret = registry.SecretOf(record.webhook_id());
    if (decisions.FailIfUnsendable(record, webhook, secret.ok())) {
      Store(record);
      return;
    }
    const int number = DeliveryDecisions::NextAttempt(record);
    const AttemptOutcome outcome = http.Send(*webhook, *secret, record, number);
    counters.attempts.fetch_add(1, std::memory_order_relaxed);
    const DeliveryDecisions::Decision decision =
        decisions.RecordAttempt(record, webhook->max_attempts(), outcome);
    switch (decision.next) {
      case DeliveryDecisions::Next::kDone:
        counters.succeeded.fetch_add(1, std::memory_order_relaxed);
        Store(record);
        return;
      case DeliveryDecisions::Next::kRetry:
        counters.failed_attempts.fetch_add(1, std::memory_order_relaxed);
        Store(record);
        ScheduleRetry(record, decision.retry_in_nanos);
        return;
      case DeliveryDecisions::Next::kDeadLetter:
        counters.failed_attempts.fetch_add(1, std::memory_order_relaxed);
        Produce(options.dead_letter_topic, record);
        counters.dead_lettered.fetch_add(1, std::memory_order_relaxed);
        Store(record);
        return;
    }
  }

  wv1::WebhookDeliveryRecord NewRecord(const std::string& webhook_id, wv1::WebhookEvent event,
                                       const std::string& data_json, int64_t event_at) {
    wv1::WebhookDeliveryRecord record;
    record.set_delivery_id(NewDeliveryId());
    record.set_webhook_id(webhook_id);
    record.set_event(event);
    record.set_status(wv1::DELIVERY_STATUS_PENDING);
    record.set_event_at_unix_nanos(event_at);
    // The exact body POSTed: the receiver measures from event_at_unix_nanos.
    record.set_payload(
        absl::StrCat(R"({"delivery_id":")", record.delivery_id(), R"(","webhook_id":")", webhook_id,
                     R"(","event":")", wv1::WebhookEvent_Name(event), R"(","event_at_unix_nanos":)",
                     event_at, R"(,"data":)", data_json.empty() ? "{}" : data_json, "}"));
    return record;
  }
};

absl::Status DeliveryPipeline::Impl::Connect() {
  if (connected.load(std::memory_order_acquire)) return absl::OkStatus();
  std::lock_guard lock(connect_mu);
  if (connected.load(std::memory_order_relaxed)) return absl::OkStatus();
  DestroyClients();  // what a failed attempt made
  const bool embedded = options.kafka == "embedded";
  // Warnings and errors only: the mock cluster announces itself at notice level.
  std::vector<std::pair<std::string, std::string>> producer_settings = {
      {"linger.ms", "1"}, {"enable.idempotence", "true"}, {"log_level", "4"}};
  if (embedded) {
    producer_settings.emplace_back("test.mock.num.brokers", "1");
  } else {
    producer_settings.emplace_back("bootstrap.servers", options.kafka);
  }
  auto new_producer = NewClient(RD_KAFKA_PRODUCER, producer_settings);
  if (!new_producer.ok()) return new_producer.status();
  producer = *new_producer;
  if (embedded) {
    rd_kafka_mock_cluster_t* cluster = rd_kafka_handle_mock_cluster(producer);
    if (cluster == nullptr) return absl::UnavailableError("kafka: the mock cluster did not start");
    bootstrap = rd_kafka_mock_cluster_bootstraps(cluster);
    for (const std::string* topic : {&options.topic, &options.dead_letter_topic}) {
      rd_kafka_mock_topic_create(cluster, topic->c_str(), 1, 1);
    }
  } else {
    bootstrap = options.kafka;
  }
  // An empty fetch waits at most 5 ms at the broker: that bounds the queueing
  // part of delivery latency, for about 3% of a core while idle (2 ms: 6%).
  auto new_consumer = NewClient(RD_KAFKA_CONSUMER, {{"bootstrap.servers", bootstrap},
                                                    {"group.id", "webhook-delivery"},
                                                    {"auto.offset.reset", "earliest"},
                                                    {"fetch.wait.max.ms", "5"},
                                                    {"log_level", "4"}});
  if (!new_consumer.ok()) return new_consumer.status();
  consumer = *new_consumer;
  rd_kafka_poll_set_consumer(consumer);
  // Every partition, assigned directly: one process consumes the topic, and a
  // group join would hold the first deliveries for the broker's rebalance delay.
  const rd_kafka_metadata_t* metadata = nullptr;
  rd_kafka_topic_t* topic = rd_kafka_topic_new(consumer, options.topic.c_str(), nullptr);
  rd_kafka_resp_err_t err = rd_kafka_metadata(consumer, 0, topic, &metadata, 10'000);
  rd_kafka_topic_destroy(topic);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR || metadata->topic_cnt != 1 ||
      metadata->topics[0].partition_cnt == 0) {
    if (metadata != nullptr) rd_kafka_metadata_destroy(metadata);
    return absl::UnavailableError(absl::StrCat("kafka ", bootstrap, ": no partitions for topic ",
                                               options.topic, " (", rd_kafka_err2str(err), ")"));
  }
  // The embedded cluster is new and empty: read it from the start, without
  // first asking a group coordinator for offsets it cannot have.
  const int64_t start_offset = embedded ? RD_KAFKA_OFFSET_BEGINNING : RD_KAFKA_OFFSET_STORED;
  rd_kafka_topic_partition_list_t* partitions =
      rd_kafka_topic_partition_list_new(metadata->topics[0].partition_cnt);
  for (int i = 0; i < metadata->topics[0].partition_cnt; ++i) {
    rd_kafka_topic_partition_list_add(partitions, options.topic.c_str(),
                                      metadata->topics[0].partitions[i].id)
        ->offset = start_offset;
  }
  rd_kafka_metadata_destroy(metadata);
  err = rd_kafka_assign(consumer, partitions);
  rd_kafka_topic_partition_list_destroy(partitions);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    return absl::UnavailableError(absl::StrCat("kafka assign: ", rd_kafka_err2str(err)));
  }
  // The producer learns each topic's leader now: on the first produce it would
  // hold the first deliveries for its metadata refresh, about a second.
  for (const std::string* name : {&options.topic, &options.dead_letter_topic}) {
    const rd_kafka_metadata_t* known = nullptr;
    rd_kafka_topic_t* handle = rd_kafka_topic_new(producer, name->c_str(), nullptr);
    if (rd_kafka_metadata(producer, 0, handle, &known, 10'000) == RD_KAFKA_RESP_ERR_NO_ERROR)
      rd_kafka_metadata_destroy(known);
    rd_kafka_topic_destroy(handle);
  }
  retries = std::make_unique<DelayQueue>(monotonic);
  consumer_thread = std::thread([this] { ConsumeLoop(); });
  for (int i = 0; i < options.http_workers; ++i) {
    workers.emplace_back([this] { WorkLoop(); });
  }
  for (const auto& record : registry.Unfinished()) Requeue(record);
  connected.store(true, std::memory_order_release);
  if (options.on_connected) options.on_connected(bootstrap);
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<DeliveryPipeline>> DeliveryPipeline::Start(DeliveryOptions options,
                                                                          WebhookRegistry& registry,
                                                                          const Clock& wall,
                                                                          const Clock& monotonic) {
  HttpSender::InitOnce();
  auto impl = std::make_unique<Impl>(std::move(options), registry, wall, monotonic);
  // Named brokers are checked at once; the embedded cluster costs about 5% of
  // a core while idle (its broker threads and an empty fetch every 5 ms), so it
  // starts with the first webhook, or now if the registry already holds one
  // or a delivery to finish.
  if (impl->options.kafka != "embedded" || registry.webhook_count() > 0 ||
      !registry.Unfinished().empty()) {
    if (auto connected = impl->Connect(); !connected.ok()) return connected;
  }
  return std::unique_ptr<DeliveryPipeline>(new DeliveryPipeline(std::move(impl)));
}

DeliveryPipeline::DeliveryPipeline(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

DeliveryPipeline::~DeliveryPipeline() {
  {
    std::lock_guard lock(impl_->mu);
    impl_->stopping = true;
  }
  impl_->work_ready.notify_all();
  impl_->space_ready.notify_all();
  if (impl_->consumer_thread.joinable()) impl_->consumer_thread.join();
  for (std::thread& worker : impl_->workers) worker.join();
  impl_->retries.reset();  // runs the held retries, which produce nothing once stopping
  impl_->DestroyClients();
}

absl::Status DeliveryPipeline::Connect() { return impl_->Connect(); }
bool DeliveryPipeline::connected() const {
  return impl_->connected.load(std::memory_order_acquire);
}
const std::string& DeliveryPipeline::bootstrap_servers() const { return impl_->bootstrap; }
const DeliveryCounters& DeliveryPipeline::counters() const { return impl_->counters; }
void DeliveryPipeline::SetObserver(Observer observer) {
  std::lock_guard lock(impl_->observer_mu);
  impl_->observer = std::move(observer);
}

void DeliveryPipeline::Publish(wv1::WebhookEvent event, absl::FunctionRef<std::string()> data_json,
                               int64_t event_at_unix_nanos) {
  // Without Kafka there is no webhook (Connect comes before the first), so
  // events published by the thousand, a batch's, skip the registry's lock.
  if (!connected()) return;
  const std::vector<wv1::Webhook> subscribers = impl_->registry.Subscribers(event);
  if (subscribers.empty()) return;
  const std::string data = data_json();
  for (const wv1::Webhook& webhook : subscribers) {
    const auto record = impl_->NewRecord(webhook.webhook_id(), event, data, event_at_unix_nanos);
    impl_->Store(record);
    impl_->Produce(impl_->options.topic, record);
  }
}

absl::StatusOr<wv1::WebhookDeliveryRecord> DeliveryPipeline::Trigger(const std::string& webhook_id,
                                                                     wv1::WebhookEvent event,
                                                                     const std::string& data_json) {
  auto webhook = impl_->registry.Get(webhook_id);
  if (!webhook.ok()) return webhook.status();
  if (event == wv1::WEBHOOK_EVENT_UNSPECIFIED || !wv1::WebhookEvent_IsValid(event)) {
    return absl::InvalidArgumentError("event: a webhook event is required");
  }
  const auto record = impl_->NewRecord(webhook_id, event, data_json, impl_->wall.NowNanos());
  impl_->Store(record);
  impl_->Produce(impl_->options.topic, record);
  return record;
}

absl::StatusOr<int> DeliveryPipeline::RetryFailed(const std::string& webhook_id) {
  auto webhook = impl_->registry.Get(webhook_id);
  if (!webhook.ok()) return webhook.status();
  int requeued = 0;
  for (wv1::WebhookDeliveryRecord record : impl_->registry.Failed(webhook_id)) {
    DeliveryDecisions::Reopen(record);
    impl_->Store(record);
    impl_->Produce(impl_->options.topic, record);
    ++requeued;
  }
  return requeued;
}

}  // namespace aurigraph::refserver
