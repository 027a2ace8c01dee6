// The kernel's byte counts of this process's connections to a peer: a real
// loopback connection found by its peer address (and not by another's), and
// what snapshots say between them.
#include "loadgen/transport/socket_bytes.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <string>
#include <thread>

#include "loadgen/transport/host_port.h"

namespace aurigraph::loadgen {
namespace {

// A listening socket on an ephemeral loopback port, and its "127.0.0.1:PORT".
struct Listener {
  Listener() {
    fd = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address);
    listen(fd, 4);
    socklen_t length = sizeof address;
    getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length);
    name = "127.0.0.1:" + std::to_string(ntohs(address.sin_port));
  }
  ~Listener() { close(fd); }
  int fd;
  std::string name;
};

int ConnectTo(const std::string& name) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<uint16_t>(std::stoi(name.substr(name.rfind(':') + 1))));
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address);
  return fd;
}

// The snapshot once the connection to `peers` counts `sent` acknowledged bytes.
SocketSnapshot SnapshotOnceAcknowledged(const std::vector<sockaddr_storage>& peers, int64_t sent) {
  SocketSnapshot snapshot;
  for (int attempt = 0; attempt < 500; ++attempt) {
    snapshot = SnapshotSockets(peers).value_or(SocketSnapshot{});
    if (!snapshot.empty() && snapshot.begin()->second.sent >= sent) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  return snapshot;
}

TEST(SocketBytes, CountsWhatAConnectionToThePeerSentAndReceived) {
  Listener target, other;
  const std::vector<sockaddr_storage> peers = ResolveHostPort(target.name).value();
  ASSERT_EQ(peers.size(), 1u);
  ASSERT_TRUE(SnapshotSockets(peers).has_value());
  EXPECT_TRUE(SnapshotSockets(peers)->empty());
  EXPECT_FALSE(SnapshotSockets({}).has_value());  // no peers: nothing known

  const int client = ConnectTo(target.name);
  const int unrelated = ConnectTo(other.name);  // a connection elsewhere is not counted
  const int server = accept(target.fd, nullptr, nullptr);
  const int other_server = accept(other.fd, nullptr, nullptr);
  ASSERT_GE(server, 0);
  const SocketSnapshot start = SnapshotSockets(peers).value_or(SocketSnapshot{});
  ASSERT_EQ(start.size(), 1u);
  EXPECT_EQ(start.begin()->second.sent, 0);
  EXPECT_EQ(start.begin()->second.received, 0);

  const std::string request(1000, 'q'), response(300, 'r');
  ASSERT_EQ(write(client, request.data(), request.size()), 1000);
  ASSERT_EQ(write(unrelated, request.data(), request.size()), 1000);
  char buffer[2000];
  ASSERT_EQ(read(server, buffer, sizeof buffer), 1000);
  ASSERT_EQ(write(server, response.data(), response.size()), 300);
  ASSERT_EQ(read(client, buffer, sizeof buffer), 300);
  const SocketSnapshot end = SnapshotOnceAcknowledged(peers, 1000);
  const auto carried = BytesBetween(start, end);
  ASSERT_TRUE(carried.has_value());
  EXPECT_EQ(carried->sent, 1000);
  EXPECT_EQ(carried->received, 300);

  // A connection gone since the first snapshot: what it carried is unknown.
  close(client);
  EXPECT_FALSE(BytesBetween(start, *SnapshotSockets(peers)).has_value());
  for (int fd : {unrelated, server, other_server}) close(fd);
}

TEST(SocketBytes, ConnectionsOpenedSinceCountWhole) {
  const SocketSnapshot before = {{7, {100, 50}}};
  const SocketSnapshot after = {{7, {160, 90}}, {9, {30, 20}}};
  const auto carried = BytesBetween(before, after);
  ASSERT_TRUE(carried.has_value());
  EXPECT_EQ(carried->sent, 90);
  EXPECT_EQ(carried->received, 60);
  EXPECT_FALSE(BytesBetween(before, {{9, {30, 20}}}).has_value());
  EXPECT_FALSE(BytesBetween({}, {}).has_value());  // no connection seen: unknown, not zero
  EXPECT_FALSE(ResolveHostPort("127.0.0.1:99999").ok());
}

}  // namespace
}  // namespace aurigraph::loadgen
