#include "reference-server/connections/connection_guard.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <grpc/grpc.h>
#include <grpc/support/alloc.h>
#include <linux/sockios.h>
#include <netinet/in.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"
#include "reference-server/connections/http2_frame.h"

namespace aurigraph::refserver {
namespace {

using Json = nlohmann::json;

// One channelz query; the answer is JSON (null when channelz has nothing).
Json Channelz(char* text) {
  std::unique_ptr<char, void (*)(void*)> owned(text, gpr_free);
  if (text == nullptr) return Json();
  return Json::parse(text, nullptr, /*allow_exceptions=*/false);
}

int64_t Count(const Json& data, const char* key) {
  int64_t value = 0;
  if (data.contains(key) && data[key].is_string())
    (void)absl::SimpleAtoi(data[key].get<std::string>(), &value);
  return value;
}

// An endpoint as channelz writes it: {"tcpip_address":{"ip_address":BASE64,"port":N}}.
struct Endpoint {
  std::string ip;  // raw address bytes
  int port = 0;
  bool operator==(const Endpoint&) const = default;
};

Endpoint EndpointOf(const Json& address) {
  Endpoint endpoint;
  if (!address.contains("tcpip_address")) return endpoint;
  const Json& tcp = address["tcpip_address"];
  if (tcp.contains("ip_address"))
    absl::Base64Unescape(tcp["ip_address"].get<std::string>(), &endpoint.ip);
  if (tcp.contains("port")) endpoint.port = tcp["port"].get<int>();
  return endpoint;
}

Endpoint EndpointOf(const sockaddr_storage& address) {
  Endpoint endpoint;
  if (address.ss_family == AF_INET) {
    const auto& in = reinterpret_cast<const sockaddr_in&>(address);
    endpoint.ip.assign(reinterpret_cast<const char*>(&in.sin_addr), 4);
    endpoint.port = ntohs(in.sin_port);
  } else if (address.ss_family == AF_INET6) {
    const auto& in6 = reinterpret_cast<const sockaddr_in6&>(address);
    // channelz writes an IPv4 client of a dual-stack listener as IPv4.
    const bool mapped = IN6_IS_ADDR_V4MAPPED(&in6.sin6_addr);
    endpoint.ip.assign(reinterpret_cast<const char*>(&in6.sin6_addr) + (mapped ? 12 : 0),
                       mapped ? 4 : 16);
    endpoint.port = ntohs(in6.sin6_port);
  }
  return endpoint;
}

// This process's connected socket with these two ends, or -1.
int FindSocket(const Endpoint& local, const Endpoint& remote) {
  DIR* fds = opendir("/proc/self/fd");
  if (fds == nullptr) return -1;
  int found = -1;
  while (dirent* entry = readdir(fds)) {
    int fd = -1;
    if (!absl::SimpleAtoi(entry->d_name, &fd) || fd == dirfd(fds)) continue;
    sockaddr_storage address{};
    socklen_t length = sizeof(address);
    if (getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) != 0) continue;
    if (!(EndpointOf(address) == local)) continue;
    length = sizeof(address);
    if (getpeername(fd, reinterpret_cast<sockaddr*>(&address), &length) != 0) continue;
    if (EndpointOf(address) == remote) {
      found = fd;
      break;
    }
  }
  closedir(fds);
  return found;
}

}  // namespace

ConnectionGuard::ConnectionGuard(Options options)
    : options_(options), policy_(options.limits), thread_([this] { Loop(); }) {}

ConnectionGuard::~ConnectionGuard() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  thread_.join();
}

void ConnectionGuard::Loop() {
  std::unique_lock lock(mutex_);
  while (!stopping_) {
    wake_.wait_for(lock, std::chrono::nanoseconds(options_.poll_interval_nanos));
    if (stopping_) break;
    lock.unlock();
    Poll();
    lock.lock();
  }
}

void ConnectionGuard::Poll() {
  struct Connection {
    Endpoint local, remote;
  };
  std::vector<StreamCounts> counts;
  std::map<std::string, Connection> connections;
  const Json servers = Channelz(grpc_channelz_get_servers(0));
  if (!servers.contains("server")) return;
  for (const Json& server : servers["server"]) {
    const intptr_t server_id = std::atoll(server["ref"]["serverId"].get<std::string>().c_str());
    for (intptr_t next = 0;;) {
      const Json page = Channelz(grpc_channelz_get_server_sockets(server_id, next, 1000));
      if (!page.contains("socketRef")) break;
      for (const Json& ref : page["socketRef"]) {
        const std::string id = ref["socketId"].get<std::string>();
        next = std::atoll(id.c_str()) + 1;
        const Json socket = Channelz(grpc_channelz_get_socket(std::atoll(id.c_str())));
        if (!socket.contains("socket")) continue;
        const Json& s = socket["socket"];
        Connection connection{EndpointOf(s.value("local", Json::object())),
                              EndpointOf(s.value("remote", Json::object()))};
        if (connection.local.port != options_.port) continue;
        const Json data = s.value("data", Json::object());
        counts.push_back({id, Count(data, "streamsStarted"), Count(data, "streamsSucceeded"),
                          Count(data, "streamsFailed")});
        connections[id] = connection;
      }
      if (page.value("end", false)) break;
    }
  }
  const int64_t now = std::chrono::duration_cast<std::chrono::nanoseconds>(
                          std::chrono::steady_clock::now().time_since_epoch())
                          .count();
  for (const ConnectionPolicy::Verdict& verdict : policy_.Observe(now, counts)) {
    const Connection& connection = connections[verdict.connection];
    const int fd = FindSocket(connection.local, connection.remote);
    if (fd < 0) continue;  // gone meanwhile
    int unsent = 0;
    if (ioctl(fd, SIOCOUTQ, &unsent) == 0 && unsent == 0) {
      // Last stream 2^31-1: the guard cannot know which streams gRPC acted on.
      std::string goaway;
      http2::AppendGoaway(goaway, 0x7fffffff, http2::kEnhanceYourCalm, verdict.detail);
      if (send(fd, goaway.data(), goaway.size(), MSG_NOSIGNAL | MSG_DONTWAIT) ==
          static_cast<ssize_t>(goaway.size())) {
        counters_.goaways_sent.fetch_add(1, std::memory_order_relaxed);
      }
    }
    shutdown(fd, SHUT_RDWR);
    (verdict.reason == ConnectionPolicy::Reason::kStreamResets ? counters_.cut_for_resets
                                                               : counters_.cut_for_stream_limit)
        .fetch_add(1, std::memory_order_relaxed);
    char remote[INET6_ADDRSTRLEN] = "?";
    inet_ntop(connection.remote.ip.size() == 4 ? AF_INET : AF_INET6, connection.remote.ip.data(),
              remote, sizeof(remote));
    std::cerr << "aurigraph-refserver: closed the connection from " << remote << ":"
              << connection.remote.port << ": " << verdict.detail << std::endl;
  }
}

}  // namespace aurigraph::refserver
