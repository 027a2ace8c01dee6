#include "reference-server/http/http_server.h"

#include <netinet/tcp.h>

#include <array>
#include <atomic>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>
#include <chrono>
#include <deque>
#include <nlohmann/json.hpp>
#include <optional>
#include <thread>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace aurigraph::http {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
namespace websocket = boost::beast::websocket;
using tcp = asio::ip::tcp;

// What every connection shares; kept alive by the server and by every answer
// not yet given, so an answer given late posts to a stopped context, not a gone one.
struct Shared {
  Shared(ServerOptions o, Handler h, WebSocketAccept a)
      : options(std::move(o)), handler(std::move(h)), accept(std::move(a)) {}
  ServerOptions options;
  Handler handler;
  WebSocketAccept accept;
  std::atomic<int64_t> accepted{0}, refused{0}, open{0}, requests{0}, refused_requests{0},
      timeouts{0}, received_bytes{0}, sent_bytes{0};
  std::atomic<int64_t> websockets_open{0}, websockets_accepted{0}, websocket_received{0},
      websocket_sent{0}, websockets_cut_off{0};
  std::array<std::atomic<int64_t>, 600> by_status{};
  asio::io_context context;  // last: the sessions its handlers hold count themselves out
};

// One upgraded connection: reads text messages into its session, writes the
// rendered messages queued for it one at a time, and closes when asked, when
// cut off, or when the client goes (idle past the timeout: no pong).
class WsConnection final : public WebSocketConnection,
                           public std::enable_shared_from_this<WsConnection> {
 public:
  WsConnection(beast::tcp_stream stream, Shared& shared, std::weak_ptr<Shared> shared_weak)
      : keep_(shared_weak.lock()), shared_(shared), ws_(std::move(stream)) {
    shared_.open.fetch_add(1, std::memory_order_relaxed);
    shared_.websockets_open.fetch_add(1, std::memory_order_relaxed);
  }
  ~WsConnection() override {
    shared_.websockets_open.fetch_sub(1, std::memory_order_relaxed);
    shared_.open.fetch_sub(1, std::memory_order_relaxed);
  }

  // Completes the handshake of `upgrade` for `session`; without one, answers 404.
  void Run(bhttp::request<bhttp::string_body> upgrade, std::shared_ptr<WebSocketSession> session) {
    if (!session) {
      auto answer = std::make_shared<bhttp::response<bhttp::string_body>>(bhttp::status::not_found,
                                                                          upgrade.version());
      answer->set(bhttp::field::content_type, "text/plain");
      answer->body() = "no WebSocket here\n";
      answer->keep_alive(false);
      answer->prepare_payload();
      bhttp::async_write(ws_.next_layer(), *answer,
                         [self = shared_from_this(), answer](beast::error_code ec, size_t) {
                           self->ws_.next_layer().socket().shutdown(tcp::socket::shutdown_send, ec);
                         });
      return;
    }
    session_ = std::move(session);
    // The WebSocket stream keeps its own time (handshake, idle with pings).
    ws_.next_layer().expires_never();
    websocket::stream_base::timeout timeout{};
    timeout.handshake_timeout = std::chrono::seconds(30);
    timeout.idle_timeout = std::chrono::nanoseconds(shared_.options.websocket_idle_timeout_nanos);
    timeout.keep_alive_pings = true;
    ws_.set_option(timeout);
    ws_.read_message_max(shared_.options.websocket_max_message_bytes);
    ws_.async_accept(upgrade, [self = shared_from_this()](beast::error_code ec) {
      if (ec) return self->End();
      self->shared_.websockets_accepted.fetch_add(1, std::memory_order_relaxed);
      self->Read();
    });
  }

  void Send(Render render) override { Post(std::move(render), /*event=*/false); }
  void Publish(Render render) override { Post(std::move(render), /*event=*/true); }

  void Close(int code, std::string reason) override {
    asio::post(ws_.get_executor(),
               [self = shared_from_this(), code, reason = std::move(reason)]() mutable {
                 self->CloseAfterWrites(code, std::move(reason));
               });
  }

 private:
  void Post(Render render, bool event) {
    asio::post(ws_.get_executor(), [self = shared_from_this(), render = std::move(render),
                                    event]() mutable { self->Queue(std::move(render), event); });
  }

  bool Full() const { return queue_.size() >= shared_.options.websocket_queue_bound; }

  void Read() {
    // A client that asks faster than it reads the answers is read no more
    // until they are written (WriteNext resumes).
    if (Full() && !closing_) {
      read_paused_ = true;
      return;
    }
    ReadNow();
  }

  void ReadNow() {
    ws_.async_read(buffer_,
                   [self = shared_from_this()](beast::error_code ec, size_t) { self->OnRead(ec); });
  }

  void OnRead(beast::error_code ec) {
    // Closed by the client, silent past the timeout, or a message over the
    // bound (Beast has sent 1009): the connection is over.
    if (ec) return End();
    shared_.websocket_received.fetch_add(1, std::memory_order_relaxed);
    if (!ws_.got_text()) {
      buffer_.clear();
      CloseAfterWrites(static_cast<int>(websocket::close_code::unknown_data),
                       "binary messages are not accepted: send JSON text");
    } else {
      std::string text = beast::buffers_to_string(buffer_.data());
      buffer_.clear();
      if (session_ && !closing_) session_->OnText(std::move(text));
    }
    Read();  // until the close handshake ends it
  }

  void Queue(Render render, bool event) {
    if (ended_ || closing_) return;
    if (event && queued_events_ >= shared_.options.websocket_queue_bound) {
      // The events are dropped; answers already queued still go, then the close.
      std::erase_if(queue_, [](const Queued& q) { return q.event; });
      queued_events_ = 0;
      shared_.websockets_cut_off.fetch_add(1, std::memory_order_relaxed);
      CloseAfterWrites(static_cast<int>(websocket::close_code::policy_error),
                       absl::StrCat("client too slow: ", shared_.options.websocket_queue_bound,
                                    " messages queued; messages were dropped"));
      return;
    }
    queue_.push_back({std::move(render), event});
    if (event) ++queued_events_;
    if (!writing_) WriteNext();
  }

  void WriteNext() {
    if (queue_.empty()) {
      writing_ = false;
      Cork(false);
      if (closing_ && !close_started_) StartClose();
      return;
    }
    writing_ = true;
    current_ = queue_.front().render();
    if (queue_.front().event) --queued_events_;
    queue_.pop_front();
    // A burst is sent in parts of about kCorkedBytes: corked to the end, its
    // first messages would wait for its last.
    if (corked_ && corked_bytes_ >= kCorkedBytes) Cork(false);
    if (!queue_.empty()) Cork(true);
    corked_bytes_ += current_.size();
    if (read_paused_ && !Full() && !closing_) {
      read_paused_ = false;
      Read();
    }
    ws_.text(true);
    ws_.async_write(asio::buffer(current_),
                    [self = shared_from_this()](beast::error_code ec, size_t) {
                      if (ec) return self->End();
                      self->shared_.websocket_sent.fetch_add(1, std::memory_order_relaxed);
                      self->WriteNext();
                    });
  }

  static constexpr size_t kCorkedBytes = 16 << 10;

  // While messages wait behind the one being written, the socket is corked:
  // a burst goes out in full segments rather than a segment (and a wake-up
  // of the reader) per message; it is uncorked, which sends what is held,
  // once the queue is empty.
  void Cork(bool on) {
    if (corked_ == on) return;
    corked_ = on;
    corked_bytes_ = 0;
    beast::error_code ignored;
    beast::get_lowest_layer(ws_).socket().set_option(
        asio::detail::socket_option::boolean<IPPROTO_TCP, TCP_CORK>(on), ignored);
  }

  void CloseAfterWrites(int code, std::string reason) {
    if (ended_ || closing_) return;
    closing_ = true;
    close_reason_ = websocket::close_reason(static_cast<websocket::close_code>(code), reason);
    if (!writing_) StartClose();
  }

  void StartClose() {
    close_started_ = true;
    // The close handshake ends with a read: a paused one goes on.
    if (read_paused_) {
      read_paused_ = false;
      ReadNow();
    }
    ws_.async_close(close_reason_, [self = shared_from_this()](beast::error_code) {
      // The read under way ends with the handshake, and with it the connection.
    });
  }

  void End() {
    if (ended_) return;
    ended_ = true;
    queue_.clear();
    queued_events_ = 0;
    if (session_) {
      session_->OnClosed();
      session_.reset();  // it holds this connection: the cycle ends here
    }
  }

  // What its stream's context lives in: a session or a late answer (a
  // committed submit) may hold the connection past the server's stop. First,
  // so the stream goes before it.
  std::shared_ptr<Shared> keep_;
  Shared& shared_;
  websocket::stream<beast::tcp_stream> ws_;
  std::shared_ptr<WebSocketSession> session_;
  beast::flat_buffer buffer_;
  struct Queued {
    Render render;
    bool event = false;
  };
  std::deque<Queued> queue_;
  size_t queued_events_ = 0;
  bool read_paused_ = false;
  std::string current_;
  websocket::close_reason close_reason_;
  bool writing_ = false;
  bool corked_ = false;
  size_t corked_bytes_ = 0;  // written since the socket was corked
  bool closing_ = false;
  bool close_started_ = false;
  bool ended_ = false;
};

