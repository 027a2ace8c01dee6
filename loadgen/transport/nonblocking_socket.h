// What the transports that drive their own sockets share: opening a TCP
// connection without blocking, waiting on epoll to the nanosecond, and
// reading with the time the bytes came.
#pragma once

#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/types.h>

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

// Asks the kernel to stamp each segment `fd` receives as it arrives
// (SO_TIMESTAMPNS), so a reader that slept through the arrivals still knows
// when they came, without a wake-up for each.
void StampArrivals(int fd);

// recv() on a socket that stamps arrivals: `arrived_unix_nanos` is when the
// last segment read arrived, on the Unix clock (the kernel's stamps are
// only that), or 0 without a stamp.
ssize_t ReceiveStamped(int fd, void* buffer, size_t size, int64_t& arrived_unix_nanos);

// An arrival stamp as a steady time: `unix_stamp` less `unix_minus_steady`
// (the two clocks read together), trusted within [earliest, now] only, where
// `earliest` is when the bytes could first have come (the socket's last
// read); `now` otherwise (no stamp, or the Unix clock was stepped between).
int64_t SteadyArrival(int64_t unix_stamp, int64_t unix_minus_steady, int64_t earliest, int64_t now);

}  // namespace aurigraph::loadgen
