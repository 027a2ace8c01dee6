// A target whose connection attempts fail (refused, or reset before it speaks
// HTTP/2): both gRPC clients wait out channel.reconnect_backoff between
// attempts, failing calls UNAVAILABLE at once meanwhile, instead of opening a
// connection per call, and are back as soon as it allows once the target is.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <thread>

#include "absl/strings/str_cat.h"
#include "common/clock/clock.h"
#include "loadgen/transport/host_port.h"
#include "loadgen/transport/nghttp2_grpc_transport.h"
#include "tests/integration/harness.h"

namespace aurigraph {
namespace {

// Accepts each connection on 127.0.0.1 and resets it at once, counting them.
class ClosingListener {
 public:
  ClosingListener() {
    fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t length = sizeof address;
    if (bind(fd_, reinterpret_cast<sockaddr*>(&address), length) != 0 || listen(fd_, 128) != 0 ||
        getsockname(fd_, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
      ADD_FAILURE() << "cannot listen on 127.0.0.1";
    }
    address_ = absl::StrCat("127.0.0.1:", ntohs(address.sin_port));
    thread_ = std::thread([this] {
      while (!stop_.load()) {
        pollfd ready{fd_, POLLIN, 0};
        if (poll(&ready, 1, 20) <= 0) continue;
        const int client = accept(fd_, nullptr, nullptr);
        if (client < 0) continue;
        accepted_.fetch_add(1);
        const linger reset{1, 0};
        setsockopt(client, SOL_SOCKET, SO_LINGER, &reset, sizeof reset);
        close(client);
      }
    });
  }
  ~ClosingListener() {
    stop_ = true;
    thread_.join();
    close(fd_);
  }
  const std::string& address() const { return address_; }
  int accepted() const { return accepted_.load(); }

 private:
  int fd_ = -1;
  std::string address_;
  std::atomic<bool> stop_{false};
  std::atomic<int> accepted_{0};
  std::thread thread_;
};

struct Calls {
  int made = 0;
  int unavailable = 0;
  std::string last_message;
};

// One call after another, 2 ms apart, for `nanos`.
Calls CallFor(loadgen::Transport& transport, int64_t nanos) {
  Calls calls;
  const auto now = [] { return SteadyClock::Instance().NowNanos(); };
  const int64_t end = now() + nanos;
  while (now() < end) {
    transport.Start(0, 0, "", {});
    ++calls.made;
    loadgen::Transport::Completion completion;
    if (!transport.Next(5'000'000'000, &completion)) {
      ADD_FAILURE() << "a call to a closing listener did not end within 5 s";
      break;
    }
    if (completion.status_code == 14) ++calls.unavailable;  // UNAVAILABLE
    calls.last_message = std::string(completion.status_message);
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  return calls;
}

const std::vector<loadgen::UnaryMethod> kCheckHealth = {
    {.path = "/aurigraph.approval.v1.ApprovalService/CheckHealth"}};

loadgen::Nghttp2GrpcTransport Nghttp2To(const std::string& address, int64_t backoff_nanos) {
  auto resolved = loadgen::ResolveHostPort(address);
  EXPECT_TRUE(resolved.ok()) << resolved.status();
  loadgen::Nghttp2Connections connections;
  connections.connect_timeout_nanos = 2'000'000'000;
  connections.reconnect.first_nanos = backoff_nanos;
  connections.reconnect.max_nanos = 10 * backoff_nanos;
  return loadgen::Nghttp2GrpcTransport(
      loadgen::Nghttp2Endpoint{resolved->front(), loadgen::SocketAddressLength(resolved->front()),
                               address, address},
      connections, kCheckHealth, 1);
}

// Over 1.2 s with a 200 ms backoff growing 1.6 times (+-20%): attempts at 0,
// about 0.2, 0.52 and 1.03 s, so 3 or 4 (a client that did not wait would
// make one per call, some 400); every call fails UNAVAILABLE. With a 5 s
// backoff, the first attempt is the only one.
TEST(ReconnectBackoff, TheNghttp2ClientWaitsItOutBetweenAttempts) {
  {
    ClosingListener listener;
    auto transport = Nghttp2To(listener.address(), 200'000'000);
    const Calls calls = CallFor(transport, 1'200'000'000);
    EXPECT_GT(calls.made, 100);
    EXPECT_EQ(calls.unavailable, calls.made) << calls.last_message;
    // Reset as it connects, or as it is read from.
    EXPECT_TRUE(calls.last_message.ends_with(
        absl::StrCat(listener.address(), ": Connection reset by peer")))
        << calls.last_message;
    EXPECT_GE(listener.accepted(), 3);
    EXPECT_LE(listener.accepted(), 6);
  }
  ClosingListener listener;
  auto transport = Nghttp2To(listener.address(), 5'000'000'000);
  const Calls calls = CallFor(transport, 1'200'000'000);
  EXPECT_EQ(calls.unavailable, calls.made) << calls.last_message;
  EXPECT_EQ(listener.accepted(), 1);
}

// A server killed 0.5 s into a 3 s run at 200/s and started again at 1 s.
// With a 100 ms backoff (at most 1 s) the client attempts about 0.1, 0.26,
// 0.52 and 0.93 s after the kill (+-20% each), so it is back by about 1.4 s;
// with 5 s its next attempt comes after the run. Both clients, configured by
// the scenario.
class RestartedServer : public testing::TestWithParam<std::string> {};

TEST_P(RestartedServer, IsReconnectedToAsTheBackoffAllows) {
  for (const auto& [backoff, recovers] :
       {std::pair{"reconnect_backoff: 100ms, reconnect_backoff_max: 1s", true},
        std::pair{"reconnect_backoff: 5s", false}}) {
    SCOPED_TRACE(backoff);
    auto server = StartServer();
    const std::string address = server->address();
    std::thread restarter([&] {
      std::this_thread::sleep_for(std::chrono::milliseconds(500));
      server->Shutdown(0);
      std::this_thread::sleep_for(std::chrono::milliseconds(500));
      refserver::ServerOptions options;
      options.listen = address;
      auto restarted = refserver::ReferenceServer::Start(options);
      ASSERT_TRUE(restarted.ok()) << restarted.status();
      server = *std::move(restarted);
    });
    auto result = RunYaml(absl::StrCat("channel: {client: ", GetParam(), ", ", backoff, "}\n",
                                       R"(duration: 3s
interval: 250ms
load: {model: open, rate: 200}
operations: [{rpc: aurigraph.approval.v1.ApprovalService/CheckHealth}]
)"),
                          address);
    restarter.join();
    ASSERT_TRUE(result.ok()) << result.status();
    const auto& points = result->timeline.points;
    constexpr size_t kIntervals = 12;  // and a last one for the calls that ended after
    ASSERT_GE(points.size(), kIntervals);
    EXPECT_GT(points[0].operations[0].timed, 40);
    // The first interval after the restart (1 s) with a call that succeeded.
    size_t back = 4;
    while (back < kIntervals && points[back].operations[0].timed == 0) ++back;
    if (recovers) {
      EXPECT_LE(back, 7u) << "no call succeeded within 1 s of the restart";
      EXPECT_GT(points[kIntervals - 1].operations[0].timed, 40);
    } else {
      EXPECT_EQ(back, kIntervals) << "a call succeeded before the backoff ended";
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Clients, RestartedServer, testing::Values("grpc", "nghttp2"),
                         [](const testing::TestParamInfo<std::string>& info) {
                           return info.param == "grpc" ? std::string("Library")
                                                       : std::string("Nghttp2");
                         });

}  // namespace
}  // namespace aurigraph
