#include "reference-server/metrics/domain_metrics.h"

#include "common/metrics/families.h"

namespace aurigraph::refserver {
namespace {

using metrics::AddSample;
using metrics::Family;
using prometheus::MetricType;

double Read(const std::atomic<int64_t>& counter) {
  return static_cast<double>(counter.load(std::memory_order_relaxed));
}

}  // namespace

DomainMetrics::DomainMetrics(const ApprovalStore& approvals, const TransactionStore& transactions,
                             const StreamCounters& streams, const DelayQueue& delayed)
    : approvals_(approvals), transactions_(transactions), streams_(streams), delayed_(delayed) {}

std::vector<prometheus::MetricFamily> DomainMetrics::Collect() const {
  std::vector<prometheus::MetricFamily> out;
  const auto& a = approvals_.counters();
  auto submitted = Family("aurigraph_refserver_approvals_submitted_total",
                          "Approval requests accepted.", MetricType::Counter);
  AddSample(submitted, Read(a.submitted));
  out.push_back(std::move(submitted));
  auto finalized = Family("aurigraph_refserver_approvals_finalized_total",
                          "Approvals that reached a final status, by status.", MetricType::Counter);
  AddSample(finalized, Read(a.approved), {{"status", "APPROVED"}});
  AddSample(finalized, Read(a.rejected), {{"status", "REJECTED"}});
  AddSample(finalized, Read(a.expired), {{"status", "EXPIRED"}});
  out.push_back(std::move(finalized));
  auto votes = Family("aurigraph_refserver_approval_votes_total", "Validator votes recorded.",
                      MetricType::Counter);
  AddSample(votes, Read(a.votes));
  out.push_back(std::move(votes));
  auto stored =
      Family("aurigraph_refserver_approvals_stored",
             "Approvals held (pending, and finalized within retention).", MetricType::Gauge);
  AddSample(stored, static_cast<double>(approvals_.size()));
  out.push_back(std::move(stored));

  const auto& t = transactions_.counters();
  auto transactions = Family("aurigraph_refserver_transactions_total",
                             "Transactions submitted, by outcome.", MetricType::Counter);
  AddSample(transactions, Read(t.accepted), {{"outcome", "accepted"}});
  AddSample(transactions, Read(t.rejected), {{"outcome", "rejected"}});
  out.push_back(std::move(transactions));
  auto batches = Family("aurigraph_refserver_transaction_batches_total",
                        "Transaction batches submitted.", MetricType::Counter);
  AddSample(batches, Read(t.batches));
  out.push_back(std::move(batches));
  auto kept = Family("aurigraph_refserver_transactions_stored",
                     "Transactions held for lookups and duplicate checks.", MetricType::Gauge);
  AddSample(kept, static_cast<double>(transactions_.size()));
  out.push_back(std::move(kept));

  auto open = Family("aurigraph_refserver_active_streams", "Streams open now, by direction.",
                     MetricType::Gauge);
  AddSample(open, Read(streams_.subscribers), {{"direction", "server"}});
  AddSample(open, Read(streams_.client_streams_open), {{"direction", "client"}});
  out.push_back(std::move(open));
  auto events = Family("aurigraph_refserver_stream_events_written_total",
                       "Events written to server-stream subscribers.", MetricType::Counter);
  AddSample(events, Read(streams_.events_written));
  out.push_back(std::move(events));
  auto cut_off = Family("aurigraph_refserver_stream_subscribers_cut_off_total",
                        "Subscribers cut off because their queue was full.", MetricType::Counter);
  AddSample(cut_off, Read(streams_.overflowed));
  out.push_back(std::move(cut_off));
  auto peak = Family("aurigraph_refserver_stream_queue_peak_events",
                     "The most events one subscriber has had queued.", MetricType::Gauge);
  AddSample(peak, Read(streams_.queue_peak));
  out.push_back(std::move(peak));
  auto held = Family("aurigraph_refserver_delayed_responses",
                     "Responses held now by injected latency or stalls.", MetricType::Gauge);
  AddSample(held, static_cast<double>(delayed_.held()));
  out.push_back(std::move(held));
  return out;
}

}  // namespace aurigraph::refserver
