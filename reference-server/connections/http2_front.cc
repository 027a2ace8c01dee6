#include "reference-server/connections/http2_front.h"

#include <fcntl.h>
#include <grpcpp/server.h>
#include <grpcpp/server_posix.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <list>
#include <thread>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "reference-server/connections/http2_frame.h"

namespace aurigraph::refserver {

namespace {

// After its GOAWAY, how long a connection waits for the client to close
// before it is closed (a close with unread bytes would send a reset, which
// may destroy the GOAWAY before the client reads it).
constexpr int64_t kLingerNanos = 1'000'000'000;
// How long a closed connection waits for gRPC to finish the header block in
// progress, so that the GOAWAY can follow it.
constexpr int64_t kGoawayWaitNanos = 100'000'000;
// Accepting was refused for want of descriptors: retry after this long.
constexpr int64_t kAcceptPauseNanos = 100'000'000;

int ListenOn(const std::string& address, std::string* error) {
  const size_t colon = address.rfind(':');
  if (colon == std::string::npos) {
    *error = "expected HOST:PORT";
    return -1;
  }
  std::string host = address.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  const std::string port = address.substr(colon + 1);
  int number = -1;
  if (!absl::SimpleAtoi(port, &number) || number < 0 || number > 65535) {
    *error = absl::StrCat("port ", port, " is not in 0..65535");
    return -1;
  }
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  addrinfo* found = nullptr;
  if (int rc = getaddrinfo(host.empty() ? nullptr : host.c_str(), port.c_str(), &hints, &found);
      rc != 0) {
    *error = gai_strerror(rc);
    return -1;
  }
  int fd = -1;
  for (addrinfo* a = found; a != nullptr && fd < 0; a = a->ai_next) {
    fd = socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) continue;
    const int on = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
    if (bind(fd, a->ai_addr, a->ai_addrlen) != 0 || listen(fd, SOMAXCONN) != 0) {
      *error = std::strerror(errno);
      close(fd);
      fd = -1;
    }
  }
  freeaddrinfo(found);
  return fd;
}

int PortOf(int fd) {
  sockaddr_storage address{};
  socklen_t length = sizeof address;
  if (getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) != 0) return 0;
  if (address.ss_family == AF_INET6) {
    return ntohs(reinterpret_cast<const sockaddr_in6*>(&address)->sin6_port);
  }
  return ntohs(reinterpret_cast<const sockaddr_in*>(&address)->sin_port);
}

}  // namespace

struct Http2Front::Impl {
  // One client connection and its socket pair to gRPC.
  struct Connection;
  struct Side {
    Connection* connection;
    bool client;  // the client's socket, or gRPC's
  };
  struct Connection {
    Connection(const FrameFilter::Limits& limits, StreamBudget* budget, uint64_t number)
        : filter(limits, budget), id(absl::StrCat(number)) {}
    FrameFilter filter;
    std::string id;
    int client = -1, server = -1;
    Side client_side{this, true}, server_side{this, false};
    uint32_t client_events = 0, server_events = 0;  // registered with epoll
    bool client_eof = false, server_eof = false;
    bool client_write_shut = false;
    bool counted = false;  // why it was closed counted
    int64_t refused_counted = 0, shed_counted = 0;
    int64_t closed_at = 0;     // when the filter closed it
    int64_t linger_until = 0;  // after its GOAWAY was written
    int64_t drain_until = 0;   // after gRPC's side closed: the client's last chance to read
    bool server_gone = false;  // gRPC's side closed before the filter closed the connection
  };

  Options options;
  grpc::Server* server;
  const Clock& clock;
  GuardCounters counters;
  ConnectionPolicy policy;
  int listener = -1;
  int port = 0;
  int epoll = -1;
  int wake = -1;  // an eventfd: StopAccepting and the destructor
  std::atomic<bool> stop_accepting{false};
  std::atomic<bool> stopping{false};
  bool listener_registered = false;
  int64_t accept_paused_until = 0;
  uint64_t next_number = 0;
  StreamBudget budget;  // before the connections: their filters hold it
  std::list<Connection> connections;
  std::array<char, 1 << 16> buffer;
  std::thread thread;

  Impl(Options o, grpc::Server* s, const Clock& c)
      : options(std::move(o)),
        server(s),
        clock(c),
        policy(options.policy),
        budget(options.max_open_streams) {}

