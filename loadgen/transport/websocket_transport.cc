#include "loadgen/transport/websocket_transport.h"

#include <algorithm>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/basic_stream.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/beast/websocket/ssl.hpp>
#include <chrono>
#include <cstring>
#include <deque>
#include <limits>
#include <optional>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/clock/clock.h"
#include "common/status_codes/status_codes.h"

namespace aurigraph::loadgen {
namespace {

namespace code = aurigraph::status_code;

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace websocket = beast::websocket;
using ErrorCode = beast::error_code;

// Deadlines this close are the same one (read from the clock a moment apart).
constexpr int64_t kSameDeadlineNanos = 2'000;
// What a refused upgrade's message keeps of the response's body.
constexpr size_t kKeptErrorBody = 256;

int64_t Now() { return SteadyClock::Instance().NowNanos(); }

// Counts the bytes a connection's socket reads and writes, the upgrade and
// every frame's header included: Beast's rate-policy hooks, never limiting.
class ByteCounter {
 public:
  int64_t read = 0;
  int64_t written = 0;

 private:
  friend class beast::rate_policy_access;
  static constexpr size_t kAll = std::numeric_limits<size_t>::max();
  size_t available_read_bytes() const noexcept { return kAll; }
  size_t available_write_bytes() const noexcept { return kAll; }
  void transfer_read_bytes(size_t n) noexcept { read += static_cast<int64_t>(n); }
  void transfer_write_bytes(size_t n) noexcept { written += static_cast<int64_t>(n); }
  void on_timer() noexcept {}
};
using CountedTcp = beast::basic_stream<asio::ip::tcp, asio::any_io_executor, ByteCounter>;
using PlainWebSocket = websocket::stream<CountedTcp>;
using TlsWebSocket = websocket::stream<beast::ssl_stream<CountedTcp>>;

}  // namespace

int GrpcCodeForWebSocketClose(int close_code) {
  switch (close_code) {
    case 1000:
      return code::kOk;
    case 1001:  // going away
    case 1006:  // closed without a close frame
    case 1012:  // service restart
    case 1013:  // try again later
      return code::kUnavailable;
    case 1003:  // a type of message it cannot take
    case 1007:  // a message inconsistent with its type
      return code::kInvalidArgument;
    case 1008:  // policy violation
      return code::kPermissionDenied;
    case 1009:  // too big
      return code::kResourceExhausted;
    case 1002:  // protocol error
    case 1011:  // internal error
      return code::kInternal;
    default:
      return code::kUnknown;
  }
}

struct WebSocketStreamTransport::Stream {
  std::unique_ptr<PlainWebSocket> plain;  // one of the two
  std::unique_ptr<TlsWebSocket> tls;
  uint32_t operation = 0;
  beast::flat_buffer read_buffer;
  std::string write_buffer;
  websocket::response_type upgrade_response;
  int pending = 0;  // operations started and not yet completed
  bool active = false;
  bool opened = false;
  bool write_in_flight = false;
  bool close_requested = false;
  bool closing = false;
  bool ended = false;  // it will do nothing more once its operations complete
  int status_code = -1;
  std::string status_message;

  // Calls `f` with the stream's WebSocket, whichever wire it is on.
  template <typename F>
  decltype(auto) With(F&& f) {
    return tls != nullptr ? f(*tls) : f(*plain);
  }
  CountedTcp& tcp() {
    return tls != nullptr ? beast::get_lowest_layer(*tls) : beast::get_lowest_layer(*plain);
  }

  // The first reason the stream ends is its status.
  void End(int code, std::string message) {
    ended = true;
    if (status_code >= 0) return;
    status_code = code;
    status_message = std::move(message);
  }
};

struct WebSocketStreamTransport::Impl {
  struct Ready {
    EventType type;
    uint32_t slot;
    bool ok;
  };

  asio::io_context io{1};
  asio::executor_work_guard<asio::io_context::executor_type> work{io.get_executor()};
  HttpEndpoint endpoint;
  std::optional<asio::ssl::context> tls;  // the endpoint's TLS context, as Asio takes it
  std::vector<std::string> paths;
  int64_t connect_timeout_nanos = 0;
  std::vector<Stream> streams;
  std::vector<WireTotals> counts;  // per operation
  std::deque<Ready> ready;
  asio::steady_timer wake{io};  // ends Next's wait
  uint64_t wake_generation = 0;
  bool wake_armed = false;  // and not yet fired
  int64_t wake_at = 0;
  // The slot whose message Next handed out: its buffer is kept, and its next
  // read started, on the following Next.
  std::optional<uint32_t> handed_out;
  std::string status_message;

  void Push(EventType type, uint32_t slot, bool ok = true) { ready.push_back({type, slot, ok}); }

