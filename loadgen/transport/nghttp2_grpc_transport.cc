#include "loadgen/transport/nghttp2_grpc_transport.h"

#include <nghttp2/nghttp2.h>
#include <sys/epoll.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <random>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "common/clock/clock.h"
#include "common/status_codes/status_codes.h"
#include "common/units/units.h"
#include "loadgen/transport/nonblocking_socket.h"
#include "loadgen/transport/slot_ring.h"

namespace aurigraph::loadgen {
namespace {

namespace code = aurigraph::status_code;

constexpr size_t kReadChunk = 64 << 10;
constexpr size_t kMessagePrefix = 5;  // compressed flag, 4-byte big-endian length
// Windows as h2load's defaults (2^30 - 1): flow control never holds a response back.
constexpr int32_t kWindow = (1 << 30) - 1;
// How long a call started waits at most for the write that carries it, while
// the driver starts the calls due with it.
constexpr int64_t kMaxWriteDelayNanos = 20'000;

int64_t Now() { return SteadyClock::Instance().NowNanos(); }

// grpc-timeout: at most 8 digits and a unit, rounded up so the server's
// deadline is never the earlier one.
std::string GrpcTimeout(int64_t nanos) {
  constexpr int64_t kMaxDigits = 99'999'999;
  for (const auto& [unit, per] :
       {std::pair{'u', int64_t{1'000}}, std::pair{'m', int64_t{1'000'000}},
        std::pair{'S', int64_t{1'000'000'000}}}) {
    const int64_t count = (nanos + per - 1) / per;
    if (count <= kMaxDigits) return absl::StrCat(count, std::string(1, unit));
  }
  return absl::StrCat(kMaxDigits, "S");
}

// grpc-message is percent-encoded (the gRPC over HTTP/2 protocol): decoded into `out`.
void PercentDecode(std::string_view text, std::string& out) {
  out.clear();
  for (size_t i = 0; i < text.size(); ++i) {
    unsigned value = 0;
    if (text[i] == '%' && i + 2 < text.size() &&
        std::from_chars(text.data() + i + 1, text.data() + i + 3, value, 16).ptr ==
            text.data() + i + 3) {
      out += static_cast<char>(value);
      i += 2;
    } else {
      out += text[i];
    }
  }
}

// The status a call gets for an HTTP status without grpc-status, as the
// protocol maps them (doc/http-grpc-status-mapping.md of gRPC).
int CodeForHttpStatus(int status) {
  switch (status) {
    case 400:
      return code::kInternal;
    case 401:
      return code::kUnauthenticated;
    case 403:
      return code::kPermissionDenied;
    case 404:
      return code::kUnimplemented;
    case 429:
    case 502:
    case 503:
    case 504:
      return code::kUnavailable;
    default:
      return code::kUnknown;
  }
}

// The status a call gets for a stream reset before its trailers.
int CodeForReset(uint32_t error_code) {
  switch (error_code) {
    case NGHTTP2_REFUSED_STREAM:
      return code::kUnavailable;
    case NGHTTP2_CANCEL:
      return code::kCancelled;
    case NGHTTP2_ENHANCE_YOUR_CALM:
      return code::kResourceExhausted;
    case NGHTTP2_INADEQUATE_SECURITY:
      return code::kPermissionDenied;
    default:
      return code::kInternal;
  }
}

}  // namespace

struct Nghttp2GrpcTransport::Impl {
  struct Connection {
    Impl* impl = nullptr;
    int fd = -1;
    nghttp2_session* session = nullptr;
    bool connecting = false;
    bool watching_writable = false;
    bool retired = false;          // takes no more calls: closes once its calls end
    bool dirty = false;            // has frames to write (in `dirty`)
    int64_t connect_deadline = 0;  // while connecting
    bool ready = false;            // the server's SETTINGS came: it speaks HTTP/2
    // Attempts at this place that failed in a row, and when the next may be made.
    int failures = 0;
    int64_t retry_at = 0;
    std::string failure;  // the last one's reason: what calls fail with until retry_at
    int open = 0;         // calls in flight on it
    int64_t read_at = 0;  // when it was last read: what it reads next came later
    std::string out;      // serialized, not yet written
    size_t out_from = 0;
  };
  struct Slot {
    uint32_t operation = 0;
    Connection* connection = nullptr;  // while in flight
    int32_t stream = 0;                // its stream on `connection`; 0: not in flight there
    bool retried = false;
    int64_t deadline = 0;          // steady nanos; 0: none
    int64_t prev = -1, next = -1;  // in its operation's Order
    bool linked = false;
    std::string request;      // prefix and message
    size_t request_sent = 0;  // by nghttp2's reads
    std::string header_text;  // names and values the headers point into
    std::vector<std::pair<uint32_t, uint32_t>> header_lengths;
    std::vector<nghttp2_nv> headers;
    // The response.
    int http_status = 0;
    bool grpc_content_type = false;
    int grpc_status = -1;  // -1: none; kNotANumber
    std::string grpc_message;
    uint8_t prefix[kMessagePrefix] = {};
    size_t prefix_have = 0;
    uint64_t message_left = 0;
    int messages = 0;
    int64_t message_bytes = 0;
    bool compressed = false;
    std::string response;  // the message, when the method keeps it
    std::string message;   // the completion's status message
  };
  // The calls in flight for an operation with a deadline, oldest first: the
  // first is the next to expire.
  struct Order {
    int64_t head = -1, tail = -1;
  };
  struct Done {
    uint32_t slot;
    int code;
    int64_t at;
  };

  Impl(Nghttp2Endpoint endpoint, const Nghttp2Connections& connections,
       std::vector<UnaryMethod> methods, uint32_t slots)
      : endpoint(std::move(endpoint)),
        methods(std::move(methods)),
        max_message_bytes(connections.max_message_bytes),
        slots(slots),
        done(slots),
        resend(slots),
        orders(this->methods.size()),
        counts(this->methods.size()),
        connect_timeout_nanos(connections.connect_timeout_nanos),
        reconnect(connections.reconnect),
        random(connections.seed) {
    for (const UnaryMethod& method : this->methods) {
      timeouts.push_back(method.deadline_nanos > 0 ? GrpcTimeout(method.deadline_nanos) : "");
    }
    epoll = epoll_create1(EPOLL_CLOEXEC);
    const auto count = static_cast<size_t>(std::max(connections.count, 1));
    events.resize(count * 2 + 8);
    nghttp2_session_callbacks_new(&callbacks);
    nghttp2_session_callbacks_set_on_header_callback(callbacks, OnHeader);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(callbacks, OnData);
    nghttp2_session_callbacks_set_on_frame_recv_callback(callbacks, OnFrame);
    nghttp2_session_callbacks_set_on_stream_close_callback(callbacks, OnStreamClose);
    for (size_t i = 0; i < count; ++i) {
      places.push_back(std::make_unique<Connection>());
      places.back()->impl = this;
    }
    // Connected before the first call, as gRPC's channels are; one that
    // cannot be opened now is tried again after its backoff.
    for (auto& c : places) Reopen(*c, Now()).IgnoreError();
  }
  ~Impl() {
    for (auto& c : places) Close(*c);
    for (auto& c : retired) Close(*c);
    nghttp2_session_callbacks_del(callbacks);
    if (epoll >= 0) close(epoll);
  }

  // The slot a callback's stream is, when it is still that slot's call.
  static Slot* SlotOf(Connection& c, int32_t stream) {
    const auto tag =
        reinterpret_cast<uintptr_t>(nghttp2_session_get_stream_user_data(c.session, stream));
    if (tag == 0) return nullptr;
    Slot& s = c.impl->slots[tag - 1];
    return s.connection == &c && s.stream == stream ? &s : nullptr;
  }

  static constexpr int kNotANumber = -2;

  static int OnHeader(nghttp2_session*, const nghttp2_frame* frame, const uint8_t* name,
                      size_t name_length, const uint8_t* value, size_t value_length, uint8_t,
                      void* user_data) {
    if (frame->hd.type != NGHTTP2_HEADERS) return 0;
    Slot* s = SlotOf(*static_cast<Connection*>(user_data), frame->hd.stream_id);
    if (s == nullptr) return 0;
    const std::string_view key(reinterpret_cast<const char*>(name), name_length);
    const std::string_view text(reinterpret_cast<const char*>(value), value_length);
    const auto number = [&](int& out) {
      unsigned parsed = 0;
      const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), parsed);
      const bool whole = error == std::errc() && end == text.data() + text.size();
      out = whole && parsed <= 999 ? static_cast<int>(parsed) : kNotANumber;
    };
    if (key == ":status") {
      number(s->http_status);
    } else if (key == "content-type") {
      s->grpc_content_type = text.starts_with("application/grpc");
    } else if (key == "grpc-status") {
      number(s->grpc_status);
    } else if (key == "grpc-message") {
      s->grpc_message.assign(text);
    }
    return 0;
  }

  static int OnData(nghttp2_session*, uint8_t, int32_t stream, const uint8_t* data, size_t length,
                    void* user_data) {
    Connection& c = *static_cast<Connection*>(user_data);
    Slot* s = SlotOf(c, stream);
    if (s == nullptr) return 0;
    Impl& m = *c.impl;
    const bool keep = m.methods[s->operation].keep_response;
    while (length > 0) {
      if (s->prefix_have < kMessagePrefix) {
        const size_t take = std::min(length, kMessagePrefix - s->prefix_have);
        std::memcpy(s->prefix + s->prefix_have, data, take);
        s->prefix_have += take;
        data += take;
        length -= take;
        if (s->prefix_have < kMessagePrefix) break;
        s->compressed = (s->prefix[0] & 1) != 0;
        s->message_left = (uint64_t{s->prefix[1]} << 24) | (uint64_t{s->prefix[2]} << 16) |
                          (uint64_t{s->prefix[3]} << 8) | s->prefix[4];
        ++s->messages;
        if (static_cast<int64_t>(s->message_left) > m.max_message_bytes) {
          m.Cancel(*s, code::kResourceExhausted,
                   absl::StrCat("received message larger than max (", s->message_left, " vs. ",
                                m.max_message_bytes, ")"),
                   m.now);
          return 0;
        }
        if (keep) s->response.clear();
      } else {
        const size_t take = static_cast<size_t>(std::min<uint64_t>(length, s->message_left));
        if (keep) s->response.append(reinterpret_cast<const char*>(data), take);
        s->message_bytes += static_cast<int64_t>(take);
        s->message_left -= take;
        data += take;
        length -= take;
      }
      if (s->prefix_have == kMessagePrefix && s->message_left == 0) s->prefix_have = 0;
    }
    return 0;
  }

  // The server ended the stream (END_STREAM): the call is over, judged as
  // gRPC's library judges it, even while its request is still being sent
  // (the rest is not: the stream is reset).
  static int OnFrame(nghttp2_session* session, const nghttp2_frame* frame, void* user_data) {
    const uint8_t type = frame->hd.type;
    if (type == NGHTTP2_SETTINGS && (frame->hd.flags & NGHTTP2_FLAG_ACK) == 0) {
      Connection& c = *static_cast<Connection*>(user_data);
      c.ready = true;
      c.failures = 0;
      return 0;
    }
    if ((type != NGHTTP2_HEADERS && type != NGHTTP2_DATA) ||
        (frame->hd.flags & NGHTTP2_FLAG_END_STREAM) == 0) {
      return 0;
    }
    Connection& c = *static_cast<Connection*>(user_data);
    Slot* s = SlotOf(c, frame->hd.stream_id);
    if (s == nullptr) return 0;
    Impl& m = *c.impl;
    if (nghttp2_session_get_stream_local_close(session, frame->hd.stream_id) == 0) {
      nghttp2_submit_rst_stream(session, NGHTTP2_FLAG_NONE, frame->hd.stream_id, NGHTTP2_NO_ERROR);
      m.MarkDirty(c);
    }
    m.Detach(*s);
    int status = code::kInternal;
    std::string& message = s->message;
    if (s->grpc_status >= 0) {
      status = s->grpc_status < kStatusCodeCount ? s->grpc_status : code::kUnknown;
      PercentDecode(s->grpc_message, message);
      if (status == code::kOk) {
        if (s->compressed) {
          status = code::kInternal;
          message = "a compressed response, but no compression was offered";
        } else if (s->messages != 1 || s->prefix_have != 0) {
          status = code::kInternal;
          message = s->messages == 0  ? "no message returned for unary request"
                    : s->messages > 1 ? "more than one message returned for unary request"
                                      : "the response message was cut short";
        }
      }
    } else if (s->grpc_status == kNotANumber) {
      message = "grpc-status is not a status code";
    } else if (s->http_status != 200) {
      status = CodeForHttpStatus(s->http_status);
      message = absl::StrCat("HTTP ", s->http_status, " without grpc-status");
    } else if (!s->grpc_content_type) {
      status = code::kUnknown;
      message = "the response's content-type is not application/grpc";
    } else {
      message = "the response ended without grpc-status";
    }
    if (status == code::kOk) {
      WireTotals& count = m.counts[s->operation];
      ++count.responses;
      count.response_payload_bytes += s->message_bytes;
    }
    m.Finish(static_cast<uint32_t>(s - m.slots.data()), status, m.now);
    return 0;
  }

  // The stream closed before the server ended it: reset (by either side) or
  // refused unprocessed by a server going away, which is sent again once.
  static int OnStreamClose(nghttp2_session*, int32_t stream, uint32_t error_code, void* user_data) {
    Connection& c = *static_cast<Connection*>(user_data);
    Slot* s = SlotOf(c, stream);
    if (s == nullptr) return 0;
    Impl& m = *c.impl;
    const auto slot = static_cast<uint32_t>(s - m.slots.data());
    m.Detach(*s);
    if (error_code == NGHTTP2_REFUSED_STREAM && !s->retried) {
      s->retried = true;
      m.resend.Push(slot);
      return 0;
    }
    s->message =
        absl::StrCat("stream reset by ", m.endpoint.name, ": ", nghttp2_http2_strerror(error_code));
    m.Finish(slot, CodeForReset(error_code), m.now);
    return 0;
  }

  static ssize_t ReadRequest(nghttp2_session*, int32_t stream, uint8_t* buffer, size_t length,
                             uint32_t* flags, nghttp2_data_source* source, void*) {
    Slot& s = *static_cast<Slot*>(source->ptr);
    // A call ended early (a deadline) whose slot took another call since.
    if (s.stream != stream) return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
    const size_t take = std::min(length, s.request.size() - s.request_sent);
    std::memcpy(buffer, s.request.data() + s.request_sent, take);
    s.request_sent += take;
    if (s.request_sent == s.request.size()) *flags |= NGHTTP2_DATA_FLAG_EOF;
    return static_cast<ssize_t>(take);
  }

  // The slot's call is no longer on its stream.
  void Detach(Slot& s) {
    --s.connection->open;
    s.connection = nullptr;
    s.stream = 0;
  }

  void Link(uint32_t slot) {
    Slot& s = slots[slot];
    Order& order = orders[s.operation];
    s.linked = true;
    s.prev = order.tail;
    s.next = -1;
    (order.tail >= 0 ? slots[order.tail].next : order.head) = slot;
    order.tail = slot;
  }
  void Unlink(uint32_t slot) {
    Slot& s = slots[slot];
    if (!s.linked) return;
    s.linked = false;
    Order& order = orders[s.operation];
    (s.prev >= 0 ? slots[s.prev].next : order.head) = s.next;
    (s.next >= 0 ? slots[s.next].prev : order.tail) = s.prev;
    s.prev = s.next = -1;
  }

  void Finish(uint32_t slot, int status, int64_t at) {
    Unlink(slot);
    done.Push(Done{slot, status, at});
  }

  void MarkDirty(Connection& c) {
    if (!c.dirty) dirty.push_back(&c);
    c.dirty = true;
  }

  // Ends `s`'s call now with `status`, resetting its stream.
  void Cancel(Slot& s, int status, std::string message, int64_t at) {
    if (Connection* c = s.connection; c != nullptr) {
      nghttp2_submit_rst_stream(c->session, NGHTTP2_FLAG_NONE, s.stream, NGHTTP2_CANCEL);
      Detach(s);
      MarkDirty(*c);
    }
    s.message = std::move(message);
    Finish(static_cast<uint32_t>(&s - slots.data()), status, at);
  }

  void Close(Connection& c) {
    if (c.session != nullptr) nghttp2_session_del(c.session);
    c.session = nullptr;
    if (c.fd >= 0) close(c.fd);
    c.fd = -1;
    c.connecting = c.watching_writable = c.ready = false;
    c.open = 0;
    c.out.clear();
    c.out_from = 0;
  }

  // An attempt at `c`'s place failed: the next waits out a backoff.
  void Failed(Connection& c, std::string why, int64_t at) {
    ++c.failures;
    c.retry_at = at + reconnect.After(c.failures, 0.2, random);
    c.failure = std::move(why);
  }

  // The connection cannot go on: its calls end UNAVAILABLE with `why`. One
  // that never became ready was a failed attempt.
  void Broken(Connection& c, const std::string& why, int64_t at) {
    if (!c.ready && !c.retired) Failed(c, why, at);
    for (Slot& s : slots) {
      if (s.connection != &c) continue;
      s.connection = nullptr;
      s.stream = 0;
      s.message = why;
      Finish(static_cast<uint32_t>(&s - slots.data()), code::kUnavailable, at);
    }
    Close(c);
  }

  void Watch(Connection& c, bool writable, int op) {
    epoll_event ev{};
    ev.events = EPOLLIN | EPOLLRDHUP | (writable ? uint32_t{EPOLLOUT} : 0u);
    ev.data.ptr = &c;
    epoll_ctl(epoll, op, c.fd, &ev);
    c.watching_writable = writable;
  }

  // Opens connection `c`: the socket, and the session with its settings.
  absl::Status Open(Connection& c) {
    if (epoll < 0) return absl::UnavailableError("epoll_create1 failed");
    const int error = ConnectNonBlocking(endpoint.address, endpoint.length, c.fd, c.connecting);
    if (error != 0) {
      return absl::UnavailableError(
          absl::StrCat("cannot connect to ", endpoint.name, ": ", std::strerror(error)));
    }
    StampArrivals(c.fd);
    c.read_at = 0;
    nghttp2_session_client_new(&c.session, callbacks, &c);
    const nghttp2_settings_entry settings[] = {{NGHTTP2_SETTINGS_ENABLE_PUSH, 0},
                                               {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, kWindow}};
    nghttp2_submit_settings(c.session, NGHTTP2_FLAG_NONE, settings, std::size(settings));
    nghttp2_session_set_local_window_size(c.session, NGHTTP2_FLAG_NONE, 0, kWindow);
    Watch(c, c.connecting, EPOLL_CTL_ADD);
    c.connect_deadline = c.connecting ? Now() + connect_timeout_nanos : 0;
    MarkDirty(c);  // the preface and settings
    return absl::OkStatus();
  }

  // Opens `c` again, unless its backoff still runs.
  absl::Status Reopen(Connection& c, int64_t at) {
    if (at < c.retry_at) return absl::UnavailableError(c.failure);
    absl::Status opened = Open(c);
    if (!opened.ok()) {
      Close(c);
      Failed(c, std::string(opened.message()), at);
    }
    return opened;
  }

  // Writes what the session has to send, as far as the socket takes it.
  void Flush(Connection& c, int64_t at) {
    if (c.fd < 0 || c.connecting) return;
    const uint8_t* data = nullptr;
    ssize_t n = 0;
    while ((n = nghttp2_session_mem_send(c.session, &data)) > 0) {
      c.out.append(reinterpret_cast<const char*>(data), static_cast<size_t>(n));
    }
    if (n < 0)
      return Broken(
          c, absl::StrCat("HTTP/2 to ", endpoint.name, ": ", nghttp2_strerror(static_cast<int>(n))),
          at);
    while (c.out_from < c.out.size()) {
      const ssize_t sent =
          send(c.fd, c.out.data() + c.out_from, c.out.size() - c.out_from, MSG_NOSIGNAL);
      if (sent < 0) {
        if (errno == EINTR) continue;
        if (errno == EAGAIN) {
          if (!c.watching_writable) Watch(c, true, EPOLL_CTL_MOD);
          return;
        }
        return Broken(c, absl::StrCat("writing to ", endpoint.name, ": ", std::strerror(errno)),
                      at);
      }
      c.out_from += static_cast<size_t>(sent);
    }
    c.out.clear();
    c.out_from = 0;
    if (c.watching_writable) Watch(c, false, EPOLL_CTL_MOD);
  }

  // Reads what `c` received. The calls it ends end when the kernel received
  // the last bytes read with them (a read that takes two responses stamps
  // both at the later one's arrival), not when the worker got to read them:
  // its wake-up's lateness, or a burst of sends before, is not the target's.
  void Read(Connection& c, int64_t at) {
    uint8_t buffer[kReadChunk];
    const int64_t read_from = Now();
    const int64_t unix_minus_steady = UnixNanosNow() - read_from;
    while (c.fd >= 0) {
      int64_t arrived = 0;
      const ssize_t n = ReceiveStamped(c.fd, buffer, sizeof buffer, arrived);
      if (n > 0) {
        now = SteadyArrival(arrived, unix_minus_steady, c.read_at, Now());
        const ssize_t used = nghttp2_session_mem_recv(c.session, buffer, static_cast<size_t>(n));
        now = at;
        if (used < 0) {
          return Broken(c,
                        absl::StrCat("the answer from ", endpoint.name,
                                     " is not HTTP/2: ", nghttp2_strerror(static_cast<int>(used))),
                        at);
        }
        if (static_cast<size_t>(n) < sizeof buffer) break;
        continue;
      }
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && errno == EAGAIN) break;
      return Broken(c,
                    n == 0
                        ? absl::StrCat(endpoint.name, " closed the connection")
                        : absl::StrCat("reading from ", endpoint.name, ": ", std::strerror(errno)),
                    at);
    }
    c.read_at = read_from;
    Flush(c, at);
    // Both ends said GOAWAY and every stream is done: the session is over.
    if (c.session != nullptr && !nghttp2_session_want_read(c.session) &&
        !nghttp2_session_want_write(c.session)) {
      Broken(c, absl::StrCat(endpoint.name, " ended the HTTP/2 session"), at);
    }
  }

  // The connection of place `place` for a new call: opened if it is closed
  // (and its backoff over), replaced if it takes no more streams.
  absl::StatusOr<Connection*> ConnectionFor(size_t place, int64_t at) {
    std::unique_ptr<Connection>& c = places[place];
    if (c->session != nullptr && !nghttp2_session_check_request_allowed(c->session)) {
      c->retired = true;
      auto fresh = std::make_unique<Connection>();
      fresh->impl = this;
      retired.push_back(std::move(c));
      c = std::move(fresh);
    }
    if (c->session == nullptr) {
      if (absl::Status opened = Reopen(*c, at); !opened.ok()) return opened;
    }
    return c.get();
  }

  // Sends slot `slot`'s call (again, for a refused one) on the next connection in turn.
  void Submit(uint32_t slot, int64_t at) {
    Slot& s = slots[slot];
    const size_t place = next_place;
    next_place = (next_place + 1) % places.size();
    auto c = ConnectionFor(place, at);
    if (!c.ok()) {
      s.message = std::string(c.status().message());
      return Finish(slot, code::kUnavailable, at);
    }
    Connection& connection = **c;
    s.request_sent = 0;
    s.http_status = 0;
    s.grpc_content_type = false;
    s.grpc_status = -1;
    s.grpc_message.clear();
    s.prefix_have = 0;
    s.message_left = 0;
    s.messages = 0;
    s.message_bytes = 0;
    s.compressed = false;
    nghttp2_data_provider body{};
    body.source.ptr = &s;
    body.read_callback = ReadRequest;
    const int32_t stream =
        nghttp2_submit_request(connection.session, nullptr, s.headers.data(), s.headers.size(),
                               &body, reinterpret_cast<void*>(uintptr_t{slot} + 1));
    if (stream < 0) {
      s.message = absl::StrCat("HTTP/2 to ", endpoint.name, ": ", nghttp2_strerror(stream));
      return Finish(slot, code::kInternal, at);
    }
    s.connection = &connection;
    s.stream = stream;
    ++connection.open;
    MarkDirty(connection);
  }

  // Refused calls, sent again (with the grpc-timeout they first had: the
  // client's own deadline still ends them at their time).
  void Resend(int64_t at) {
    while (!resend.empty()) {
      const uint32_t slot = resend.Pop();
      Slot& s = slots[slot];
      if (s.deadline > 0 && s.deadline <= at) {
        s.message = absl::StrCat("deadline of ",
                                 FormatDuration(methods[s.operation].deadline_nanos), " exceeded");
        Finish(slot, code::kDeadlineExceeded, at);
      } else {
        Submit(slot, at);
      }
    }
  }

  void ExpireDeadlines(int64_t at) {
    for (size_t op = 0; op < orders.size(); ++op) {
      while (orders[op].head >= 0 && slots[orders[op].head].deadline <= at) {
        Cancel(
            slots[orders[op].head], code::kDeadlineExceeded,
            absl::StrCat("deadline of ", FormatDuration(methods[op].deadline_nanos), " exceeded"),
            at);
      }
    }
  }

  // The earliest deadline of a call or a connection being opened; 0: none.
  int64_t NextDeadline() const {
    int64_t next = 0;
    const auto consider = [&next](int64_t deadline) {
      if (deadline > 0 && (next == 0 || deadline < next)) next = deadline;
    };
    for (const Order& order : orders) {
      if (order.head >= 0) consider(slots[order.head].deadline);
    }
    for (const auto* connections : {&places, &retired}) {
      for (const auto& c : *connections) {
        if (c->fd >= 0 && c->connecting) consider(c->connect_deadline);
      }
    }
    return next;
  }

  // Connections not opened in time fail their calls.
  void ExpireConnects(int64_t at) {
    for (const auto* connections : {&places, &retired}) {
      for (const auto& c : *connections) {
        if (c->fd >= 0 && c->connecting && c->connect_deadline <= at) {
          Broken(*c,
                 absl::StrCat("cannot connect to ", endpoint.name, " within ",
                              FormatDuration(connect_timeout_nanos)),
                 at);
        }
      }
    }
  }

  // Writes the calls and resets queued, and closes retired connections done with their calls.
  void Tidy(int64_t at) {
    unflushed_since = 0;
    // By index: a flush may mark another connection.
    for (size_t i = 0; i < dirty.size(); ++i) {
      dirty[i]->dirty = false;
      Flush(*dirty[i], at);
    }
    dirty.clear();
    for (size_t i = 0; i < retired.size();) {
      if (retired[i]->open > 0 && retired[i]->session != nullptr) {
        ++i;
        continue;
      }
      Broken(*retired[i], absl::StrCat(endpoint.name, " closed the connection"), at);
      retired.erase(retired.begin() + static_cast<std::ptrdiff_t>(i));
    }
  }

  // Waits until `until` (steady nanos) at most for socket events, and handles them.
  void Poll(int64_t until) {
    now = Now();
    if (const int64_t deadline = NextDeadline(); deadline > 0) until = std::min(until, deadline);
    if (!resend.empty()) until = now;  // refused during a write, outside the event loop
    const int n = WaitForEvents(epoll, events, until - now, precise_wait);
    now = Now();
    for (int i = 0; i < n; ++i) {
      Connection& c = *static_cast<Connection*>(events[i].data.ptr);
      if (c.fd < 0) continue;
      const uint32_t what = events[i].events;
      if (c.connecting && (what & (EPOLLOUT | EPOLLERR | EPOLLHUP))) {
        int error = 0;
        socklen_t length = sizeof error;
        getsockopt(c.fd, SOL_SOCKET, SO_ERROR, &error, &length);
        if (error != 0) {
          Broken(c, absl::StrCat("cannot connect to ", endpoint.name, ": ", std::strerror(error)),
                 now);
          continue;
        }
        c.connecting = false;
        Flush(c, now);
        continue;
      }
      if (what & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) Read(c, now);
      if (c.fd >= 0 && (what & EPOLLOUT)) Flush(c, now);
    }
    Resend(now);
    ExpireDeadlines(now);
    ExpireConnects(now);
    Tidy(now);
  }

  bool Take(Completion* completion) {
    if (done.empty()) return false;
    const Done d = done.Pop();
    Slot& s = slots[d.slot];
    completion->slot = d.slot;
    completion->status_code = d.code;
    completion->response = d.code == code::kOk && methods[s.operation].keep_response
                               ? std::string_view(s.response)
                               : std::string_view();
    completion->status_message = s.message;
    completion->completed_nanos = d.at;
    return true;
  }

  const Nghttp2Endpoint endpoint;
  std::vector<UnaryMethod> methods;
  std::vector<std::string> timeouts;  // each method's grpc-timeout
  const int64_t max_message_bytes;
  std::vector<std::unique_ptr<Connection>> places;   // the connections calls take in turn
  std::vector<std::unique_ptr<Connection>> retired;  // finishing their calls
  size_t next_place = 0;
  std::vector<Slot> slots;
  SlotRing<Done> done;
  SlotRing<uint32_t> resend;
  std::vector<Order> orders;
  std::vector<Connection*> dirty;  // reset streams to write
  std::vector<WireTotals> counts;
  nghttp2_session_callbacks* callbacks = nullptr;
  int epoll = -1;
  bool precise_wait = true;
  std::vector<epoll_event> events;
  int64_t now = 0;              // when the events being handled came
  int64_t unflushed_since = 0;  // the first call started since the last writes; 0: none
  const int64_t connect_timeout_nanos;
  const Backoff reconnect;
  std::mt19937_64 random;  // the backoff's jitter
  std::string scratch;
};

Nghttp2GrpcTransport::Nghttp2GrpcTransport(Nghttp2Endpoint endpoint, Nghttp2Connections connections,
                                           std::vector<UnaryMethod> methods, uint32_t slots)
    : impl_(std::make_unique<Impl>(std::move(endpoint), connections, std::move(methods), slots)) {}

Nghttp2GrpcTransport::~Nghttp2GrpcTransport() = default;

void Nghttp2GrpcTransport::Start(uint32_t slot, uint32_t operation, std::string_view request,
                                 std::span<const Header> headers) {
  Impl& m = *impl_;
  Impl::Slot& s = m.slots[slot];
  const UnaryMethod& method = m.methods[operation];
  s.operation = operation;
  s.retried = false;
  s.message.clear();
  s.request.clear();
  const auto size = static_cast<uint32_t>(request.size());
  s.request += '\0';
  for (int shift = 24; shift >= 0; shift -= 8) s.request += static_cast<char>(size >> shift);
  s.request.append(request.data(), request.size());
  // The headers, their text first: the entries point into it once it is whole.
  s.header_text.clear();
  s.header_lengths.clear();
  const auto add = [&s](std::string_view key, std::string_view value) {
    s.header_text.append(key).append(value);
    s.header_lengths.emplace_back(static_cast<uint32_t>(key.size()),
                                  static_cast<uint32_t>(value.size()));
  };
  add(":method", "POST");
  add(":scheme", "http");
  add(":path", method.path);
  add(":authority", m.endpoint.authority);
  add("te", "trailers");
  add("content-type", "application/grpc");
  add("user-agent", "aurigraph-loadgen (nghttp2)");
  if (method.deadline_nanos > 0) add("grpc-timeout", m.timeouts[operation]);
  for (const Header& h : headers) {
    if (h.key.empty() || h.key[0] == ':') continue;
    if (h.key.ends_with("-bin")) {
      // Binary values travel base64-encoded, as gRPC's library sends them.
      absl::Base64Escape(absl::string_view(h.value.data(), h.value.size()), &m.scratch);
      while (!m.scratch.empty() && m.scratch.back() == '=') m.scratch.pop_back();
      add(h.key, m.scratch);
    } else {
      add(h.key, h.value);
    }
  }
  s.headers.clear();
  auto* text = reinterpret_cast<uint8_t*>(s.header_text.data());
  for (const auto& [key, value] : s.header_lengths) {
    // The text outlives the HEADERS frame: the slot is not reused before its stream ends.
    s.headers.push_back({text, text + key, key, value,
                         NGHTTP2_NV_FLAG_NO_COPY_NAME | NGHTTP2_NV_FLAG_NO_COPY_VALUE});
    text += key + value;
  }
  WireTotals& count = m.counts[operation];
  ++count.requests;
  count.request_payload_bytes += static_cast<int64_t>(request.size());
  const int64_t now = Now();
  s.deadline = method.deadline_nanos > 0 ? now + method.deadline_nanos : 0;
  if (s.deadline > 0) m.Link(slot);
  m.now = now;
  m.Submit(slot, now);
  // Calls started together go out in one write, within a bound of the first.
  if (m.unflushed_since == 0) {
    m.unflushed_since = now;
  } else if (now - m.unflushed_since >= kMaxWriteDelayNanos) {
    m.Tidy(now);
  }
}

bool Nghttp2GrpcTransport::Next(int64_t timeout_nanos, Completion* completion) {
  Impl& m = *impl_;
  // The wait counts from the call, the writes of calls just started included.
  const int64_t until = Now() + std::max<int64_t>(timeout_nanos, 0);
  if (!m.dirty.empty()) m.Tidy(until - std::max<int64_t>(timeout_nanos, 0));
  if (m.Take(completion)) return true;
  while (true) {
    m.Poll(until);
    if (m.Take(completion)) return true;
    if (m.now >= until) return false;
  }
}

void Nghttp2GrpcTransport::SleepThrough(int64_t nanos) {
  Impl& m = *impl_;
  const int64_t until = Now() + nanos;
  if (!m.dirty.empty()) m.Tidy(until - nanos);
  do {
    m.Poll(until);
  } while (m.now < until);
}

void Nghttp2GrpcTransport::CancelAll() {
  Impl& m = *impl_;
  const int64_t now = Now();
  while (!m.resend.empty()) {
    const uint32_t slot = m.resend.Pop();
    m.slots[slot].message = "cancelled at the run's end";
    m.Finish(slot, code::kCancelled, now);
  }
  for (Impl::Slot& s : m.slots) {
    if (s.connection != nullptr) m.Cancel(s, code::kCancelled, "cancelled at the run's end", now);
  }
  m.Tidy(now);
}

std::vector<WireTotals> Nghttp2GrpcTransport::CountsByOperation() const { return impl_->counts; }

}  // namespace aurigraph::loadgen