  ~Impl() {
    for (Connection& c : connections) {
      if (c.client >= 0) close(c.client);
      if (c.server >= 0) close(c.server);
    }
    if (listener >= 0) close(listener);
    if (wake >= 0) close(wake);
    if (epoll >= 0) close(epoll);
  }

  void Watch(int fd, void* tag, uint32_t* registered, uint32_t wanted) {
    if (fd < 0 || *registered == wanted) return;
    epoll_event event{};
    event.events = wanted;
    event.data.ptr = tag;
    if (wanted == 0) {
      epoll_ctl(epoll, EPOLL_CTL_DEL, fd, nullptr);
    } else {
      epoll_ctl(epoll, *registered == 0 ? EPOLL_CTL_ADD : EPOLL_CTL_MOD, fd, &event);
    }
    *registered = wanted;
  }

  void Loop() {
    std::array<epoll_event, 256> events;
    int64_t next_policy = clock.NowNanos() + options.policy_interval_nanos;
    while (!stopping.load(std::memory_order_acquire)) {
      const int64_t now = clock.NowNanos();
      const int timeout_ms =
          static_cast<int>(std::clamp<int64_t>((next_policy - now + 999'999) / 1'000'000, 0, 1000));
      const int n = epoll_wait(epoll, events.data(), static_cast<int>(events.size()), timeout_ms);
      for (int i = 0; i < n; ++i) {
        void* tag = events[i].data.ptr;
        if (tag == &listener) {
          Accept();
        } else if (tag == &wake) {
          uint64_t count;
          [[maybe_unused]] ssize_t r = read(wake, &count, sizeof count);
        } else {
          auto* side = static_cast<Side*>(tag);
          Serve(*side->connection, side->client, events[i].events);
        }
      }
      UpdateListener();
      if (clock.NowNanos() >= next_policy) {
        ApplyPolicy();
        next_policy = clock.NowNanos() + options.policy_interval_nanos;
      }
    }
  }

  void UpdateListener() {
    if (listener < 0) return;
    const bool stop = stop_accepting.load(std::memory_order_relaxed);
    const bool wanted = !stop && clock.NowNanos() >= accept_paused_until;
    if (wanted != listener_registered) {
      if (wanted) {
        epoll_event event{};
        event.events = EPOLLIN;
        event.data.ptr = &listener;
        epoll_ctl(epoll, EPOLL_CTL_ADD, listener, &event);
      } else {
        epoll_ctl(epoll, EPOLL_CTL_DEL, listener, nullptr);
      }
      listener_registered = wanted;
    }
    if (stop) {
      close(listener);
      listener = -1;
    }
  }

  void Accept() {
    for (;;) {
      const int client = accept4(listener, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (client < 0) {
        if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
          accept_paused_until = clock.NowNanos() + kAcceptPauseNanos;
        }
        return;
      }
      int pair[2];
      if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, pair) != 0) {
        close(client);
        accept_paused_until = clock.NowNanos() + kAcceptPauseNanos;
        return;
      }
      const int on = 1;
      setsockopt(client, IPPROTO_TCP, TCP_NODELAY, &on, sizeof on);
      Connection& c = connections.emplace_back(options.limits, &budget, next_number++);
      c.client = client;
      c.server = pair[0];
      grpc::AddInsecureChannelFromFd(server, pair[1]);  // gRPC owns that end now
      Update(c);
    }
  }

  // Reads what `fd` has (at most a few buffers, so that one busy connection
  // cannot hold the thread), into the filter; false at the end of the stream.
  bool ReadInto(Connection& c, bool client) {
    const int fd = client ? c.client : c.server;
    for (int reads = 0; reads < 4; ++reads) {
      const ssize_t n = read(fd, buffer.data(), buffer.size());
      if (n > 0) {
        const std::string_view bytes(buffer.data(), static_cast<size_t>(n));
        client ? c.filter.FromClient(bytes) : c.filter.FromServer(bytes);
        if (Pending(c, !client) >= options.max_buffered_bytes) return true;
        if (static_cast<size_t>(n) < buffer.size()) return true;
        continue;
      }
      if (n < 0 && (errno == EAGAIN || errno == EINTR)) return true;
      return false;  // closed, or reset
    }
    return true;
  }

  size_t Pending(Connection& c, bool to_client) {
    return to_client ? c.filter.to_client().size() : c.filter.to_server().size();
  }

  // Writes what the filter holds for `fd`; false when the socket is broken.
  static bool WriteOut(int fd, std::string& out) {
    while (!out.empty()) {
      const ssize_t n = send(fd, out.data(), out.size(), MSG_NOSIGNAL);
      if (n > 0) {
        out.erase(0, static_cast<size_t>(n));
        continue;
      }
      return n < 0 && (errno == EAGAIN || errno == EINTR);
    }
    return true;
  }

  void Serve(Connection& c, bool client, uint32_t events) {
    if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) {
      if (client && c.client >= 0 && !c.client_eof) {
        if (!ReadInto(c, true)) c.client_eof = true;
      } else if (!client && c.server >= 0 && !c.server_eof) {
        if (!ReadInto(c, false)) c.server_eof = true;
      }
    }
    Update(c);
  }

