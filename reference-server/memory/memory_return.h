// Hands memory freed after a burst back to the system. glibc keeps freed
// memory for reuse, so a burst of thousands of calls or streams would leave
// its peak resident for good; malloc_trim returns it, but it walks every free
// chunk holding the allocator's locks (half a second on a heap of a few
// hundred MB fragmented into millions of free chunks), so it must not run
// every second on a server that has nothing to return.
//
// TrimPolicy (pure; time is passed in) decides from resident memory sampled
// once per sweep: trim when memory is `growth_bytes` above the lowest it has
// been after a trim (at first: at start). After a trim that returned at least
// half of that, the next may come a second later (a burst still ending);
// after one that returned less, the wait doubles, up to a minute, so a server
// whose data really grew trims about once a minute, cheaply.
#pragma once

#include <cstdint>

namespace aurigraph::refserver {

class TrimPolicy {
 public:
  explicit TrimPolicy(int64_t growth_bytes) : growth_bytes_(growth_bytes) {}

  // One sample; true when now is the time to trim.
  bool ShouldTrim(int64_t resident_bytes, int64_t now_nanos);
  // Resident memory before and after a trim that ran at `now_nanos`.
  void Trimmed(int64_t before_bytes, int64_t after_bytes, int64_t now_nanos);

 private:
  static constexpr int64_t kSecond = 1'000'000'000;
  const int64_t growth_bytes_;
  int64_t floor_ = -1;
  int64_t wait_nanos_ = kSecond;
  int64_t next_nanos_ = 0;
};

// Samples this process's resident memory and trims when `policy` says so.
void ReturnFreedMemory(TrimPolicy& policy, int64_t now_nanos);

}  // namespace aurigraph::refserver