class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(tcp::socket socket, const std::shared_ptr<Shared>& shared)
      : stream_(std::move(socket)), shared_(*shared), shared_weak_(shared) {
    beast::error_code ec;
    const tcp::endpoint remote = stream_.socket().remote_endpoint(ec);
    if (!ec) {
      peer_ =
          absl::StrCat(remote.address().is_v4() ? "ipv4:" : "ipv6:", remote.address().to_string(),
                       ":", remote.port());
    }
    shared_.open.fetch_add(1, std::memory_order_relaxed);
  }
  ~Session() { shared_.open.fetch_sub(1, std::memory_order_relaxed); }

  void Start() {
    asio::dispatch(stream_.get_executor(),
                   beast::bind_front_handler(&Session::Read, shared_from_this()));
  }

 private:
  void Read() {
    parser_.emplace();
    parser_->body_limit(shared_.options.max_body_bytes);
    parser_->header_limit(static_cast<uint32_t>(shared_.options.max_header_bytes));
    stream_.expires_after(std::chrono::nanoseconds(shared_.options.idle_timeout_nanos));
    bhttp::async_read(stream_, buffer_, *parser_,
                      beast::bind_front_handler(&Session::OnRead, shared_from_this()));
  }

  void OnRead(beast::error_code ec, size_t bytes) {
    if (ec) {
      if (ec == beast::error::timeout) {
        shared_.timeouts.fetch_add(1, std::memory_order_relaxed);
      } else if (ec == bhttp::error::body_limit) {
        Refuse(413, absl::StrCat("the body is over ", shared_.options.max_body_bytes, " bytes"));
      } else if (ec == bhttp::error::header_limit) {
        Refuse(431,
               absl::StrCat("the headers are over ", shared_.options.max_header_bytes, " bytes"));
      } else if (ec.category() == bhttp::make_error_code(bhttp::error::end_of_stream).category() &&
                 ec != bhttp::error::end_of_stream && ec != bhttp::error::partial_message) {
        Refuse(400, absl::StrCat("not an HTTP/1.1 request: ", ec.message()));
      }
      return;  // closed, or closing once the refusal is written
    }
    shared_.requests.fetch_add(1, std::memory_order_relaxed);
    shared_.received_bytes.fetch_add(static_cast<int64_t>(bytes), std::memory_order_relaxed);
    bhttp::request<bhttp::string_body> message = parser_->release();
    if (shared_.accept && websocket::is_upgrade(message)) return Upgrade(std::move(message));
    keep_alive_ = message.keep_alive();
    version_ = message.version();
    Request request;
    request.method = std::string(message.method_string());
    request.target = std::string(message.target());
    request.content_type = std::string(message[bhttp::field::content_type]);
    request.body = std::move(message.body());
    request.peer = peer_;
    // Waiting for the answer, the connection is not read; the write's timeout starts with it.
    stream_.expires_never();
    // The answer holds the session (nothing else does while it is awaited)
    // and what its context lives in, however late it comes.
    shared_.handler(std::move(request),
                    [session = shared_from_this(), keep = shared_weak_.lock()](Response response) {
                      asio::post(session->stream_.get_executor(),
                                 [session, response = std::move(response)]() mutable {
                                   session->Write(std::move(response));
                                 });
                    });
  }

  // Hands the connection to a WebSocket session, if the handler gives one.
  void Upgrade(bhttp::request<bhttp::string_body> message) {
    stream_.expires_never();
    Request request;
    request.method = std::string(message.method_string());
    request.target = std::string(message.target());
    request.peer = peer_;
    auto connection = std::make_shared<WsConnection>(std::move(stream_), shared_, shared_weak_);
    std::shared_ptr<WebSocketSession> session = shared_.accept(request, connection);
    connection->Run(std::move(message), std::move(session));
  }

  // Answers a request the server refuses itself, then closes.
  void Refuse(int status, std::string detail) {
    shared_.refused_requests.fetch_add(1, std::memory_order_relaxed);
    keep_alive_ = false;
    version_ = 11;
    Response response;
    response.status = status;
    response.content_type = "application/problem+json";
    response.body =
        nlohmann::json{
            {"title", ReasonPhrase(status)}, {"status", status}, {"detail", std::move(detail)}}
            .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    Write(std::move(response));
  }

  void Write(Response response) {
    if (response.status >= 100 && response.status < 600) {
      shared_.by_status[static_cast<size_t>(response.status)].fetch_add(1,
                                                                        std::memory_order_relaxed);
    }
    answer_ = {};
    answer_.version(version_);
    answer_.result(static_cast<unsigned>(response.status));
    answer_.set(bhttp::field::content_type, response.content_type);
    for (auto& [name, value] : response.headers) answer_.set(name, value);
    answer_.body() = std::move(response.body);
    answer_.keep_alive(keep_alive_);
    answer_.prepare_payload();
    stream_.expires_after(std::chrono::nanoseconds(shared_.options.write_timeout_nanos));
    bhttp::async_write(stream_, answer_,
                       beast::bind_front_handler(&Session::OnWrite, shared_from_this()));
  }

  void OnWrite(beast::error_code ec, size_t bytes) {
    shared_.sent_bytes.fetch_add(static_cast<int64_t>(bytes), std::memory_order_relaxed);
    if (ec) {
      if (ec == beast::error::timeout) shared_.timeouts.fetch_add(1, std::memory_order_relaxed);
      return;
    }
    if (!keep_alive_) {
      stream_.socket().shutdown(tcp::socket::shutdown_send, ec);
      return;
    }
    Read();
  }

  beast::tcp_stream stream_;
  // A session lives in its context's handlers and in the answer it awaits, so
  // it never keeps what holds the context alive; the answer does.
  Shared& shared_;
  std::weak_ptr<Shared> shared_weak_;
  std::string peer_;
  beast::flat_buffer buffer_;
  std::optional<bhttp::request_parser<bhttp::string_body>> parser_;
  bhttp::response<bhttp::string_body> answer_;
  bool keep_alive_ = true;
  unsigned version_ = 11;
};

}  // namespace

