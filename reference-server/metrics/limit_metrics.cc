#include "reference-server/metrics/limit_metrics.h"

#include "common/metrics/families.h"

namespace aurigraph::refserver {

std::vector<prometheus::MetricFamily> LimitMetrics::Collect() const {
  using metrics::AddFamily;
  using metrics::AddSample;
  using prometheus::MetricType;
  std::vector<prometheus::MetricFamily> out;
  AddFamily(out, "aurigraph_refserver_calls_in_flight",
            "Unary calls held now, from their handler to their response.", MetricType::Gauge,
            static_cast<double>(gate_.in_flight()));
  AddFamily(out, "aurigraph_refserver_calls_shed_total",
            "Unary calls refused with RESOURCE_EXHAUSTED because --max-in-flight were held.",
            MetricType::Counter, static_cast<double>(gate_.refused()));
  out.push_back(metrics::Family(
      "aurigraph_refserver_connections_closed_total",
      "Connections the server closed for abusing their streams, by reason.", MetricType::Counter));
  AddSample(out.back(), static_cast<double>(guard_.cut_for_resets.load(std::memory_order_relaxed)),
            {{"reason", "stream_resets"}});
  AddSample(out.back(),
            static_cast<double>(guard_.cut_for_stream_limit.load(std::memory_order_relaxed)),
            {{"reason", "stream_limit"}});
  AddSample(out.back(),
            static_cast<double>(guard_.cut_for_protocol.load(std::memory_order_relaxed)),
            {{"reason", "protocol"}});
  out.push_back(metrics::Family("aurigraph_refserver_streams_refused_total",
                                "HTTP/2 streams refused (REFUSED_STREAM) by the front "
                                "(--http2-front): beyond --max-concurrent-streams on their "
                                "connection, or beyond their share of --max-open-streams.",
                                MetricType::Counter));
  AddSample(out.back(), static_cast<double>(guard_.streams_refused.load(std::memory_order_relaxed)),
            {{"reason", "stream_limit"}});
  AddSample(out.back(), static_cast<double>(guard_.streams_shed.load(std::memory_order_relaxed)),
            {{"reason", "overload"}});
  return out;
}

}  // namespace aurigraph::refserver
