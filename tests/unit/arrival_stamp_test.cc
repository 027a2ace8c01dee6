// Reading with the time the bytes came (nonblocking_socket.h): over a real
// loopback connection the kernel's stamp is the last segment's arrival, on
// the steady clock once converted, however late the read; and a stamp
// outside what could be true falls back to the time of the read.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <thread>

#include "common/clock/clock.h"
#include "loadgen/transport/nonblocking_socket.h"

namespace aurigraph::loadgen {
namespace {

int64_t Now() { return SteadyClock::Instance().NowNanos(); }

TEST(ArrivalStamp, IsTheLastSegmentsArrivalHoweverLateTheRead) {
  const int listener = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_storage address{};
  auto& ipv4 = reinterpret_cast<sockaddr_in&>(address);
  ipv4.sin_family = AF_INET;
  ipv4.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof(sockaddr_in);
  ASSERT_EQ(bind(listener, reinterpret_cast<sockaddr*>(&address), length), 0);
  ASSERT_EQ(listen(listener, 1), 0);
  ASSERT_EQ(getsockname(listener, reinterpret_cast<sockaddr*>(&address), &length), 0);
  int reader = -1;
  ASSERT_EQ(ConnectWithin(address, length, 5'000'000'000, reader), 0);
  const int writer = accept(listener, nullptr, nullptr);
  ASSERT_GE(writer, 0);
  StampArrivals(reader);

  const int64_t first_sent = Now();
  ASSERT_EQ(write(writer, "a", 1), 1);
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  const int64_t before_second = Now();
  ASSERT_EQ(write(writer, "b", 1), 1);
  const int64_t after_second = Now();
  std::this_thread::sleep_for(std::chrono::milliseconds(30));

  char buffer[16];
  int64_t arrived_unix = 0;
  const int64_t read_at = Now();
  ASSERT_EQ(ReceiveStamped(reader, buffer, sizeof buffer, arrived_unix), 2);
  ASSERT_GT(arrived_unix, 0) << "the kernel gave no stamp";
  const int64_t arrived = SteadyArrival(arrived_unix, UnixNanosNow() - Now(), first_sent, Now());
  // The second byte's arrival: after it was written and before the read,
  // 30 ms later (loopback delivers within the write call).
  EXPECT_GE(arrived, before_second);
  EXPECT_LE(arrived, after_second + 1'000'000);
  EXPECT_LT(arrived, read_at);

  EXPECT_EQ(write(writer, "c", 1), 1);
  std::this_thread::sleep_for(std::chrono::milliseconds(1));
  ASSERT_EQ(ReceiveStamped(reader, buffer, sizeof buffer, arrived_unix), 1);
  EXPECT_GT(arrived_unix, 0);
  close(writer);
  close(reader);
  close(listener);
}

TEST(ArrivalStamp, OneThatCannotBeTrueIsTheReadsTime) {
  constexpr int64_t kOffset = 1'700'000'000'000'000'000;  // Unix minus steady
  // Within [earliest, now]: converted.
  EXPECT_EQ(SteadyArrival(kOffset + 5'000, kOffset, 1'000, 9'000), 5'000);
  EXPECT_EQ(SteadyArrival(kOffset + 1'000, kOffset, 1'000, 9'000), 1'000);
  EXPECT_EQ(SteadyArrival(kOffset + 9'000, kOffset, 1'000, 9'000), 9'000);
  // No stamp, before the socket's last read, after now (a stepped clock): now.
  EXPECT_EQ(SteadyArrival(0, kOffset, 1'000, 9'000), 9'000);
  EXPECT_EQ(SteadyArrival(kOffset + 999, kOffset, 1'000, 9'000), 9'000);
  EXPECT_EQ(SteadyArrival(kOffset + 9'001, kOffset, 1'000, 9'000), 9'000);
}

}  // namespace
}  // namespace aurigraph::loadgen