  void CloseServer(Connection& c) {
    if (c.server < 0) return;
    if (!c.filter.closed()) {  // gRPC went first: nothing more is relayed, and the client is told
      c.server_gone = true;
      c.filter.Close(http2::kNoError, "the server closed the connection");
    }
    c.filter.ForgetStreams();
    Watch(c.server, &c.server_side, &c.server_events, 0);
    close(c.server);  // gRPC sees its end close and cancels the connection's calls
    c.server = -1;
  }

  void CloseClient(Connection& c) {
    if (c.client < 0) return;
    Watch(c.client, &c.client_side, &c.client_events, 0);
    close(c.client);
    c.client = -1;
  }

  void CountEnding(Connection& c) {
    if (c.counted || !c.filter.closed()) return;
    c.counted = true;
    switch (c.filter.ending()) {
      case FrameFilter::Ending::kStreamLimit:
        counters.cut_for_stream_limit.fetch_add(1, std::memory_order_relaxed);
        break;
      case FrameFilter::Ending::kHeaderLimit:
      case FrameFilter::Ending::kProtocolError:
        counters.cut_for_protocol.fetch_add(1, std::memory_order_relaxed);
        break;
      default:
        break;  // the policy's verdicts are counted where they are given
    }
  }

  // Moves the bytes each side may take, closes what has ended, and registers
  // what to wait for.
  void Update(Connection& c) {
    const int64_t now = clock.NowNanos();
    FrameFilter& f = c.filter;
    if (const int64_t refused = f.refused_streams(); refused > c.refused_counted) {
      counters.streams_refused.fetch_add(refused - c.refused_counted, std::memory_order_relaxed);
      c.refused_counted = refused;
    }
    if (const int64_t shed = f.shed_streams(); shed > c.shed_counted) {
      counters.streams_shed.fetch_add(shed - c.shed_counted, std::memory_order_relaxed);
      c.shed_counted = shed;
    }
    if (c.server >= 0 && !WriteOut(c.server, f.to_server())) c.server_eof = true;
    if (c.client >= 0 && !WriteOut(c.client, f.to_client())) c.client_eof = true;
    if (c.client_eof) {  // the client is gone, and so is its connection to gRPC
      CloseClient(c);
      CloseServer(c);
    }
    if (f.closed()) {
      if (c.closed_at == 0) c.closed_at = now;
      CountEnding(c);
      if (f.goaway_placed() || now - c.closed_at >= kGoawayWaitNanos) CloseServer(c);
    }
    if (c.server_eof) CloseServer(c);
    if (c.server < 0) f.to_server().clear();
    if (c.client < 0) f.to_client().clear();
    // Nothing more will come for the client: end its stream once it has it all.
    if (c.client >= 0 && c.server < 0 && f.to_client().empty() && !c.client_write_shut) {
      shutdown(c.client, SHUT_WR);
      c.client_write_shut = true;
      c.linger_until = now + kLingerNanos;
      if (f.closed() && f.goaway_placed() && !c.server_gone) {
        counters.goaways_sent.fetch_add(1, std::memory_order_relaxed);
      }
    }
    if (c.client_write_shut && now >= c.linger_until) CloseClient(c);
    // A client that does not read what is left for it is not waited for forever.
    if (c.server < 0 && c.client >= 0 && c.drain_until == 0) c.drain_until = now + kLingerNanos;
    if (c.drain_until != 0 && now >= c.drain_until) CloseClient(c);
    const bool server_full = f.to_server().size() >= options.max_buffered_bytes;
    const bool client_full = f.to_client().size() >= options.max_buffered_bytes;
    uint32_t client_wanted = 0, server_wanted = 0;
    if (c.client >= 0) {
      // Once gRPC's side is closed the client's bytes are read and dropped
      // until it closes.
      if ((!server_full && !client_full) || c.server < 0) client_wanted |= EPOLLIN | EPOLLRDHUP;
      if (!f.to_client().empty()) client_wanted |= EPOLLOUT;
    }
    if (c.server >= 0) {
      if (!client_full) server_wanted |= EPOLLIN | EPOLLRDHUP;
      if (!f.to_server().empty()) server_wanted |= EPOLLOUT;
    }
    Watch(c.client, &c.client_side, &c.client_events, client_wanted);
    Watch(c.server, &c.server_side, &c.server_events, server_wanted);
  }

