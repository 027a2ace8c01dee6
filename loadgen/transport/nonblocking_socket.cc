#include "loadgen/transport/nonblocking_socket.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <ctime>

#include "common/clock/clock.h"

namespace aurigraph::loadgen {

int ConnectNonBlocking(const sockaddr_storage& address, socklen_t length, int& fd,
                       bool& in_progress) {
  fd = socket(address.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return errno;
  const int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  in_progress = false;
  if (connect(fd, reinterpret_cast<const sockaddr*>(&address), length) == 0) return 0;
  if (errno == EINPROGRESS) {
    in_progress = true;
    return 0;
  }
  const int error = errno;
  close(fd);
  fd = -1;
  return error;
}

int ConnectWithin(const sockaddr_storage& address, socklen_t length, int64_t wait_nanos, int& fd) {
  bool in_progress = false;
  int error = ConnectNonBlocking(address, length, fd, in_progress);
  if (error == 0 && in_progress) {
    pollfd p{fd, POLLOUT, 0};
    const int ready =
        poll(&p, 1, static_cast<int>(std::max<int64_t>(wait_nanos, 0) / 1'000'000 + 1));
    socklen_t error_length = sizeof error;
    error = ETIMEDOUT;
    if (ready == 1) getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &error_length);
  }
  return error;
}

int WaitForEvents(int epoll, std::span<epoll_event> events, int64_t wait_nanos, bool& precise) {
  const int64_t wait = std::max<int64_t>(wait_nanos, 0);
  if (wait > 0) UseExactTimers();
  const auto capacity = static_cast<int>(events.size());
  if (precise) {
    const timespec timeout{static_cast<time_t>(wait / 1'000'000'000),
                           static_cast<long>(wait % 1'000'000'000)};
    const int n = epoll_pwait2(epoll, events.data(), capacity, &timeout, nullptr);
    if (n >= 0 || errno == EINTR) return n;
    precise = false;
  }
  return epoll_wait(epoll, events.data(), capacity, static_cast<int>((wait + 999'999) / 1'000'000));
}

void StampArrivals(int fd) {
  const int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_TIMESTAMPNS, &one, sizeof one);
}

ssize_t ReceiveStamped(int fd, void* buffer, size_t size, int64_t& arrived_unix_nanos) {
  iovec data{buffer, size};
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(timespec))];
  msghdr message{};
  message.msg_iov = &data;
  message.msg_iovlen = 1;
  message.msg_control = control;
  message.msg_controllen = sizeof control;
  const ssize_t n = recvmsg(fd, &message, 0);
  arrived_unix_nanos = 0;
  if (n <= 0) return n;
  for (cmsghdr* c = CMSG_FIRSTHDR(&message); c != nullptr; c = CMSG_NXTHDR(&message, c)) {
    if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_TIMESTAMPNS) continue;
    timespec stamp{};
    std::memcpy(&stamp, CMSG_DATA(c), sizeof stamp);
    arrived_unix_nanos = int64_t{stamp.tv_sec} * 1'000'000'000 + stamp.tv_nsec;
  }
  return n;
}

int64_t SteadyArrival(int64_t unix_stamp, int64_t unix_minus_steady, int64_t earliest,
                      int64_t now) {
  if (unix_stamp <= 0) return now;
  const int64_t arrived = unix_stamp - unix_minus_steady;
  return arrived >= earliest && arrived <= now ? arrived : now;
}

}  // namespace aurigraph::loadgen
