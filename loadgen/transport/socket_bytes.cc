#include "loadgen/transport/socket_bytes.h"

#include <dirent.h>
#include <linux/tcp.h>
#include <netinet/in.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <string_view>

namespace aurigraph::loadgen {
namespace {

// An IPv4-mapped IPv6 address (a dual-stack socket's, as gRPC's) as IPv4.
sockaddr_storage Unmapped(const sockaddr_storage& address) {
  if (address.ss_family != AF_INET6) return address;
  const auto& v6 = reinterpret_cast<const sockaddr_in6&>(address);
  if (!IN6_IS_ADDR_V4MAPPED(&v6.sin6_addr)) return address;
  sockaddr_storage v4{};
  auto& out = reinterpret_cast<sockaddr_in&>(v4);
  out.sin_family = AF_INET;
  out.sin_port = v6.sin6_port;
  std::memcpy(&out.sin_addr, &v6.sin6_addr.s6_addr[12], sizeof out.sin_addr);
  return v4;
}

bool SameAddress(const sockaddr_storage& first, const sockaddr_storage& second) {
  const sockaddr_storage a = Unmapped(first), b = Unmapped(second);
  if (a.ss_family != b.ss_family) return false;
  if (a.ss_family == AF_INET) {
    const auto& x = reinterpret_cast<const sockaddr_in&>(a);
    const auto& y = reinterpret_cast<const sockaddr_in&>(b);
    return x.sin_port == y.sin_port && x.sin_addr.s_addr == y.sin_addr.s_addr;
  }
  if (a.ss_family == AF_INET6) {
    const auto& x = reinterpret_cast<const sockaddr_in6&>(a);
    const auto& y = reinterpret_cast<const sockaddr_in6&>(b);
    return x.sin6_port == y.sin6_port &&
           std::memcmp(&x.sin6_addr, &y.sin6_addr, sizeof x.sin6_addr) == 0;
  }
  return false;
}

}  // namespace

std::optional<SocketSnapshot> SnapshotSockets(const std::vector<sockaddr_storage>& peers) {
  SocketSnapshot snapshot;
  if (peers.empty()) return std::nullopt;
  DIR* fds = opendir("/proc/self/fd");
  if (fds == nullptr) return std::nullopt;
  bool complete = true;
  while (const dirent* entry = readdir(fds)) {
    char* end = nullptr;
    const long fd = std::strtol(entry->d_name, &end, 10);
    if (end == entry->d_name || *end != '\0' || fd == dirfd(fds)) continue;
    struct stat info {};
    if (fstat(static_cast<int>(fd), &info) != 0 || !S_ISSOCK(info.st_mode)) continue;
    sockaddr_storage peer{};
    socklen_t length = sizeof peer;
    if (getpeername(static_cast<int>(fd), reinterpret_cast<sockaddr*>(&peer), &length) != 0) {
      continue;
    }
    bool wanted = false;
    for (const sockaddr_storage& p : peers) wanted = wanted || SameAddress(peer, p);
    if (!wanted) continue;
    tcp_info tcp{};
    socklen_t tcp_length = sizeof tcp;
    struct stat again {};
    if (getsockopt(static_cast<int>(fd), IPPROTO_TCP, TCP_INFO, &tcp, &tcp_length) != 0 ||
        fstat(static_cast<int>(fd), &again) != 0 || again.st_ino != info.st_ino) {
      continue;  // closed meanwhile (and perhaps reused by another socket)
    }
    // A kernel older than 4.2 (or a sandbox) does not fill these in.
    if (tcp_length < offsetof(tcp_info, tcpi_bytes_received) + sizeof tcp.tcpi_bytes_received) {
      complete = false;
      break;
    }
    // The SYN's sequence number is acknowledged too: one byte that carried nothing.
    snapshot[info.st_ino] = {std::max<int64_t>(static_cast<int64_t>(tcp.tcpi_bytes_acked) - 1, 0),
                             static_cast<int64_t>(tcp.tcpi_bytes_received)};
  }
  closedir(fds);
  if (!complete) return std::nullopt;
  return snapshot;
}

std::optional<ConnectionBytes> BytesBetween(const SocketSnapshot& before,
                                            const SocketSnapshot& after) {
  if (after.empty()) return std::nullopt;
  ConnectionBytes carried;
  for (const auto& [inode, bytes] : before) {
    if (after.count(inode) == 0) return std::nullopt;
  }
  for (const auto& [inode, bytes] : after) {
    const auto was = before.find(inode);
    const ConnectionBytes from = was == before.end() ? ConnectionBytes{} : was->second;
    carried.sent += bytes.sent - from.sent;
    carried.received += bytes.received - from.received;
  }
  return carried;
}

}  // namespace aurigraph::loadgen
