// StorageService's versioned store on RocksDB (in memory, and on disk across a
// reopen), under a manual clock: versions and their bound, conditional
// writes, deletions, expiry and the sweep that forgets, paged scans, and the
// bounds on keys and bytes; a dump loaded into another store.
#include "reference-server/storage/kv_store.h"

#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <set>
#include <string>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace aurigraph::refserver {
namespace {

namespace sv1 = storage::v1;
constexpr int64_t kMs = 1'000'000;

// Bytes as the store counts them (README): a key's head ('h' KEY, its newest
// version and when it stopped being live) and each version's slot ('s' KEY NUL SLOT, a 25-byte
// header and the value).
int64_t HeadBytes(const std::string& key) { return 1 + static_cast<int64_t>(key.size()) + 16; }
int64_t SlotBytes(const std::string& key, size_t value) {
  return 1 + static_cast<int64_t>(key.size()) + 1 + 4 + 25 + static_cast<int64_t>(value);
}

struct Fixture {
  explicit Fixture(KvStore::Options options = {}) {
    auto opened = KvStore::Open(clock, options);
    EXPECT_TRUE(opened.ok()) << opened.status();
    store = *std::move(opened);
  }
  absl::StatusOr<sv1::PutResponse> Put(const std::string& key, const std::string& value,
                                       int64_t ttl_ms = 0, uint64_t if_version = 0) {
    sv1::PutRequest r;
    r.set_key(key);
    r.set_value(value);
    r.set_ttl_ms(ttl_ms);
    r.set_if_version(if_version);
    return store->Put(r);
  }
  absl::StatusOr<sv1::Entry> Get(const std::string& key, uint64_t version = 0) {
    sv1::GetRequest r;
    r.set_key(key);
    r.set_version(version);
    return store->Get(r);
  }
  absl::StatusOr<sv1::DeleteResponse> Delete(const std::string& key) {
    sv1::DeleteRequest r;
    r.set_key(key);
    return store->Delete(r);
  }
  absl::StatusOr<sv1::VersionResponse> Versions(const std::string& key) {
    sv1::VersionRequest r;
    r.set_key(key);
    return store->GetVersion(r);
  }
  // Every live key from a scan of [start, end), page by page.
  std::vector<std::string> ScanAll(uint32_t limit, const std::string& start = "",
                                   const std::string& end = "", int* pages = nullptr) {
    std::vector<std::string> keys;
    sv1::ScanRequest r;
    r.set_limit(limit);
    r.set_start_key(start);
    r.set_end_key(end);
    for (int page = 1;; ++page) {
      auto response = store->Scan(r);
      EXPECT_TRUE(response.ok()) << response.status();
      if (!response.ok()) break;
      for (const auto& e : response->entries()) keys.push_back(e.key());
      if (pages != nullptr) *pages = page;
      if (response->next_page_token().empty()) break;
      r.set_page_token(response->next_page_token());
    }
    return keys;
  }
  ManualClock clock{1'700'000'000'000'000'000};
  std::unique_ptr<KvStore> store;
};

TEST(KvStore, EveryWriteIsAVersionAndTheNewestAreKept) {
  Fixture f({.max_history = 3});
  for (int i = 1; i <= 5; ++i) {
    auto put = f.Put("k", absl::StrFormat("value-%d", i));
    ASSERT_TRUE(put.ok()) << put.status();
    EXPECT_EQ(put->version(), static_cast<uint64_t>(i));
    f.clock.Advance(kMs);
  }
  EXPECT_EQ(f.Get("k")->value(), "value-5");
  EXPECT_EQ(f.Get("k", 4)->value(), "value-4");
  EXPECT_EQ(f.Get("k", 3)->written_at_unix_nanos(), 1'700'000'000'000'000'000 + 2 * kMs);
  EXPECT_EQ(f.Get("k", 2).status().message(),
            "version 2 of key 'k' is no longer kept (the last 3 are)");
  EXPECT_EQ(f.Get("k", 9).status().message(), "key 'k' has no version 9 (its newest is 5)");
  auto versions = f.Versions("k");
  ASSERT_EQ(versions->versions_size(), 3);
  EXPECT_EQ(versions->versions(0).version(), 5u);
  EXPECT_EQ(versions->versions(2).version(), 3u);
  EXPECT_EQ(versions->versions(0).value_bytes(), 7u);
  // Bytes held: the head and the 3 kept versions (each replaced one stopped counting).
  EXPECT_EQ(f.store->bytes_held(), HeadBytes("k") + 3 * SlotBytes("k", 7));
  EXPECT_EQ(f.store->keys_held(), 1);
}

TEST(KvStore, ConditionalWritesAndDeletionsKeepTheirHistory) {
  Fixture f;
  f.Put("k", "a");
  auto stale = f.Put("k", "b", 0, /*if_version=*/7);
  EXPECT_TRUE(absl::IsFailedPrecondition(stale.status()));
  EXPECT_EQ(stale.status().message(), "key 'k' is at version 1, not 7");
  EXPECT_EQ(f.Put("k", "b", 0, 1)->version(), 2u);
  EXPECT_TRUE(absl::IsFailedPrecondition(f.Put("new", "x", 0, 1).status()));
  auto deleted = f.Delete("k");
  ASSERT_TRUE(deleted.ok()) << deleted.status();
  EXPECT_EQ(deleted->version(), 3u);
  EXPECT_EQ(f.Get("k").status().message(), "key 'k' was deleted (version 3)");
  EXPECT_EQ(f.Get("k", 3).status().message(), "version 3 of key 'k' is a deletion");
  EXPECT_EQ(f.Get("k", 2)->value(), "b");  // history stays readable
  EXPECT_TRUE(f.Versions("k")->versions(0).deleted());
  EXPECT_TRUE(absl::IsNotFound(f.Delete("k").status()));
  EXPECT_TRUE(absl::IsNotFound(f.Delete("never").status()));
  EXPECT_EQ(f.Put("k", "c")->version(), 4u);  // revived
  EXPECT_EQ(f.Get("k")->value(), "c");
  EXPECT_EQ(f.store->counters().get_misses.load(), 2);  // Delete's own reads are not counted
}

TEST(KvStore, ExpiredAndDeletedKeysAreForgottenAfterTheRetention) {
  Fixture f({.retention_nanos = 10'000 * kMs});
  f.Put("ttl", "v", /*ttl_ms=*/1000);
  f.Put("gone", "v");
  f.Put("kept", "v");
  f.Delete("gone");
  f.clock.Advance(999 * kMs);
  EXPECT_TRUE(f.Get("ttl").ok());
  f.clock.Advance(kMs);
  EXPECT_EQ(f.Get("ttl").status().message(), "key 'ttl' expired (version 1)");
  EXPECT_EQ(f.ScanAll(10), std::vector<std::string>{"kept"});
  EXPECT_EQ(f.store->Sweep(), 0);  // within the retention
  EXPECT_EQ(f.store->keys_held(), 3);
  f.clock.Advance(10'000 * kMs);
  EXPECT_EQ(f.store->Sweep(), 2);
  EXPECT_EQ(f.store->keys_held(), 1);
  EXPECT_EQ(f.store->bytes_held(), HeadBytes("kept") + SlotBytes("kept", 1));
  EXPECT_TRUE(absl::IsNotFound(f.Versions("gone").status()));
  EXPECT_EQ(f.Put("gone", "again")->version(), 1u);  // a new key
}

TEST(KvStore, ScansPageThroughLiveKeysInOrderWithoutGapsOrRepeats) {
  Fixture f;
  std::vector<std::string> live;
  for (int i = 0; i < 250; ++i) {
    const std::string key = absl::StrFormat("k%03d", i);
    f.Put(key, "v");
    if (i % 7 == 3) {
      f.Delete(key);
    } else {
      live.push_back(key);
    }
  }
  f.Put("a-before", "v");
  f.Put("z-after", "v");
  int pages = 0;
  std::vector<std::string> scanned = f.ScanAll(100, "k", "l", &pages);
  EXPECT_EQ(scanned, live);
  EXPECT_EQ(pages, 3);
  EXPECT_EQ(f.ScanAll(1000).size(), live.size() + 2);
  // A range whose keys are nearly all deleted still ends, a bounded page at a time.
  Fixture dead;
  for (int i = 0; i < 2500; ++i) {
    const std::string key = absl::StrFormat("d%04d", i);
    dead.Put(key, "v");
    if (i != 2400) dead.Delete(key);
  }
  EXPECT_EQ(dead.ScanAll(10, "", "", &pages), std::vector<std::string>{"d2400"});
  EXPECT_GT(pages, 20);  // 100 keys looked at per page
  sv1::ScanRequest keys_only;
  keys_only.set_keys_only(true);
  keys_only.set_limit(1);
  auto first = f.store->Scan(keys_only);
  EXPECT_EQ(first->entries(0).key(), "a-before");
  EXPECT_TRUE(first->entries(0).value().empty());
  EXPECT_EQ(first->next_page_token(), "a-before");
  sv1::ScanRequest bad;
  bad.set_limit(1001);
  EXPECT_EQ(f.store->Scan(bad).status().message(), "limit: 1001, more than 1000");
  bad.set_limit(0);
  bad.set_start_key("b");
  bad.set_end_key("a");
  EXPECT_TRUE(absl::IsInvalidArgument(f.store->Scan(bad).status()));
}

TEST(KvStore, BoundsOnKeysBytesAndValuesRefuseWithTheRightCode) {
  const int64_t a = HeadBytes("a") + SlotBytes("a", 5);
  const int64_t b = HeadBytes("b") + SlotBytes("b", 1);
  Fixture f({.max_keys = 2, .max_bytes = a + b + SlotBytes("a", 6), .max_value_bytes = 6});
  EXPECT_TRUE(f.Put("a", "12345").ok());
  EXPECT_TRUE(f.Put("b", "1").ok());
  auto third = f.Put("c", "1");
  EXPECT_TRUE(absl::IsResourceExhausted(third.status()));
  EXPECT_EQ(third.status().message(), "storage full: 2 keys held (--storage-max-keys)");
  EXPECT_TRUE(f.Put("a", "123456").ok());  // exactly at the bound
  auto over = f.Put("b", "1");
  EXPECT_TRUE(absl::IsResourceExhausted(over.status()));
  EXPECT_EQ(over.status().message(),
            absl::StrCat("storage full: ", a + b + SlotBytes("a", 6), " bytes held, the limit is ",
                         a + b + SlotBytes("a", 6), " (--storage-max-bytes)"));
  // A full store still takes deletions: they are how it makes room.
  EXPECT_TRUE(f.Delete("b").ok());
  EXPECT_EQ(f.Put("a", "1234567").status().message(),
            "value: 7 bytes, more than 6 (--storage-max-value)");
  EXPECT_EQ(f.store->counters().refused_keys.load(), 1);
  EXPECT_EQ(f.store->counters().refused_bytes.load(), 1);
  EXPECT_EQ(f.store->keys_held(), 2);
  EXPECT_EQ(f.Put("", "v").status().message(), "key: empty");
  EXPECT_EQ(f.Put(std::string("a\0b", 3), "v").status().message(), "key: holds a NUL byte");
  EXPECT_TRUE(absl::IsInvalidArgument(f.Put(std::string(1025, 'k'), "v").status()));
  EXPECT_EQ(f.Put("a", "v", -1).status().message(), "ttl_ms: negative");
  // With one version kept, a smaller value replaces a larger one even when full.
  Fixture one({.max_bytes = HeadBytes("x") + SlotBytes("x", 5), .max_history = 1});
  EXPECT_TRUE(one.Put("x", "12345").ok());
  EXPECT_TRUE(one.Put("x", "1").ok());
  EXPECT_EQ(one.store->bytes_held(), HeadBytes("x") + SlotBytes("x", 1));
}

// Writers racing to create keys never pass the key bound together.
TEST(KvStore, ConcurrentCreatesStopExactlyAtTheKeyBound) {
  Fixture f({.max_keys = 100});
  std::vector<std::thread> writers;
  std::atomic<int> accepted{0};
  for (int t = 0; t < 4; ++t) {
    writers.emplace_back([&f, &accepted, t] {
      for (int i = 0; i < 100; ++i) {
        if (f.Put(absl::StrFormat("t%d-%03d", t, i), "v").ok()) ++accepted;
      }
    });
  }
  for (auto& w : writers) w.join();
  EXPECT_EQ(accepted.load(), 100);
  EXPECT_EQ(f.store->keys_held(), 100);
}

// With one version kept, every write overwrites the slot a reader is about to
// read: reads see one snapshot of head and slot, so a live key never reads as
// dropped, and a scan never leaves one out.
TEST(KvStore, ReadsRacingWritesAlwaysFindTheLiveValue) {
  Fixture f({.max_history = 1});
  f.Put("hot", "v");
  f.Put("other", "v");
  std::atomic<bool> writing{true};
  std::atomic<int> misses{0}, reads{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 2; ++t) {
    threads.emplace_back([&] {
      sv1::ScanRequest scan;
      while (writing.load()) {
        if (!f.Get("hot").ok()) ++misses;
        if (f.store->Scan(scan)->entries_size() != 2) ++misses;
        ++reads;
      }
    });
  }
  for (int i = 0; i < 5000; ++i) f.Put("hot", absl::StrCat("v", i));
  writing = false;
  for (auto& t : threads) t.join();
  EXPECT_GT(reads.load(), 100);
  EXPECT_EQ(misses.load(), 0);
}

TEST(KvStore, ADirectoryKeepsKeysVersionsAndTheirTallyAcrossAReopen) {
  const std::string dir =
      (std::filesystem::temp_directory_path() / ("kv_store_test_" + std::to_string(getpid())))
          .string();
  std::filesystem::remove_all(dir);
  int64_t bytes = 0;
  {
    Fixture f({.directory = dir, .max_history = 4});
    f.Put("x", "one");
    f.Put("x", "three");
    f.Put("y", "22");
    bytes = f.store->bytes_held();
  }
  {
    Fixture reopened({.directory = dir, .max_history = 4});
    EXPECT_EQ(reopened.Get("x")->value(), "three");
    EXPECT_EQ(reopened.Get("x", 1)->value(), "one");
    EXPECT_EQ(reopened.store->keys_held(), 2);
    EXPECT_EQ(reopened.store->bytes_held(), bytes);
    EXPECT_EQ(reopened.Put("x", "four")->version(), 3u);
    EXPECT_EQ(reopened.store->bytes_held(), bytes + SlotBytes("x", 4));
  }
  // Versions map to slots by the history bound: another bound is refused, not misread.
  auto other = KvStore::Open(WallClock::Instance(), {.directory = dir, .max_history = 16});
  EXPECT_TRUE(absl::IsFailedPrecondition(other.status()));
  EXPECT_EQ(other.status().message(),
            absl::StrCat("storage: ", dir,
                         " was made with --storage-max-history 4, not 16; start with 4, or with "
                         "another --data-dir"));
  std::filesystem::remove_all(dir);
}

TEST(KvStore, ALoadedDumpReplacesEverythingWithTheSameVersionsHistoryAndTally) {
  Fixture source({.max_history = 3});
  for (int i = 1; i <= 5; ++i) source.Put("a", absl::StrCat("a", i));
  source.Put("b", "bee");
  source.Delete("b");
  source.Put("c", "sea");
  auto dump = source.store->Dump();
  ASSERT_TRUE(dump.ok()) << dump.status();

  Fixture target({.max_history = 3});
  target.Put("a", "stale");
  target.Put("gone", "only here");
  ASSERT_TRUE(target.store->Load(*dump).ok());
  EXPECT_EQ(target.Get("a")->value(), "a5");
  EXPECT_EQ(target.Get("a", 3)->value(), "a3");
  EXPECT_FALSE(target.Get("a", 2).ok());  // not kept in the source either
  EXPECT_EQ(target.Get("b", 1)->value(), "bee");
  EXPECT_TRUE(absl::IsNotFound(target.Get("gone").status()));
  EXPECT_EQ(target.ScanAll(10), (std::vector<std::string>{"a", "c"}));
  EXPECT_EQ(target.store->keys_held(), source.store->keys_held());
  EXPECT_EQ(target.store->bytes_held(), source.store->bytes_held());
  // The next write takes the version the source would have given it.
  EXPECT_EQ(target.Put("a", "a6")->version(), source.Put("a", "a6")->version());
  EXPECT_EQ(target.store->Dump().value(), source.store->Dump().value());

  // A store made with another history bound would read the slots wrongly; bytes that are
  // no dump change nothing.
  Fixture other({.max_history = 4});
  EXPECT_TRUE(absl::IsFailedPrecondition(other.store->Load(*dump)));
  for (const std::string& bad :
       {dump->substr(0, dump->size() - 1), std::string("\x05"), std::string(8, '\0')}) {
    const absl::Status loaded = target.store->Load(bad);
    EXPECT_TRUE(absl::IsDataLoss(loaded)) << loaded;
  }
  EXPECT_EQ(target.Get("a")->value(), "a6");
}

}  // namespace
}  // namespace aurigraph::refserver
