// Bytes on the wire as the kernel counted them, for a wire whose framing is a
// library's own (gRPC's HTTP/2): this process's TCP connections to the
// target, found by their peer address, and what each sent (and the peer
// acknowledged) and received, TLS records, HTTP/2 frames and all (TCP_INFO).
// Two snapshots give what the connections carried between them.
#pragma once

#include <sys/socket.h>

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "loadgen/interfaces/transport_factory.h"

namespace aurigraph::loadgen {

// By socket inode: a connection's identity while it lives.
using SocketSnapshot = std::map<uint64_t, ConnectionBytes>;

// This process's TCP sockets connected to one of `peers`, and their counts;
// nothing when there are no peers or the kernel does not count these bytes.
std::optional<SocketSnapshot> SnapshotSockets(const std::vector<sockaddr_storage>& peers);

// What the connections of `after` carried since `before`: a connection of
// both, the difference; one opened since, all of it. Nothing when a
// connection of `before` is gone (what it carried after `before` is
// unknown), or when `after` has none.
std::optional<ConnectionBytes> BytesBetween(const SocketSnapshot& before,
                                            const SocketSnapshot& after);

}  // namespace aurigraph::loadgen