  // Aborts the connection's operations (they complete with errors).
  void Drop(Stream& s) {
    ErrorCode ignored;
    s.tcp().socket().close(ignored);
  }

  // Once nothing of an ended stream is in flight, it is over.
  void MaybeClosed(uint32_t slot) {
    Stream& s = streams[slot];
    if (!s.active || !s.ended || s.pending > 0) return;
    s.active = false;
    const ByteCounter& bytes = s.tcp().rate_policy();
    counts[s.operation].request_bytes += bytes.written;
    counts[s.operation].response_bytes += bytes.read;
    Push(EventType::kClosed, slot);
  }

  void OnConnected(uint32_t slot, const std::string& path, ErrorCode ec) {
    Stream& s = streams[slot];
    --s.pending;
    if (ec || s.ended) {
      s.End(code::kUnavailable, absl::StrCat("connect to ", endpoint.host, ": ", ec.message()));
      Push(EventType::kOpened, slot, false);
      return MaybeClosed(slot);
    }
    // Messages are small and each is due now: Nagle's algorithm would hold them.
    s.tcp().socket().set_option(asio::ip::tcp::no_delay(true), ec);
    if (s.tls == nullptr) return Upgrade(slot, path);
    ++s.pending;
    s.tls->next_layer().async_handshake(
        asio::ssl::stream_base::client,
        [this, slot, &path](ErrorCode e) { OnTlsHandshake(slot, path, e); });
  }

  void OnTlsHandshake(uint32_t slot, const std::string& path, ErrorCode ec) {
    Stream& s = streams[slot];
    --s.pending;
    if (ec || s.ended) {
      const std::string why = (ec == beast::error::timeout ? "timed out" : ec.message()) +
                              TlsClientContext::VerifyFailure(s.tls->next_layer().native_handle());
      s.End(code::kUnavailable,
            absl::StrCat("TLS handshake with ", endpoint.host, " failed: ", why));
      Drop(s);
      Push(EventType::kOpened, slot, false);
      return MaybeClosed(slot);
    }
    Upgrade(slot, path);
  }

  void Upgrade(uint32_t slot, const std::string& path) {
    Stream& s = streams[slot];
    ++s.pending;
    s.With([&](auto& ws) {
      ws.async_handshake(s.upgrade_response, endpoint.host_header(), path,
                         [this, slot](ErrorCode e) { OnUpgraded(slot, e); });
    });
  }

  void OnUpgraded(uint32_t slot, ErrorCode ec) {
    Stream& s = streams[slot];
    --s.pending;
    // A response is counted only when one came (Beast's empty one reads 200).
    if (!ec || ec == websocket::error::upgrade_declined) {
      ++counts[s.operation].by_status[static_cast<int>(s.upgrade_response.result_int())];
    }
    if (ec == websocket::error::upgrade_declined) {
      const auto status = static_cast<int>(s.upgrade_response.result_int());
      const std::string& body = s.upgrade_response.body();
      // A refusal is never OK, even a 200 from a path that is no WebSocket.
      const int code = GrpcCodeForHttpStatus(status);
      s.End(code == code::kOk ? code::kUnknown : code,
            absl::StrCat("upgrade refused: HTTP ", status, " ",
                         std::string(s.upgrade_response.reason()), body.empty() ? "" : ": ",
                         body.substr(0, kKeptErrorBody)));
    } else if (ec == beast::error::timeout) {
      s.End(code::kUnavailable, absl::StrCat("upgrade at ", endpoint.host, ": timed out"));
    } else if (ec) {
      s.End(code::kUnavailable, absl::StrCat("upgrade at ", endpoint.host, ": ", ec.message()));
    }
    if (ec || s.ended) {
      Drop(s);
      Push(EventType::kOpened, slot, false);
      return MaybeClosed(slot);
    }
    // From here on, the WebSocket's own rules: no timeout on an idle stream.
    s.tcp().expires_never();
    websocket::stream_base::timeout timeouts{};
    timeouts.handshake_timeout = std::chrono::nanoseconds(connect_timeout_nanos);
    timeouts.idle_timeout = websocket::stream_base::none();
    timeouts.keep_alive_pings = false;
    s.With([&](auto& ws) {
      ws.set_option(timeouts);
      ws.text(true);
    });
    s.opened = true;
    Push(EventType::kOpened, slot);
    StartRead(slot);
  }

  void StartRead(uint32_t slot) {
    Stream& s = streams[slot];
    ++s.pending;
    s.With([&](auto& ws) {
      ws.async_read(s.read_buffer, [this, slot](ErrorCode ec, size_t) { OnRead(slot, ec); });
    });
  }

