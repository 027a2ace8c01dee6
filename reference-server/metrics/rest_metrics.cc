#include "reference-server/metrics/rest_metrics.h"

#include <string>

#include "common/metrics/families.h"

namespace aurigraph::refserver {

std::vector<prometheus::MetricFamily> RestMetrics::Collect() const {
  using metrics::AddFamily;
  using metrics::AddSample;
  using prometheus::MetricType;
  const http::ServerCounters counters = server_.counters();
  std::vector<prometheus::MetricFamily> out;
  out.push_back(metrics::Family("aurigraph_refserver_rest_responses_total",
                                "REST gateway responses, by HTTP status.", MetricType::Counter));
  for (const auto& [status, count] : counters.responses) {
    AddSample(out.back(), static_cast<double>(count), {{"status", std::to_string(status)}});
  }
  AddFamily(out, "aurigraph_refserver_rest_connections_open", "REST gateway connections open now.",
            MetricType::Gauge, static_cast<double>(counters.connections_open));
  out.push_back(metrics::Family("aurigraph_refserver_rest_connections_total",
                                "REST gateway connections accepted, and refused beyond the bound.",
                                MetricType::Counter));
  AddSample(out.back(), static_cast<double>(counters.connections_accepted),
            {{"outcome", "accepted"}});
  AddSample(out.back(), static_cast<double>(counters.connections_refused),
            {{"outcome", "refused"}});
  AddFamily(out, "aurigraph_refserver_rest_refused_requests_total",
            "Requests the HTTP server answered itself (not HTTP, headers or body too large) "
            "before closing the connection.",
            MetricType::Counter, static_cast<double>(counters.refused_requests));
  out.push_back(metrics::Family("aurigraph_refserver_rest_bytes_total",
                                "REST gateway bytes: of requests read whole (received) and of "
                                "responses written (sent), headers and bodies.",
                                MetricType::Counter));
  AddSample(out.back(), static_cast<double>(counters.received_bytes), {{"direction", "received"}});
  AddSample(out.back(), static_cast<double>(counters.sent_bytes), {{"direction", "sent"}});
  AddFamily(out, "aurigraph_refserver_websocket_connections_open",
            "WebSocket connections (/v1/ws) open now.", MetricType::Gauge,
            static_cast<double>(counters.websockets_open));
  AddFamily(out, "aurigraph_refserver_websocket_connections_total",
            "WebSocket connections upgraded (handshake completed).", MetricType::Counter,
            static_cast<double>(counters.websockets_accepted));
  out.push_back(metrics::Family("aurigraph_refserver_websocket_messages_total",
                                "WebSocket messages read (received) and written (sent).",
                                MetricType::Counter));
  AddSample(out.back(), static_cast<double>(counters.websocket_messages_received),
            {{"direction", "received"}});
  AddSample(out.back(), static_cast<double>(counters.websocket_messages_sent),
            {{"direction", "sent"}});
  AddFamily(out, "aurigraph_refserver_websocket_cut_off_total",
            "WebSocket clients closed with 1008 for reading their events too slowly (the "
            "queue bound of gRPC subscribers).",
            MetricType::Counter, static_cast<double>(counters.websockets_cut_off));
  AddFamily(out, "aurigraph_refserver_rest_timeouts_total",
            "REST connections closed idle, or for not reading their answer.", MetricType::Counter,
            static_cast<double>(counters.timeouts));
  return out;
}

}  // namespace aurigraph::refserver
