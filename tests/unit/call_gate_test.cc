#include "reference-server/admission/call_gate.h"

#include <gtest/gtest.h>

namespace aurigraph::refserver {
namespace {

TEST(CallGate, AdmitsUpToTheLimitThenRefusesTheConnectionsHoldingTheMost) {
  CallGate gate(10);
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(gate.TryEnter("flood"));
  EXPECT_EQ(gate.in_flight(), 10);
  // At the limit: the flood holds everything, more than its share, and is refused ...
  EXPECT_FALSE(gate.TryEnter("flood"));
  EXPECT_FALSE(gate.TryEnter("flood"));
  EXPECT_EQ(gate.refused(), 2);
  // ... while another connection holding nothing is under its share (10 / 2) and is served.
  EXPECT_TRUE(gate.TryEnter("canary"));
  EXPECT_TRUE(gate.TryEnter("canary"));
  EXPECT_EQ(gate.in_flight(), 12);
  // Calls leaving make room again.
  for (int i = 0; i < 3; ++i) gate.Leave("flood");
  EXPECT_TRUE(gate.TryEnter("flood"));
  EXPECT_EQ(gate.in_flight(), 10);
}

TEST(CallGate, NeverHoldsMoreThanTwiceTheLimit) {
  CallGate gate(100);
  int admitted = 0;
  // Connections arrive one after another and each tries to take everything:
  // each gets a share of the bound, until twice the bound is held.
  for (int connection = 0; connection < 50; ++connection) {
    for (int call = 0; call < 200; ++call) {
      admitted += gate.TryEnter("c" + std::to_string(connection));
    }
  }
  EXPECT_EQ(gate.in_flight(), admitted);
  EXPECT_EQ(admitted, 200);
}

TEST(CallGate, LeavingAnUnknownConnectionChangesNothing) {
  CallGate gate(1);
  gate.Leave("nobody");
  EXPECT_EQ(gate.in_flight(), 0);
  EXPECT_TRUE(gate.TryEnter("a"));
  EXPECT_FALSE(gate.TryEnter("a"));
  gate.Leave("a");
  EXPECT_EQ(gate.in_flight(), 0);
  EXPECT_TRUE(gate.TryEnter("a"));
}

}  // namespace
}  // namespace aurigraph::refserver