std::string ReasonPhrase(int status) {
  if (status == 499) return "Client Closed Request";
  const bhttp::status known = bhttp::int_to_status(static_cast<unsigned>(status));
  if (known == bhttp::status::unknown) return "Unknown";
  return std::string(bhttp::obsolete_reason(known));
}

struct Server::Impl {
  explicit Impl(std::shared_ptr<Shared> s)
      : shared(std::move(s)), acceptor(asio::make_strand(shared->context)) {}
  ~Impl() { Stop(); }
  void Stop() {
    shared->context.stop();
    for (std::thread& t : threads) t.join();
    threads.clear();
  }

  void Accept() {
    acceptor.async_accept(asio::make_strand(shared->context), [this](beast::error_code ec,
                                                                     tcp::socket socket) {
      if (ec) {
        if (ec == asio::error::operation_aborted) return;
      } else if (shared->open.load(std::memory_order_relaxed) >= shared->options.max_connections) {
        shared->refused.fetch_add(1, std::memory_order_relaxed);
        socket.close(ec);
      } else {
        shared->accepted.fetch_add(1, std::memory_order_relaxed);
        // Answers and events are written as they come: Nagle's algorithm
        // would hold each behind the last one's acknowledgement.
        socket.set_option(tcp::no_delay(true), ec);
        std::make_shared<Session>(std::move(socket), shared)->Start();
      }
      Accept();
    });
  }

