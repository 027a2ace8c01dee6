// Status messages as they are kept (cut, one line, UTF-8) and the bounded
// per-code record of them: the bound, "other", and merges that count exactly
// and come out the same whatever order the messages were stored in.
#include "loadgen/recorder/error_messages.h"

#include <gtest/gtest.h>

#include <string>

#include "common/input/utf8.h"

namespace aurigraph::loadgen {
namespace {

constexpr int kUnavailable = 14;
constexpr int kInternal = 13;

std::string Kept(std::string_view message) {
  char out[kMaxStatusMessageBytes];
  return std::string(out, KeepStatusMessage(message, out));
}

TEST(StatusMessage, IsKeptAsOnePrintableLineOfUtf8WithinTheBound) {
  EXPECT_EQ(Kept("injected fault"), "injected fault");
  EXPECT_EQ(Kept(""), "");
  EXPECT_EQ(Kept("caf\xc3\xa9 \xe2\x9c\x93"), "caf\xc3\xa9 \xe2\x9c\x93");  // UTF-8 as it is
  // Control characters (C0, DEL, C1) become spaces: a message cannot move a terminal's cursor.
  EXPECT_EQ(Kept("a\nb\tc\x1b[2Jd\x7fg\xc2\x9bh"), "a b c [2Jd g h");
  // Ill-formed bytes, a cut sequence, an overlong form and a surrogate each become U+FFFD.
  EXPECT_EQ(Kept("x\xffy"), "x\xef\xbf\xbdy");
  EXPECT_EQ(Kept("x\xe2\x9c"), "x\xef\xbf\xbd\xef\xbf\xbd");
  EXPECT_EQ(Kept("\xc0\xaf"), "\xef\xbf\xbd\xef\xbf\xbd");
  EXPECT_EQ(Kept("\xed\xa0\x80"), "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd");
  // At the bound a message is kept whole; past it, cut at a character boundary with an ellipsis.
  const std::string at_bound(kMaxStatusMessageBytes, 'a');
  EXPECT_EQ(Kept(at_bound), at_bound);
  EXPECT_EQ(Kept(at_bound + "b"), std::string(kMaxStatusMessageBytes - 3, 'a') + "\u2026");
  std::string accents;
  for (int i = 0; i < 150; ++i) accents += "\xc3\xa9";  // 300 bytes of two-byte characters
  const std::string cut = Kept(accents);
  EXPECT_EQ(cut.size(), 196u + 3u);
  EXPECT_TRUE(IsValidUtf8(cut));
  EXPECT_EQ(cut.substr(cut.size() - 3), "\u2026");
  // What is kept is as kept (read back from files); anything else is not.
  for (const std::string& kept : {Kept("injected fault"), cut, Kept("x\xff\n")}) {
    EXPECT_TRUE(IsKeptStatusMessage(kept)) << kept;
  }
  for (const std::string& raw : {at_bound + "b", std::string("a\nb"), std::string("x\xff")}) {
    EXPECT_FALSE(IsKeptStatusMessage(raw)) << raw;
  }
}

TEST(ErrorMessages, KeepsTheBoundAndCountsTheRestAsOther) {
  ErrorMessages messages;
  for (int round = 0; round < 3; ++round) {
    for (int i = 0; i < 12; ++i) messages.Record(kUnavailable, "message " + std::to_string(i));
  }
  messages.Record(kInternal, "boom");
  // The first ten distinct messages met are kept; the two after them go to other, every time.
  const std::vector<ErrorMessages::Entry> top = messages.Top(kUnavailable);
  ASSERT_EQ(top.size(), kMaxStatusMessagesPerCode);
  EXPECT_EQ(top.front().message, "message 0");
  EXPECT_EQ(top.back().message, "message 9");
  for (const ErrorMessages::Entry& entry : top) EXPECT_EQ(entry.count, 3);
  EXPECT_EQ(messages.other(kUnavailable), 6);
  EXPECT_EQ(messages.total(kUnavailable), 36);
  EXPECT_EQ(messages.total(kInternal), 1);
  EXPECT_EQ(messages.total(2), 0);
  messages.Reset();
  EXPECT_TRUE(messages.empty());
}

// Seven messages recorded `count` times each, from `first` on.
ErrorMessages Recorded(int first, int count, int code = kUnavailable) {
  ErrorMessages messages;
  for (int n = 0; n < count; ++n) {
    for (int i = first; i < first + 7; ++i) messages.Record(code, "m" + std::to_string(i));
  }
  return messages;
}

void ExpectSame(const ErrorMessages& a, const ErrorMessages& b) {
  for (int code = 1; code < kStatusCodeCount; ++code) {
    const auto top_a = a.Top(code), top_b = b.Top(code);
    ASSERT_EQ(top_a.size(), top_b.size()) << code;
    for (size_t i = 0; i < top_a.size(); ++i) {
      EXPECT_EQ(top_a[i].message, top_b[i].message);
      EXPECT_EQ(top_a[i].count, top_b[i].count);
    }
    EXPECT_EQ(a.other(code), b.other(code));
  }
}

TEST(ErrorMessages, MergingCountsExactlyAndKeepsTheMostFrequentTiesByText) {
  // m0..m6 twice and m4..m10 once: eleven distinct messages meet, m4..m6 three times.
  const ErrorMessages first = Recorded(0, 2), second = Recorded(4, 1);
  ErrorMessages ab = first, ba = second;
  ab.Merge(second);
  ba.Merge(first);
  ExpectSame(ab, ba);
  const std::vector<ErrorMessages::Entry> top = ab.Top(kUnavailable);
  ASSERT_EQ(top.size(), kMaxStatusMessagesPerCode);
  EXPECT_EQ(top[0].message, "m4");
  EXPECT_EQ(top[0].count, 3);
  EXPECT_EQ(top[3].message, "m0");  // then those seen twice, by text
  // Of the four seen once (m10, m7, m8, m9 by text), the last is left to other.
  EXPECT_EQ(top[9].message, "m8");
  EXPECT_EQ(ab.other(kUnavailable), 1);
  EXPECT_EQ(ab.total(kUnavailable), first.total(kUnavailable) + second.total(kUnavailable));
  // Codes merge apart.
  ErrorMessages other_code = Recorded(0, 1, kInternal);
  ab.Merge(other_code);
  EXPECT_EQ(ab.total(kInternal), 7);
  EXPECT_EQ(ab.total(kUnavailable), 21);
}

TEST(ErrorMessages, WithinTheBoundEveryMessageIsKeptWhateverTheOrder) {
  // Ten distinct messages in three parts, merged in every order: the same result.
  const ErrorMessages parts[] = {Recorded(0, 1), Recorded(3, 2), Recorded(0, 3)};
  const int orders[][3] = {{0, 1, 2}, {0, 2, 1}, {1, 0, 2}, {1, 2, 0}, {2, 0, 1}, {2, 1, 0}};
  ErrorMessages expected;
  for (const ErrorMessages& part : parts) expected.Merge(part);
  ASSERT_EQ(expected.Top(kUnavailable).size(), 10u);
  EXPECT_EQ(expected.other(kUnavailable), 0);
  for (const auto& order : orders) {
    ErrorMessages merged;
    for (const int i : order) merged.Merge(parts[i]);
    ExpectSame(merged, expected);
  }
}

TEST(ErrorMessages, WhatIsReadBackIsCheckedAgainstTheBound) {
  ErrorMessages messages;
  EXPECT_TRUE(messages.Add(kUnavailable, "injected fault", 3).ok());
  EXPECT_EQ(messages.Add(kUnavailable, "injected fault", 1).message(),
            "UNAVAILABLE: a message listed twice");
  EXPECT_EQ(messages.Add(kUnavailable, "none", 0).message(),
            "UNAVAILABLE: a message counted less than once");
  EXPECT_EQ(messages.Add(kUnavailable, "two\nlines", 1).message(),
            "UNAVAILABLE: a message not as kept (too long, not UTF-8, or with control characters)");
  EXPECT_FALSE(messages.Add(kUnavailable, std::string(kMaxStatusMessageBytes + 1, 'a'), 1).ok());
  for (int i = 1; i < 10; ++i) ASSERT_TRUE(messages.Add(kUnavailable, std::to_string(i), 1).ok());
  EXPECT_EQ(messages.Add(kUnavailable, "eleventh", 1).message(),
            "UNAVAILABLE: more messages than are kept");
  messages.AddOther(kUnavailable, 5);
  EXPECT_EQ(messages.total(kUnavailable), 3 + 9 + 5);
}

}  // namespace
}  // namespace aurigraph::loadgen