  void OnRead(uint32_t slot, ErrorCode ec) {
    Stream& s = streams[slot];
    --s.pending;
    if (!ec && !s.ended) {
      ++counts[s.operation].responses;
      counts[s.operation].response_payload_bytes += static_cast<int64_t>(s.read_buffer.size());
      Push(EventType::kMessage, slot);  // read again once it is handed out
      return;
    }
    if (!ec || (s.closing && ec == asio::error::operation_aborted)) {
      // Read when the stream had already ended, or cut short by our own close
      // (whose handler says how the stream ended): nothing more to say.
    } else if (ec == websocket::error::closed) {
      PeerClosed(s);
    } else {
      s.End(code::kUnavailable, absl::StrCat("connection lost: ", ec.message()));
      Drop(s);
    }
    MaybeClosed(slot);
  }

  // The peer's close frame came: its code says how the stream ended.
  void PeerClosed(Stream& s) {
    const websocket::close_reason& reason =
        s.With([](auto& ws) -> const websocket::close_reason& { return ws.reason(); });
    const int code = reason.code == websocket::close_code::none ? 1005 : reason.code;
    const int status = code == 1005 ? code::kOk : GrpcCodeForWebSocketClose(code);
    s.End(status, status == code::kOk
                      ? ""
                      : absl::StrCat("WebSocket close ", code, ": ",
                                     std::string(reason.reason.data(), reason.reason.size())));
  }

  void OnWritten(uint32_t slot, ErrorCode ec) {
    Stream& s = streams[slot];
    --s.pending;
    s.write_in_flight = false;
    if (ec) {
      s.End(code::kUnavailable, absl::StrCat("write: ", ec.message()));
      Drop(s);
    } else {
      ++counts[s.operation].requests;
      counts[s.operation].request_payload_bytes += static_cast<int64_t>(s.write_buffer.size());
    }
    Push(EventType::kWritten, slot, !ec);
    if (!ec && s.close_requested && !s.ended) StartClose(slot);
    MaybeClosed(slot);
  }

