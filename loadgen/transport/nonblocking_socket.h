// What the transports that drive their own sockets share: opening a TCP
// connection without blocking, and waiting on epoll to the nanosecond.
#pragma once

#include <sys/epoll.h>
#include <sys/socket.h>

#include <cstdint>
#include <span>

namespace aurigraph::loadgen {

// A TCP socket (non-blocking, close-on-exec, TCP_NODELAY) connecting to
// `address`: 0, with `fd` connected or, when `in_progress`, connecting; else
// the errno, and no socket.
int ConnectNonBlocking(const sockaddr_storage& address, socklen_t length, int& fd,
                       bool& in_progress);

// 0 when `address` accepts a connection within `wait_nanos`, with the
// connected socket in `fd`; else the errno (ETIMEDOUT when none came in time).
int ConnectWithin(const sockaddr_storage& address, socklen_t length, int64_t wait_nanos, int& fd);

// Waits at most `wait_nanos` for events on `epoll`, as epoll_wait answers: to
// the nanosecond (epoll_pwait2, with exact timers) or, where the kernel or a
// sandbox refuses that (`precise` then turns false for good), in
// milliseconds rounded up.
int WaitForEvents(int epoll, std::span<epoll_event> events, int64_t wait_nanos, bool& precise);

}  // namespace aurigraph::loadgen
