// A small HTTP/1.1 server on Boost.Beast: keep-alive connections, each
// request read whole (bounded headers and body) and handed to a handler,
// which answers once, from any thread, now or later. Requests on one
// connection are answered in order (the next is read once the last is
// written). What the server refuses itself: a body over the bound (413), a
// header block over its bound (431), bytes that are not HTTP/1.1 (400), each
// answered and the connection closed; a connection idle, or not reading its
// answer, past the timeout is closed; connections beyond the bound are closed
// as they are accepted. It knows nothing of what the requests mean.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"

namespace aurigraph::http {

struct Request {
  std::string method;  // "GET", "POST", ...
  std::string target;  // path and query, as sent
  std::string content_type;
  std::string body;
  std::string peer;  // "ipv4:ADDRESS:PORT" (as gRPC names a peer)
};

struct Response {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;  // more of them
};

// The reason phrase of an HTTP status ("Not Found"), nginx's "Client Closed
// Request" for 499, "Unknown" for a status no registry names.
std::string ReasonPhrase(int status);

// Answers a request; call it exactly once.
using Respond = std::function<void(Response)>;
using Handler = std::function<void(Request, Respond)>;

// A WebSocket connection (RFC 6455, upgraded from a request), as its session
// sees it. Messages out are text, rendered when their turn to be written
// comes (so a time stamped in them is the write's), one write at a time, in
// the order given. Two kinds, bounded apart (websocket_queue_bound): answers
// (Send) are never dropped, and while that many messages of any kind wait
// the connection is not read (so a client that asks without reading holds up
// only itself); events (Publish) are dropped when a client reads slower than
// they come: once that many wait, they are, and the connection is closed with
// 1008 (policy violation) and a reason that says so. Callable from any thread.
class WebSocketConnection {
 public:
  using Render = std::function<std::string()>;
  virtual ~WebSocketConnection() = default;
  virtual void Send(Render render) = 0;
  virtual void Publish(Render render) = 0;
  // Sends a close frame with `code` and `reason` once the messages queued are written.
  virtual void Close(int code, std::string reason) = 0;
};

// What handles one WebSocket connection: each text message as it is read (on
// the connection's own strand, one at a time), then the end, once.
class WebSocketSession {
 public:
  virtual ~WebSocketSession() = default;
  virtual void OnText(std::string text) = 0;
  virtual void OnClosed() = 0;
};

// Upgrades `request` to a WebSocket session on `connection`; null refuses the
// upgrade (404: no WebSocket at that path).
using WebSocketAccept = std::function<std::shared_ptr<WebSocketSession>(
    const Request& request, std::shared_ptr<WebSocketConnection> connection)>;

struct ServerOptions {
  std::string listen = "127.0.0.1:0";  // HOST:PORT; port 0 picks a free port
  int threads = 2;
  size_t max_body_bytes = 4 << 20;
  size_t max_header_bytes = 16 << 10;
  int64_t max_connections = 10'000;
  int64_t idle_timeout_nanos = 60'000'000'000;   // waiting for a request
  int64_t write_timeout_nanos = 30'000'000'000;  // a client not reading its answer
  // WebSocket connections: the largest message read (larger: closed with
  // 1009), messages waiting to be written before a slow client is cut off,
  // and how long a connection may be silent: the server pings it when it has
  // been idle half as long, and closes it when nothing, not even a pong, came.
  size_t websocket_max_message_bytes = 1 << 20;
  size_t websocket_queue_bound = 1024;
  int64_t websocket_idle_timeout_nanos = 60'000'000'000;
};

struct ServerCounters {
  std::vector<std::pair<int, int64_t>> responses;  // by HTTP status, those given at least once
  int64_t connections_accepted = 0;
  int64_t connections_refused = 0;  // beyond max_connections
  int64_t connections_open = 0;
  int64_t requests = 0;
  int64_t refused_requests = 0;  // answered by the server itself (400, 413, 431)
  int64_t timeouts = 0;
  int64_t websockets_open = 0;
  int64_t websockets_accepted = 0;
  int64_t websocket_messages_received = 0;
  int64_t websocket_messages_sent = 0;
  int64_t websockets_cut_off = 0;  // slow readers closed with 1008
  int64_t received_bytes = 0;      // of requests read whole: request lines, headers and bodies
  int64_t sent_bytes = 0;          // of responses written: status lines, headers and bodies
};

class Server {
 public:
  // UNAVAILABLE when the address cannot be bound; INVALID_ARGUMENT for a bad one.
  // With `accept`, a request to upgrade to WebSocket is handed to it;
  // without, it is answered as any request.
  static absl::StatusOr<std::unique_ptr<Server>> Start(const ServerOptions& options,
                                                       Handler handler,
                                                       WebSocketAccept accept = nullptr);
  ~Server();

  // Stops serving: open connections are closed, answers not yet given are
  // dropped (given later, they go nowhere). Counters stay readable.
  void Stop();
  int port() const;
  ServerCounters counters() const;

  struct Impl;

 private:
  explicit Server(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace aurigraph::http
