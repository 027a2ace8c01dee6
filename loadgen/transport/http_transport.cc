#include "loadgen/transport/http_transport.h"

#include <fcntl.h>
#include <openssl/bio.h>
#include <openssl/ssl.h>
#include <sys/epoll.h>
#include <unistd.h>

#include <algorithm>
#include <boost/beast/http/basic_parser.hpp>
#include <boost/beast/http/status.hpp>
#include <cerrno>
#include <cstring>
#include <optional>
#include <thread>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "common/clock/clock.h"
#include "common/status_codes/status_codes.h"
#include "common/units/units.h"
#include "loadgen/transport/host_port.h"
#include "loadgen/transport/nonblocking_socket.h"
#include "loadgen/transport/slot_ring.h"

namespace aurigraph::loadgen {
namespace {

namespace code = aurigraph::status_code;

namespace bhttp = boost::beast::http;

// What an error's message keeps of the response's body.
constexpr size_t kKeptErrorBody = 256;
constexpr size_t kReadChunk = 64 << 10;

int64_t Now() { return SteadyClock::Instance().NowNanos(); }

// A response as it is parsed: its status, whether the connection stays open,
// and the start of its body (for an error's message).
class ResponseReader final : public bhttp::basic_parser<false> {
 public:
  explicit ResponseReader(std::string& body) : body_(body) {
    body_.clear();
    body_limit(std::numeric_limits<uint64_t>::max());
    header_limit(64 << 10);
    eager(true);
  }
  int status() const { return status_; }
  int64_t body_bytes() const { return body_bytes_; }

 private:
  void on_request_impl(bhttp::verb, boost::beast::string_view, boost::beast::string_view, int,
                       boost::beast::error_code&) override {}
  void on_response_impl(int code, boost::beast::string_view, int,
                        boost::beast::error_code&) override {
    status_ = code;
  }
  void on_field_impl(bhttp::field, boost::beast::string_view, boost::beast::string_view,
                     boost::beast::error_code&) override {}
  void on_header_impl(boost::beast::error_code&) override {}
  void on_body_init_impl(const boost::optional<std::uint64_t>&,
                         boost::beast::error_code&) override {}
  size_t on_body_impl(boost::beast::string_view body, boost::beast::error_code&) override {
    Keep(body);
    return body.size();
  }
  void on_chunk_header_impl(std::uint64_t, boost::beast::string_view,
                            boost::beast::error_code&) override {}
  size_t on_chunk_body_impl(std::uint64_t, boost::beast::string_view body,
                            boost::beast::error_code&) override {
    Keep(body);
    return body.size();
  }
  void on_finish_impl(boost::beast::error_code&) override {}

  void Keep(boost::beast::string_view body) {
    body_bytes_ += static_cast<int64_t>(body.size());
    const size_t room = kKeptErrorBody - std::min(kKeptErrorBody, body_.size());
    body_.append(body.data(), std::min(room, body.size()));
  }