  // Feeds the policy every connection's counters; closes what it names, and
  // the connections whose time is up.
  void ApplyPolicy() {
    const int64_t now = clock.NowNanos();
    std::vector<StreamCounts> all;
    all.reserve(connections.size());
    for (Connection& c : connections) {
      if (c.filter.closed()) continue;
      StreamCounts counts = c.filter.counts();
      counts.connection = c.id;
      all.push_back(std::move(counts));
    }
    for (const ConnectionPolicy::Verdict& verdict : policy.Observe(now, all)) {
      for (Connection& c : connections) {
        if (c.id != verdict.connection) continue;
        c.filter.Close(http2::kEnhanceYourCalm, verdict.detail);
        (verdict.reason == ConnectionPolicy::Reason::kStreamResets ? counters.cut_for_resets
                                                                   : counters.cut_for_stream_limit)
            .fetch_add(1, std::memory_order_relaxed);
        c.counted = true;
        Update(c);
      }
    }
    for (auto it = connections.begin(); it != connections.end();) {
      Connection& c = *it;
      if ((c.filter.closed() && c.server >= 0) || (c.server < 0 && c.client >= 0)) {
        Update(c);  // the waits for a header block's end and for the client to close
      }
      it = c.client < 0 && c.server < 0 ? connections.erase(it) : std::next(it);
    }
  }
};

absl::StatusOr<std::unique_ptr<Http2Front>> Http2Front::Start(Options options, grpc::Server* server,
                                                              const Clock& clock) {
  auto impl = std::make_unique<Impl>(std::move(options), server, clock);
  std::string error;
  impl->listener = ListenOn(impl->options.listen, &error);
  if (impl->listener < 0) {
    return absl::UnavailableError(
        absl::StrCat("cannot listen on ", impl->options.listen, " (", error, ")"));
  }
  impl->port = PortOf(impl->listener);
  impl->epoll = epoll_create1(EPOLL_CLOEXEC);
  impl->wake = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (impl->epoll < 0 || impl->wake < 0) {
    return absl::InternalError(absl::StrCat("--http2-front: ", std::strerror(errno)));
  }
  epoll_event event{};
  event.events = EPOLLIN;
  event.data.ptr = &impl->wake;
  epoll_ctl(impl->epoll, EPOLL_CTL_ADD, impl->wake, &event);
  impl->UpdateListener();
  Impl* raw = impl.get();
  impl->thread = std::thread([raw] { raw->Loop(); });
  return std::unique_ptr<Http2Front>(new Http2Front(std::move(impl)));
}

Http2Front::Http2Front(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Http2Front::~Http2Front() {
  impl_->stopping.store(true, std::memory_order_release);
  const uint64_t one = 1;
  [[maybe_unused]] ssize_t w = write(impl_->wake, &one, sizeof one);
  impl_->thread.join();
}

void Http2Front::StopAccepting() {
  impl_->stop_accepting.store(true, std::memory_order_relaxed);
  const uint64_t one = 1;
  [[maybe_unused]] ssize_t w = write(impl_->wake, &one, sizeof one);
}

int Http2Front::port() const { return impl_->port; }

const GuardCounters& Http2Front::counters() const { return impl_->counters; }

}  // namespace aurigraph::refserver