  void StartClose(uint32_t slot) {
    Stream& s = streams[slot];
    s.closing = true;
    ++s.pending;
    s.With([&](auto& ws) {
      ws.async_close(websocket::close_code::normal, [this, slot](ErrorCode ec) {
        Stream& closed = streams[slot];
        --closed.pending;
        if (ec) {
          closed.End(code::kUnavailable, absl::StrCat("close: ", ec.message()));
          Drop(closed);
        } else {
          PeerClosed(closed);
        }
        MaybeClosed(slot);
      });
    });
  }
};

WebSocketStreamTransport::WebSocketStreamTransport(HttpEndpoint endpoint,
                                                   std::vector<std::string> paths, uint32_t slots,
                                                   int64_t connect_timeout_nanos)
    : impl_(std::make_unique<Impl>()) {
  impl_->endpoint = std::move(endpoint);
  if (impl_->endpoint.tls != nullptr) {
    // Asio's context frees the handle it is given: it gets a reference of its own.
    SSL_CTX* native = impl_->endpoint.tls->native();
    SSL_CTX_up_ref(native);
    impl_->tls.emplace(native);
  }
  impl_->paths = std::move(paths);
  impl_->connect_timeout_nanos = connect_timeout_nanos;
  impl_->streams = std::vector<Stream>(slots);
  impl_->counts.resize(impl_->paths.size());
  for (WireTotals& counts : impl_->counts) counts.request_bytes = counts.response_bytes = 0;
}

WebSocketStreamTransport::~WebSocketStreamTransport() {
  for (uint32_t slot = 0; slot < impl_->streams.size(); ++slot) Cancel(slot);
  Event ignored;
  const auto active = [this] {
    return std::any_of(impl_->streams.begin(), impl_->streams.end(),
                       [](const Stream& s) { return s.active; });
  };
  const int64_t give_up = Now() + 1'000'000'000;
  while (active() && Now() < give_up) Next(give_up - Now(), &ignored);
}

void WebSocketStreamTransport::Open(uint32_t slot, uint32_t operation,
                                    std::span<const Header> headers) {
  Stream& s = impl_->streams[slot];
  if (impl_->tls) {
    s.plain.reset();
    s.tls = std::make_unique<TlsWebSocket>(impl_->io.get_executor(), *impl_->tls);
    impl_->endpoint.tls->Prepare(s.tls->next_layer().native_handle());
  } else {
    s.plain = std::make_unique<PlainWebSocket>(impl_->io.get_executor());
  }
  s.operation = operation;
  s.read_buffer.clear();
  s.upgrade_response = {};
  s.pending = 0;
  s.active = true;
  s.opened = s.write_in_flight = s.close_requested = s.closing = s.ended = false;
  s.status_code = -1;
  s.status_message.clear();
  std::vector<std::pair<std::string, std::string>> fields;
  for (const Header& header : headers) fields.emplace_back(header.key, header.value);
  s.With([&](auto& ws) {
    ws.set_option(
        websocket::stream_base::decorator([fields = std::move(fields)](websocket::request_type& r) {
          r.set(beast::http::field::user_agent, "aurigraph-loadgen");
          for (const auto& [name, value] : fields) {
            if (beast::iequals(name, "user-agent")) r.erase(beast::http::field::user_agent);
          }
          for (const auto& [name, value] : fields) r.insert(name, value);
        }));
  });
  asio::ip::tcp::endpoint address;
  std::memcpy(address.data(), &impl_->endpoint.address.storage, impl_->endpoint.address.length);
  address.resize(impl_->endpoint.address.length);
  CountedTcp& tcp = s.tcp();
  tcp.expires_after(std::chrono::nanoseconds(impl_->connect_timeout_nanos));
  ++s.pending;
  tcp.async_connect(address, [this, slot, &path = impl_->paths[operation]](ErrorCode ec) {
    impl_->OnConnected(slot, path, ec);
  });
}

void WebSocketStreamTransport::Write(uint32_t slot, std::string_view message) {
  Stream& s = impl_->streams[slot];
  s.write_in_flight = true;
  ++s.pending;
  if (s.ended || !s.opened) {
    // Nothing goes out on a stream that is over; the write still finishes, failed.
    asio::post(impl_->io, [this, slot] {
      impl_->OnWritten(slot, asio::error::make_error_code(asio::error::not_connected));
    });
    return;
  }
  s.write_buffer.assign(message);
  s.With([&](auto& ws) {
    ws.async_write(asio::buffer(s.write_buffer),
                   [this, slot](ErrorCode ec, size_t) { impl_->OnWritten(slot, ec); });
  });
}

void WebSocketStreamTransport::CloseSend(uint32_t slot) {
  Stream& s = impl_->streams[slot];
  if (!s.opened || s.closing || s.ended) return;
  if (s.write_in_flight) {
    s.close_requested = true;
    return;
  }
  impl_->StartClose(slot);
}

void WebSocketStreamTransport::Cancel(uint32_t slot) {
  Stream& s = impl_->streams[slot];
  if (!s.active || s.ended) return;
  s.End(code::kCancelled, "cancelled");
  impl_->Drop(s);
  impl_->MaybeClosed(slot);
}

std::vector<WireTotals> WebSocketStreamTransport::CountsByOperation() const {
  return impl_->counts;
}

bool WebSocketStreamTransport::Next(int64_t timeout_nanos, Event* event) {
  if (impl_->handed_out) {
    Stream& s = impl_->streams[*impl_->handed_out];
    s.read_buffer.consume(s.read_buffer.size());
    // A closing stream's close reads what is left itself; one that ended
    // while its message was out is over now.
    if (s.active && !s.ended && !s.closing) impl_->StartRead(*impl_->handed_out);
    impl_->MaybeClosed(*impl_->handed_out);
    impl_->handed_out.reset();
  }
  if (timeout_nanos <= 0) {
    while (impl_->ready.empty() && impl_->io.poll_one() > 0) {
    }
  } else if (impl_->ready.empty()) {
    // A timer, not run_one_for: asio waits for that in whole milliseconds,
    // while its timers are exact (timerfd). It stays armed from call to call
    // while the deadline stays (the driver's next timer): arming it for every
    // message would cost two system calls each.
    const int64_t deadline = Now() + timeout_nanos;
    if (!impl_->wake_armed || std::abs(deadline - impl_->wake_at) > kSameDeadlineNanos) {
      impl_->wake_at = deadline;
      impl_->wake_armed = true;
      const uint64_t wake = ++impl_->wake_generation;
      impl_->wake.expires_after(std::chrono::nanoseconds(timeout_nanos));
      impl_->wake.async_wait([impl = impl_.get(), wake](ErrorCode ec) {
        if (!ec && wake == impl->wake_generation) impl->wake_armed = false;
      });
    }
    while (impl_->ready.empty() && impl_->wake_armed) impl_->io.run_one();
  }
  if (impl_->ready.empty()) return false;
  const Impl::Ready ready = impl_->ready.front();
  impl_->ready.pop_front();
  Stream& s = impl_->streams[ready.slot];
  *event = Event{ready.type, ready.slot, ready.ok, 0, {}, {}};
  switch (ready.type) {
    case EventType::kMessage:
      event->message = std::string_view(static_cast<const char*>(s.read_buffer.data().data()),
                                        s.read_buffer.size());
      impl_->handed_out = ready.slot;
      break;
    case EventType::kClosed:
      event->status_code = s.status_code < 0 ? code::kOk : s.status_code;
      impl_->status_message = s.status_message;
      event->status_message = impl_->status_message;
      break;
    default:
      break;
  }
  return true;
}

}  // namespace aurigraph::loadgen
