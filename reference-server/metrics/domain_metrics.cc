#include "reference-server/metrics/domain_metrics.h"

#include "common/metrics/families.h"

namespace aurigraph::refserver {
namespace {

using metrics::AddSample;
using metrics::Family;
using metrics::Read;
using prometheus::MetricType;

}  // namespace

DomainMetrics::DomainMetrics(const ApprovalStore& approvals, const TransactionStore& transactions,
                             const StreamCounters& streams, const DelayQueue& delayed,
                             const WebhookRegistry& webhooks, const DeliveryCounters& deliveries)
    : approvals_(approvals),
      transactions_(transactions),
      streams_(streams),
      delayed_(delayed),
      webhooks_(webhooks),
      deliveries_(deliveries) {}

std::vector<prometheus::MetricFamily> DomainMetrics::Collect() const {
  using metrics::AddFamily;
  std::vector<prometheus::MetricFamily> out;
  const auto& a = approvals_.counters();
  AddFamily(out, "aurigraph_refserver_approvals_submitted_total", "Approval requests accepted.",
            MetricType::Counter, Read(a.submitted));
  out.push_back(Family("aurigraph_refserver_approvals_finalized_total",
                       "Approvals that reached a final status, by status.", MetricType::Counter));
  AddSample(out.back(), Read(a.approved), {{"status", "APPROVED"}});
  AddSample(out.back(), Read(a.rejected), {{"status", "REJECTED"}});
  AddSample(out.back(), Read(a.expired), {{"status", "EXPIRED"}});
  AddFamily(out, "aurigraph_refserver_approval_votes_total", "Validator votes recorded.",
            MetricType::Counter, Read(a.votes));
  AddFamily(out, "aurigraph_refserver_approvals_stored",
            "Approvals held (pending, and finalized within retention).", MetricType::Gauge,
            static_cast<double>(approvals_.size()));

  const auto& t = transactions_.counters();
  out.push_back(Family("aurigraph_refserver_transactions_total",
                       "Transactions submitted, by outcome.", MetricType::Counter));
  AddSample(out.back(), Read(t.accepted), {{"outcome", "accepted"}});
  AddSample(out.back(), Read(t.rejected), {{"outcome", "rejected"}});
  AddFamily(out, "aurigraph_refserver_transaction_batches_total", "Transaction batches submitted.",
            MetricType::Counter, Read(t.batches));
  AddFamily(out, "aurigraph_refserver_transactions_stored",
            "Transactions held for lookups and duplicate checks.", MetricType::Gauge,
            static_cast<double>(transactions_.size()));

  out.push_back(Family("aurigraph_refserver_active_streams", "Streams open now, by direction.",
                       MetricType::Gauge));
  AddSample(out.back(), Read(streams_.subscribers), {{"direction", "server"}});
  AddSample(out.back(), Read(streams_.client_streams_open), {{"direction", "client"}});
  AddFamily(out, "aurigraph_refserver_stream_events_written_total",
            "Events written to server-stream subscribers.", MetricType::Counter,
            Read(streams_.events_written));
  AddFamily(out, "aurigraph_refserver_stream_subscribers_cut_off_total",
            "Subscribers cut off because their queue was full.", MetricType::Counter,
            Read(streams_.overflowed));
  AddFamily(out, "aurigraph_refserver_stream_queue_peak_events",
            "The most events one subscriber has had queued.", MetricType::Gauge,
            Read(streams_.queue_peak));
  AddFamily(out, "aurigraph_refserver_delayed_responses",
            "Responses held now by injected latency or stalls.", MetricType::Gauge,
            static_cast<double>(delayed_.held()));

  AddFamily(out, "aurigraph_refserver_webhooks_registered", "Webhooks in the registry.",
            MetricType::Gauge, static_cast<double>(webhooks_.webhook_count()));
  AddFamily(out, "aurigraph_refserver_webhook_deliveries_queued_total",
            "Delivery records produced to the Kafka topic, retries included.", MetricType::Counter,
            Read(deliveries_.queued));
  out.push_back(Family("aurigraph_refserver_webhook_attempts_total",
                       "Webhook HTTP requests, by outcome.", MetricType::Counter));
  AddSample(out.back(), Read(deliveries_.succeeded), {{"outcome", "success"}});
  AddSample(out.back(), Read(deliveries_.failed_attempts), {{"outcome", "failure"}});
  AddFamily(out, "aurigraph_refserver_webhook_dead_lettered_total",
            "Deliveries moved to the dead-letter topic after their last attempt.",
            MetricType::Counter, Read(deliveries_.dead_lettered));
  AddFamily(out, "aurigraph_refserver_webhook_duplicates_skipped_total",
            "Records Kafka delivered again, or already finished, not POSTed again.",
            MetricType::Counter, Read(deliveries_.skipped));
  AddFamily(out, "aurigraph_refserver_webhook_produce_errors_total",
            "Delivery records Kafka refused.", MetricType::Counter,
            Read(deliveries_.produce_errors));
  return out;
}

}  // namespace aurigraph::refserver