  std::shared_ptr<Shared> shared;
  tcp::acceptor acceptor;
  std::vector<std::thread> threads;
  int port = 0;
};

Server::Server(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Server::~Server() = default;

absl::StatusOr<std::unique_ptr<Server>> Server::Start(const ServerOptions& options, Handler handler,
                                                      WebSocketAccept accept) {
  const size_t colon = options.listen.rfind(':');
  int port = -1;
  if (colon == std::string::npos || !absl::SimpleAtoi(options.listen.substr(colon + 1), &port) ||
      port < 0 || port > 65535) {
    return absl::InvalidArgumentError(
        absl::StrCat("listen address '", options.listen, "': expected HOST:PORT"));
  }
  if (options.threads < 1) return absl::InvalidArgumentError("threads: at least 1");
  beast::error_code ec;
  std::string host = options.listen.substr(0, colon);
  if (host.size() > 2 && host.front() == '[' && host.back() == ']')
    host = host.substr(1, host.size() - 2);
  const asio::ip::address address = asio::ip::make_address(host, ec);
  if (ec) {
    return absl::InvalidArgumentError(
        absl::StrCat("listen address '", options.listen, "': '", host, "' is not an IP address"));
  }
  auto impl = std::make_unique<Impl>(
      std::make_shared<Shared>(options, std::move(handler), std::move(accept)));
  const tcp::endpoint endpoint(address, static_cast<unsigned short>(port));
  impl->acceptor.open(endpoint.protocol(), ec);
  if (!ec) impl->acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) impl->acceptor.bind(endpoint, ec);
  if (!ec) impl->acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    return absl::UnavailableError(
        absl::StrCat("cannot listen on ", options.listen, ": ", ec.message()));
  }
  impl->port = impl->acceptor.local_endpoint().port();
  impl->Accept();
  for (int i = 0; i < options.threads; ++i) {
    impl->threads.emplace_back([shared = impl->shared.get()] { shared->context.run(); });
  }
  return std::unique_ptr<Server>(new Server(std::move(impl)));
}