  std::string& body_;
  int status_ = 0;
  int64_t body_bytes_ = 0;
};

}  // namespace

absl::StatusOr<HttpEndpoint> ResolveHttpEndpoint(const std::string& address) {
  auto resolved = ResolveHostPort(address);
  if (!resolved.ok()) return resolved.status();
  HttpEndpoint endpoint;
  for (const sockaddr_storage& storage : *resolved) {
    endpoint.resolved.push_back({storage, SocketAddressLength(storage)});
  }
  endpoint.address = endpoint.resolved.front();
  endpoint.host = address;
  return endpoint;
}

absl::Status ProbeHttpEndpoint(HttpEndpoint& endpoint, int64_t timeout_nanos) {
  const int64_t give_up = Now() + timeout_nanos;
  std::string last = "timed out";
  while (true) {
    for (const HttpEndpoint::Address& address : endpoint.resolved) {
      int fd = -1;
      const int error = ConnectWithin(address.storage, address.length, give_up - Now(), fd);
      absl::Status handshake;
      if (error == 0 && endpoint.tls != nullptr) {
        handshake = endpoint.tls->Handshake(fd, std::max<int64_t>(give_up - Now(), 0));
      }
      if (fd >= 0) close(fd);
      if (!handshake.ok()) {
        return absl::UnavailableError(absl::StrCat(endpoint.host, ": ", handshake.message()));
      }
      if (error == 0) {
        endpoint.address = address;
        return absl::OkStatus();
      }
      last = std::strerror(error);
    }
    if (Now() >= give_up) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return absl::UnavailableError(absl::StrCat("cannot connect to ", endpoint.host, " (", last,
                                             ") within ", FormatDuration(timeout_nanos)));
}

int GrpcCodeForHttpStatus(int http_status) {
  if (http_status >= 200 && http_status < 300) return code::kOk;
  switch (http_status) {
    case 400:
      return code::kInvalidArgument;
    case 401:
      return code::kUnauthenticated;
    case 403:
      return code::kPermissionDenied;
    case 404:
      return code::kNotFound;
    case 409:
      return code::kAlreadyExists;  // ABORTED shares it
    case 412:
      return code::kFailedPrecondition;
    case 413:
    case 429:
    case 431:
      return code::kResourceExhausted;
    case 499:
      return code::kCancelled;
    case 500:
      return code::kInternal;
    case 501:
      return code::kUnimplemented;
    case 502:
    case 503:
      return code::kUnavailable;
    case 504:
      return code::kDeadlineExceeded;
    default:
      return code::kUnknown;
  }
}

struct HttpTransport::Impl {
  struct Connection {
    int fd = -1;
    SSL* ssl = nullptr;  // over TLS
    bool connecting = false;
    bool handshaking = false;       // TLS
    bool write_wants_read = false;  // TLS: the request's write waits for bytes from the server
    bool read_wants_write = false;  // TLS: a read waits to write (a key update's answer)
    uint64_t tls_read_counted = 0;  // TLS: socket bytes read so far and counted
    uint64_t tls_written_counted = 0;
    bool watching_writable = false;  // epoll reports it writable (a request is part-written)
    int64_t slot = -1;               // the request it carries; -1: idle
    size_t written = 0;
    bool request_counted = false;
    int64_t served = 0;  // responses it carried since it was opened
    std::string in;      // read, not yet parsed
    size_t response_bytes = 0;
    std::optional<ResponseReader> reader;
  };
  struct Slot {
    uint32_t operation = 0;
    std::string request;  // the whole HTTP request, head and body
    size_t body_bytes = 0;
    bool retried = false;  // sent again after a keep-alive connection closed under it
    int64_t deadline = 0;  // steady nanos; 0: none
    std::string body;      // of the response, its start (for an error's message)
    std::string message;   // the completion's status message
  };

  Impl(HttpEndpoint endpoint, int connections, std::vector<UnaryMethod> methods, uint32_t slots)
      : endpoint(std::move(endpoint)),
        methods(std::move(methods)),
        connections(static_cast<size_t>(std::max(connections, 1))),
        slots(slots),
        waiting(slots),
        done(slots),
        counts(this->methods.size()) {
    epoll = epoll_create1(EPOLL_CLOEXEC);
    events.resize(this->connections.size());
    for (Slot& slot : this->slots) slot.request.reserve(512);
    for (WireTotals& count : counts) count.request_bytes = count.response_bytes = 0;
  }
  ~Impl() {
    for (Connection& c : connections) Close(c);
    if (epoll >= 0) close(epoll);
  }

  struct Done {
    uint32_t slot;
    int code;
    int64_t at;
  };

  void Close(Connection& c) {
    // No close_notify: nothing is written after the last response, as an
    // HTTP client that closes a framed exchange need not.
    if (c.ssl != nullptr) SSL_free(c.ssl);
    c.ssl = nullptr;
    c.handshaking = c.write_wants_read = c.read_wants_write = false;
    if (c.fd >= 0) close(c.fd);
    c.fd = -1;
    c.connecting = false;
    c.watching_writable = false;
    c.served = 0;
    c.in.clear();
    c.reader.reset();
  }

  void Finish(uint32_t slot, int code, int64_t at) { done.Push(Done{slot, code, at}); }

  // The connection was lost before any byte of its response: a keep-alive
  // connection the server closed while it was idle (the request crossed its
  // close) is retried once on a new connection; otherwise the request fails.
  void Lost(Connection& c, std::string why, int64_t now) {
    const auto slot = static_cast<uint32_t>(c.slot);
    if (c.served > 0 && c.response_bytes == 0 && !slots[slot].retried) {
      slots[slot].retried = true;
      c.slot = -1;
      Close(c);
      waiting.PushFront(slot);
      return;
    }
    Fail(c, code::kUnavailable, std::move(why), now);
  }

  // Ends the request `c` carries with `code`, and the connection with it.
  void Fail(Connection& c, int code, std::string message, int64_t at) {
    const auto slot = static_cast<uint32_t>(c.slot);
    c.slot = -1;
    Close(c);
    slots[slot].message = std::move(message);
    Finish(slot, code, at);
  }

  void Watch(Connection& c, uint32_t events_mask, bool add) {
    epoll_event ev{};
    ev.events = events_mask;
    ev.data.u64 = static_cast<uint64_t>(&c - connections.data());
    epoll_ctl(epoll, add ? EPOLL_CTL_ADD : EPOLL_CTL_MOD, c.fd, &ev);
  }

  // Whether epoll reports `c` writable, besides readable (always).
  void WatchWritable(Connection& c, bool writable) {
    if (writable != c.watching_writable) {
      Watch(c, EPOLLIN | EPOLLRDHUP | (writable ? uint32_t{EPOLLOUT} : 0u), /*add=*/false);
    }
    c.watching_writable = writable;
  }

  // TLS: a socket's byte count since it was last counted (`counted`).
  static int64_t SinceCounted(uint64_t total, uint64_t& counted) {
    const uint64_t n = total - counted;
    counted = total;
    return static_cast<int64_t>(n);
  }

  // Takes the TLS handshake as far as the socket allows; writes the request
  // once it is done.
  void Handshake(Connection& c, int64_t now) {
    TlsClientContext::ClearErrors();
    const int ret = SSL_do_handshake(c.ssl);
    if (ret == 1) {
      c.handshaking = false;
      return Write(c, now);
    }
    const int error = SSL_get_error(c.ssl, ret);
    if (error == SSL_ERROR_WANT_READ || error == SSL_ERROR_WANT_WRITE) {
      return WatchWritable(c, error == SSL_ERROR_WANT_WRITE);
    }
    Fail(c, code::kUnavailable,
         absl::StrCat("TLS handshake with ", endpoint.host,
                      " failed: ", TlsClientContext::ErrorText(c.ssl, ret)),
         now);
  }

  // Gives `slot` to connection `c`: opens it if it is closed, and writes.
  void Assign(Connection& c, uint32_t slot, int64_t now) {
    c.slot = slot;
    c.written = 0;
    c.request_counted = false;
    c.response_bytes = 0;
    slots[slot].body.clear();
    c.reader.emplace(slots[slot].body);
    if (c.fd < 0) {
      if (epoll < 0) return Fail(c, code::kUnavailable, "epoll_create1 failed", now);
      const int error =
          ConnectNonBlocking(endpoint.address.storage, endpoint.address.length, c.fd, c.connecting);
      if (error != 0) {
        return Fail(c, code::kUnavailable,
                    absl::StrCat("cannot connect to ", endpoint.host, ": ", std::strerror(error)),
                    now);
      }
      c.watching_writable = c.connecting;
      Watch(c, EPOLLIN | EPOLLRDHUP | (c.connecting ? uint32_t{EPOLLOUT} : 0u), /*add=*/true);
      if (endpoint.tls != nullptr) {
        c.ssl = SSL_new(endpoint.tls->native());
        if (c.ssl == nullptr || SSL_set_fd(c.ssl, c.fd) != 1) {
          return Fail(c, code::kUnavailable, "TLS: cannot start a session", now);
        }
        endpoint.tls->Prepare(c.ssl);
        c.handshaking = true;
        c.tls_read_counted = c.tls_written_counted = 0;
      }
      if (c.connecting) return;
      if (c.handshaking) return Handshake(c, now);
    }
    Write(c, now);
  }

  void Write(Connection& c, int64_t now) {
    const std::string& request = slots[c.slot].request;
    c.write_wants_read = false;
    while (c.written < request.size()) {
      const char* from = request.data() + c.written;
      const size_t size = request.size() - c.written;
      if (c.ssl != nullptr) {
        TlsClientContext::ClearErrors();
        const int ret = SSL_write(c.ssl, from, static_cast<int>(std::min<size_t>(size, 1 << 30)));
        if (ret > 0) {
          c.written += static_cast<size_t>(ret);
          continue;
        }
        const int error = SSL_get_error(c.ssl, ret);
        if (error == SSL_ERROR_WANT_WRITE || error == SSL_ERROR_WANT_READ) {
          c.write_wants_read = error == SSL_ERROR_WANT_READ;
          return WatchWritable(c, error == SSL_ERROR_WANT_WRITE);
        }
        return Lost(c,
                    absl::StrCat("writing to ", endpoint.host, ": ",
                                 TlsClientContext::ErrorText(c.ssl, ret)),
                    now);
      }
      const ssize_t n = send(c.fd, from, size, MSG_NOSIGNAL);
      if (n < 0) {
        if (errno == EAGAIN) return WatchWritable(c, true);
        if (errno == EINTR) continue;
        return Lost(c, absl::StrCat("writing to ", endpoint.host, ": ", std::strerror(errno)), now);
      }
      c.written += static_cast<size_t>(n);
    }
    WatchWritable(c, false);
    if (!c.request_counted) {
      c.request_counted = true;
      WireTotals& count = counts[slots[c.slot].operation];
      ++count.requests;
      count.request_bytes +=
          c.ssl != nullptr
              ? SinceCounted(BIO_number_written(SSL_get_wbio(c.ssl)), c.tls_written_counted)
              : static_cast<int64_t>(request.size());
      count.request_payload_bytes += static_cast<int64_t>(slots[c.slot].body_bytes);
    }
  }

  // Reads what `c` has, and completes its response when it is whole.
  void Read(Connection& c, int64_t now) {
    char buffer[kReadChunk];
    bool eof = false;
    while (c.ssl != nullptr) {
      // Every record OpenSSL holds is taken: epoll knows only the socket's bytes.
      TlsClientContext::ClearErrors();
      const int ret = SSL_read(c.ssl, buffer, sizeof buffer);
      if (ret > 0) {
        c.in.append(buffer, static_cast<size_t>(ret));
        continue;
      }
      const int error = SSL_get_error(c.ssl, ret);
      c.read_wants_write = error == SSL_ERROR_WANT_WRITE;
      if (c.read_wants_write) WatchWritable(c, true);
      if (error == SSL_ERROR_WANT_READ || error == SSL_ERROR_WANT_WRITE) break;
      if (error == SSL_ERROR_ZERO_RETURN) {
        eof = true;
        break;
      }
      if (c.slot >= 0) {
        return Lost(c,
                    absl::StrCat("reading from ", endpoint.host, ": ",
                                 TlsClientContext::ErrorText(c.ssl, ret)),
                    now);
      }
      return Close(c);
    }
    // A read that had to write is done with writability, unless the request still needs it.
    if (c.ssl != nullptr && !c.read_wants_write && c.watching_writable &&
        (c.slot < 0 || c.written == slots[c.slot].request.size())) {
      WatchWritable(c, false);
    }
    while (c.ssl == nullptr) {
      const ssize_t n = recv(c.fd, buffer, sizeof buffer, 0);
      if (n > 0) {
        c.in.append(buffer, static_cast<size_t>(n));
        if (static_cast<size_t>(n) < sizeof buffer) break;
        continue;
      }
      if (n == 0) {
        eof = true;
        break;
      }
      if (errno == EINTR) continue;
      if (errno == EAGAIN) break;
      if (c.slot >= 0) {
        return Lost(c, absl::StrCat("reading from ", endpoint.host, ": ", std::strerror(errno)),
                    now);
      }
      return Close(c);
    }
    if (c.slot < 0) {
      // Nothing asked: a server closing an idle connection (or talking out of turn).
      if (eof || !c.in.empty()) Close(c);
      return;
    }
    Parse(c, eof, now);
  }

  void Parse(Connection& c, bool eof, int64_t now) {
    if (eof && c.in.empty() && !c.reader->got_some()) {
      return Lost(c, absl::StrCat(endpoint.host, " closed the connection before its response"),
                  now);
    }
    boost::beast::error_code ec;
    size_t used = 0;
    while (true) {
      ResponseReader& reader = *c.reader;
      while (used < c.in.size() && !reader.is_done()) {
        const size_t n =
            reader.put(boost::asio::const_buffer(c.in.data() + used, c.in.size() - used), ec);
        used += n;
        if (ec == bhttp::error::need_more) {
          ec = {};
          break;
        }
        if (ec) break;
      }
      // An interim answer (100 Continue, 103 Early Hints) comes before the response.
      if (ec || !reader.is_done() || reader.status() >= 200) break;
      c.reader.emplace(slots[c.slot].body);
    }
    ResponseReader& reader = *c.reader;
    c.in.erase(0, used);
    c.response_bytes += used;
    if (!ec && !reader.is_done() && eof) {
      reader.put_eof(ec);
      if (!ec && !reader.is_done()) ec = bhttp::error::partial_message;
    }
    if (ec) {
      return Fail(
          c, code::kUnavailable,
          absl::StrCat("the response from ", endpoint.host, " is not HTTP/1.1: ", ec.message()),
          now);
    }
    if (!reader.is_done()) {
      if (eof) {
        return Fail(c, code::kUnavailable,
                    absl::StrCat(endpoint.host, " closed the connection before its response"), now);
      }
      return;
    }
    const auto slot = static_cast<uint32_t>(c.slot);
    const int status = reader.status();
    WireTotals& count = counts[slots[slot].operation];
    ++count.responses;
    count.response_bytes +=
        c.ssl != nullptr ? SinceCounted(BIO_number_read(SSL_get_rbio(c.ssl)), c.tls_read_counted)
                         : static_cast<int64_t>(c.response_bytes);
    count.response_payload_bytes += reader.body_bytes();
    ++count.by_status[status];
    const int code = GrpcCodeForHttpStatus(status);
    Slot& s = slots[slot];
    s.message.clear();
    if (code != code::kOk) {
      const bhttp::status known = bhttp::int_to_status(static_cast<unsigned>(status));
      absl::StrAppend(
          &s.message, "HTTP ", status, " ",
          known == bhttp::status::unknown ? "" : std::string(bhttp::obsolete_reason(known)));
      if (!s.body.empty()) absl::StrAppend(&s.message, ": ", s.body);
    }
    // Not kept: a connection the server closes, one whose request was still
    // being written (an early answer), and one with bytes past the response.
    const bool keep_alive =
        reader.keep_alive() && !eof && c.in.empty() && c.written == slots[slot].request.size();
    c.slot = -1;
    c.reader.reset();
    ++c.served;
    if (!keep_alive) Close(c);
    Finish(slot, code, now);
  }

  // Fails requests past their deadline, waiting or sent.
  void ExpireDeadlines(int64_t now) {
    for (Connection& c : connections) {
      if (c.slot < 0) continue;
      const Slot& s = slots[c.slot];
      if (s.deadline > 0 && now >= s.deadline) {
        Fail(c, code::kDeadlineExceeded,
             absl::StrCat("deadline of ", FormatDuration(methods[s.operation].deadline_nanos),
                          " exceeded"),
             now);
      }
    }
    for (size_t n = waiting.size; n > 0; --n) {
      const uint32_t slot = waiting.Pop();
      Slot& s = slots[slot];
      if (s.deadline > 0 && now >= s.deadline) {
        s.message =
            absl::StrCat("deadline of ", FormatDuration(methods[s.operation].deadline_nanos),
                         " exceeded waiting for a connection");
        Finish(slot, code::kDeadlineExceeded, now);
      } else {
        waiting.Push(slot);
      }
    }
  }

  // Hands waiting requests to idle connections.
  void Dispatch(int64_t now) {
    for (Connection& c : connections) {
      if (waiting.empty()) return;
      if (c.slot < 0) Assign(c, waiting.Pop(), now);
    }
  }

  // The earliest deadline of any request, 0: none.
  int64_t NextDeadline() const {
    int64_t next = 0;
    const auto consider = [&](int64_t deadline) {
      if (deadline > 0 && (next == 0 || deadline < next)) next = deadline;
    };
    for (const Connection& c : connections) {
      if (c.slot >= 0) consider(slots[c.slot].deadline);
    }
    for (size_t i = 0; i < waiting.size; ++i) {
      consider(slots[waiting.items[(waiting.head + i) % waiting.items.size()]].deadline);
    }
    return next;
  }

  // Waits until `until` (steady nanos) at most for socket events, and handles them.
  void Poll(int64_t until) {
    int64_t now = Now();
    if (const int64_t deadline = NextDeadline(); deadline > 0) until = std::min(until, deadline);
    const int n = WaitForEvents(epoll, events, until - now, precise_wait);
    now = Now();
    for (int i = 0; i < n; ++i) {
      Connection& c = connections[events[i].data.u64];
      if (c.fd < 0) continue;
      const uint32_t what = events[i].events;
      if (c.connecting && (what & (EPOLLOUT | EPOLLERR | EPOLLHUP))) {
        int error = 0;
        socklen_t length = sizeof error;
        getsockopt(c.fd, SOL_SOCKET, SO_ERROR, &error, &length);
        if (error != 0) {
          Fail(c, code::kUnavailable,
               absl::StrCat("cannot connect to ", endpoint.host, ": ", std::strerror(error)), now);
          continue;
        }
        c.connecting = false;
      }
      if (c.handshaking) {
        Handshake(c, now);
        continue;
      }
      // Read first: an early answer (a 413 before the body is all sent) is
      // taken before a write fails on the connection it closes.
      if ((what & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) ||
          (c.read_wants_write && (what & EPOLLOUT))) {
        Read(c, now);
      }
      const bool writable = (what & EPOLLOUT) || (c.write_wants_read && (what & EPOLLIN));
      if (c.fd >= 0 && c.slot >= 0 && !c.connecting && writable) Write(c, now);
    }
    ExpireDeadlines(now);
    Dispatch(now);
  }

  bool Take(Completion* completion) {
    if (done.empty()) return false;
    const Done d = done.Pop();
    completion->slot = d.slot;
    completion->status_code = d.code;
    completion->response = {};
    completion->status_message = slots[d.slot].message;
    completion->completed_nanos = d.at;
    return true;
  }

  HttpEndpoint endpoint;
  std::vector<UnaryMethod> methods;
  std::vector<Connection> connections;
  std::vector<Slot> slots;
  SlotRing<uint32_t> waiting;
  SlotRing<Done> done;
  std::vector<WireTotals> counts;
  int epoll = -1;
  bool precise_wait = true;  // epoll_pwait2 (nanoseconds) works here
  std::vector<epoll_event> events;
};

HttpTransport::HttpTransport(HttpEndpoint endpoint, int connections,
                             std::vector<UnaryMethod> methods, uint32_t slots)
    : impl_(std::make_unique<Impl>(std::move(endpoint), connections, std::move(methods), slots)) {}

HttpTransport::~HttpTransport() = default;

void HttpTransport::Start(uint32_t slot, uint32_t operation, std::string_view request,
                          std::span<const Header> headers) {
  Impl& m = *impl_;
  Impl::Slot& s = m.slots[slot];
  s.operation = operation;
  s.message.clear();
  s.retried = false;
  std::string_view method = "GET", path = "/";
  for (const Header& h : headers) {
    if (h.key == ":method") method = h.value;
    if (h.key == ":path") path = h.value;
  }
  const int64_t now = Now();
  // A path rendered from data may hold what a request line cannot.
  if (!std::all_of(path.begin(), path.end(), [](char c) { return c > 0x20 && c < 0x7f; })) {
    s.message = "the path renders with a space or a byte that is not printable ASCII";
    m.Finish(slot, code::kInvalidArgument, now);
    return;
  }
  std::string& out = s.request;
  out.clear();
  ((((out += method) += ' ') += path) += " HTTP/1.1\r\nHost: ") += m.endpoint.host_header();
  out += "\r\n";
  bool content_type = false;
  for (const Header& h : headers) {
    if (h.key.empty() || h.key[0] == ':') continue;
    content_type = content_type || h.key == "content-type";
    (((out += h.key) += ": ") += h.value) += "\r\n";
  }
  if (!request.empty() || method != "GET") {
    if (!content_type && !request.empty()) out += "Content-Type: application/json\r\n";
    absl::StrAppend(&out, "Content-Length: ", request.size(), "\r\n");
  }
  out += "\r\n";
  out.append(request.data(), request.size());
  s.body_bytes = request.size();
  const int64_t deadline = m.methods[operation].deadline_nanos;
  s.deadline = deadline > 0 ? now + deadline : 0;
  m.waiting.Push(slot);
  m.Dispatch(now);
}

bool HttpTransport::Next(int64_t timeout_nanos, Completion* completion) {
  Impl& m = *impl_;
  if (m.Take(completion)) return true;
  const int64_t until = Now() + std::max<int64_t>(timeout_nanos, 0);
  while (true) {
    m.Poll(until);
    if (m.Take(completion)) return true;
    if (Now() >= until) return false;
  }
}

void HttpTransport::SleepThrough(int64_t nanos) {
  Impl& m = *impl_;
  const int64_t until = Now() + nanos;
  do {
    m.Poll(until);
  } while (Now() < until);
}

void HttpTransport::CancelAll() {
  Impl& m = *impl_;
  const int64_t now = Now();
  for (Impl::Connection& c : m.connections) {
    if (c.slot >= 0) m.Fail(c, code::kCancelled, "cancelled at the run's end", now);
  }
  while (!m.waiting.empty()) {
    const uint32_t slot = m.waiting.Pop();
    m.slots[slot].message = "cancelled at the run's end, waiting for a connection";
    m.Finish(slot, code::kCancelled, now);
  }
}

std::vector<WireTotals> HttpTransport::CountsByOperation() const { return impl_->counts; }

}  // namespace aurigraph::loadgen
