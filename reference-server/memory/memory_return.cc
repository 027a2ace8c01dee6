#include "reference-server/memory/memory_return.h"

#include <malloc.h>
#include <unistd.h>

#include <algorithm>

#include "common/process/process_stats.h"

namespace aurigraph::refserver {

bool TrimPolicy::ShouldTrim(int64_t resident_bytes, int64_t now_nanos) {
  if (floor_ < 0) floor_ = resident_bytes;
  return resident_bytes >= floor_ + growth_bytes_ && now_nanos >= next_nanos_;
}

void TrimPolicy::Trimmed(int64_t before_bytes, int64_t after_bytes, int64_t now_nanos) {
  floor_ = std::min(floor_, after_bytes);
  const bool worth_it = before_bytes - after_bytes >= growth_bytes_ / 2;
  wait_nanos_ = worth_it ? kSecond : std::min(2 * wait_nanos_, 64 * kSecond);
  next_nanos_ = now_nanos + wait_nanos_;
}

void ReturnFreedMemory(TrimPolicy& policy, int64_t now_nanos) {
  const int64_t before = OwnResidentBytes();
  if (!policy.ShouldTrim(before, now_nanos)) return;
  malloc_trim(0);
  policy.Trimmed(before, OwnResidentBytes(), now_nanos);
}

}  // namespace aurigraph::refserver