void Server::Stop() { impl_->Stop(); }

int Server::port() const { return impl_->port; }

ServerCounters Server::counters() const {
  const Shared& s = *impl_->shared;
  ServerCounters out;
  out.connections_accepted = s.accepted.load(std::memory_order_relaxed);
  out.connections_refused = s.refused.load(std::memory_order_relaxed);
  out.connections_open = s.open.load(std::memory_order_relaxed);
  out.requests = s.requests.load(std::memory_order_relaxed);
  out.refused_requests = s.refused_requests.load(std::memory_order_relaxed);
  out.timeouts = s.timeouts.load(std::memory_order_relaxed);
  out.received_bytes = s.received_bytes.load(std::memory_order_relaxed);
  out.sent_bytes = s.sent_bytes.load(std::memory_order_relaxed);
  out.websockets_open = s.websockets_open.load(std::memory_order_relaxed);
  out.websockets_accepted = s.websockets_accepted.load(std::memory_order_relaxed);
  out.websocket_messages_received = s.websocket_received.load(std::memory_order_relaxed);
  out.websocket_messages_sent = s.websocket_sent.load(std::memory_order_relaxed);
  out.websockets_cut_off = s.websockets_cut_off.load(std::memory_order_relaxed);
  for (size_t status = 100; status < s.by_status.size(); ++status) {
    if (const int64_t n = s.by_status[status].load(std::memory_order_relaxed); n > 0) {
      out.responses.emplace_back(static_cast<int>(status), n);
    }
  }
  return out;
}

}  // namespace aurigraph::http
