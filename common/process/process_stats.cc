#include "common/process/process_stats.h"

#include <sys/resource.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace aurigraph {
namespace {

std::string ProcPath(pid_t pid, const char* what) {
  return (pid == 0 ? std::string("/proc/self/") : "/proc/" + std::to_string(pid) + "/") + what;
}

double BootTimeSeconds() {
  std::ifstream in("/proc/stat");
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("btime ", 0) == 0) return std::stod(line.substr(6));
  }
  return 0;
}

int64_t CountEntries(const std::string& directory) {
  std::error_code ec;
  int64_t count = 0;
  for (auto it = std::filesystem::directory_iterator(directory, ec);
       !ec && it != std::filesystem::directory_iterator(); it.increment(ec)) {
    ++count;
  }
  return ec ? -1 : count;
}

// Socket inodes listening on `port` in a /proc/net/tcp-format table.
void ListeningInodes(const char* table, int port, std::vector<std::string>* inodes) {
  std::ifstream in(table);
  std::string line;
  std::getline(in, line);  // header
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    std::string slot, local, remote, state, queues, timer, retransmits, uid, timeout, inode;
    fields >> slot >> local >> remote >> state >> queues >> timer >> retransmits >> uid >>
        timeout >> inode;
    const size_t colon = local.rfind(':');
    if (colon == std::string::npos || state != "0A") continue;  // 0A = LISTEN
    if (std::stoi(local.substr(colon + 1), nullptr, 16) == port) inodes->push_back(inode);
  }
}

}  // namespace

int64_t OwnResidentBytes() {
  std::ifstream statm("/proc/self/statm");
  int64_t size = 0, resident = 0;
  statm >> size >> resident;
  return resident * sysconf(_SC_PAGESIZE);
}

int64_t OwnPeakResidentBytes() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<int64_t>(usage.ru_maxrss) * 1024;  // Linux reports KiB
}

double OwnCpuSeconds() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<double>(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) +
         static_cast<double>(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6;
}

std::optional<ProcessStats> ReadProcessStats(pid_t pid) {
  std::ifstream in(ProcPath(pid, "stat"));
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  // Fields after the command name, which is in parentheses and may hold spaces.
  const size_t end_of_name = text.rfind(')');
  if (end_of_name == std::string::npos) return std::nullopt;
  std::istringstream rest(text.substr(end_of_name + 2));
  std::vector<std::string> fields;
  for (std::string field; rest >> field;) fields.push_back(field);
  // proc(5) numbers fields from 1; fields[0] here is field 3 (state).
  constexpr size_t kUtime = 14 - 3, kStime = 15 - 3, kStartTime = 22 - 3, kVsize = 23 - 3,
                   kRss = 24 - 3;
  if (fields.size() <= kRss) return std::nullopt;
  const double ticks = static_cast<double>(sysconf(_SC_CLK_TCK));
  ProcessStats stats;
  stats.cpu_seconds = (std::stod(fields[kUtime]) + std::stod(fields[kStime])) / ticks;
  stats.resident_bytes = std::stoll(fields[kRss]) * sysconf(_SC_PAGESIZE);
  stats.virtual_bytes = std::stoll(fields[kVsize]);
  stats.start_time_seconds = BootTimeSeconds() + std::stod(fields[kStartTime]) / ticks;
  stats.open_fds = CountEntries(ProcPath(pid, "fd"));
  if (pid == 0) {
    rlimit limit{};
    if (getrlimit(RLIMIT_NOFILE, &limit) == 0) stats.max_fds = static_cast<int64_t>(limit.rlim_cur);
  }
  return stats;
}

pid_t FindListeningPid(int port) {
  std::vector<std::string> inodes;
  ListeningInodes("/proc/net/tcp", port, &inodes);
  ListeningInodes("/proc/net/tcp6", port, &inodes);
  if (inodes.empty()) return 0;
  std::error_code ec;
  for (const auto& process : std::filesystem::directory_iterator("/proc", ec)) {
    const std::string name = process.path().filename();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    std::error_code fd_ec;
    for (auto it = std::filesystem::directory_iterator(process.path() / "fd", fd_ec);
         !fd_ec && it != std::filesystem::directory_iterator(); it.increment(fd_ec)) {
      std::error_code link_ec;
      const std::string target = std::filesystem::read_symlink(it->path(), link_ec).string();
      for (const std::string& inode : inodes) {
        if (target == "socket:[" + inode + "]") return static_cast<pid_t>(std::stol(name));
      }
    }
  }
  return 0;
}

}  // namespace aurigraph
