// What the kernel reports about a process (this one or another by pid):
// resident memory, CPU time, open file descriptors. Read from /proc, so it
// works for any local process this user may inspect.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>

namespace aurigraph {

struct ProcessStats {
  int64_t resident_bytes = 0;
  int64_t virtual_bytes = 0;
  double cpu_seconds = 0;         // user + system
  double start_time_seconds = 0;  // since the Unix epoch
  int64_t open_fds = -1;          // -1 when the fd table cannot be read
  int64_t max_fds = -1;           // this process only
};

// pid 0 = this process. Empty when the process does not exist (or has exited).
std::optional<ProcessStats> ReadProcessStats(pid_t pid = 0);

// This process, cheaply (no fd count, no /proc/stat parse): resident memory now
// (/proc/self/statm), its peak, and CPU time used so far (getrusage).
int64_t OwnResidentBytes();
int64_t OwnPeakResidentBytes();
double OwnCpuSeconds();

// The local process listening on TCP `port` (IPv4 or IPv6), or 0 when none is
// found (not listening here, or owned by a user we cannot inspect).
pid_t FindListeningPid(int port);

}  // namespace aurigraph
