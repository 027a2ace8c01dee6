// "HOST:PORT" to socket addresses: HOST a name or an IP literal (IPv6 in
// brackets), resolved by the system's resolver, every address in its order.
#pragma once

#include <sys/socket.h>

#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace aurigraph::loadgen {

// INVALID_ARGUMENT when `address` is not HOST:PORT (a port in 1..65535) or
// HOST does not resolve, saying which.
absl::StatusOr<std::vector<sockaddr_storage>> ResolveHostPort(const std::string& address);

// The host of "HOST:PORT": a name or an IP literal, IPv6 without its brackets.
std::string HostOf(const std::string& address);

// The length of `address` as a sockaddr of its family.
socklen_t SocketAddressLength(const sockaddr_storage& address);

}  // namespace aurigraph::loadgen
