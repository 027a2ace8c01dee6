#include "common/metrics/process_metrics.h"

#include <sys/resource.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "common/metrics/families.h"

namespace aurigraph::metrics {
namespace {

// Fields of /proc/self/stat after the command name (which may hold spaces).
std::vector<std::string> StatFields() {
  std::ifstream in("/proc/self/stat");
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const size_t end_of_name = text.rfind(')');
  std::vector<std::string> fields;
  if (end_of_name == std::string::npos) return fields;
  std::istringstream rest(text.substr(end_of_name + 2));
  for (std::string field; rest >> field;) fields.push_back(field);
  return fields;
}

double BootTimeSeconds() {
  std::ifstream in("/proc/stat");
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("btime ", 0) == 0) return std::stod(line.substr(6));
  }
  return 0;
}

}  // namespace

std::vector<prometheus::MetricFamily> ProcessMetrics::Collect() const {
  using prometheus::MetricType;
  std::vector<prometheus::MetricFamily> out;
  const std::vector<std::string> stat = StatFields();
  // Field numbers per proc(5), counted from the state field (3) as index 0.
  constexpr size_t kUtime = 13 - 2, kStime = 14 - 2, kStartTime = 21 - 2, kVsize = 22 - 2,
                   kRss = 23 - 2;
  if (stat.size() > kRss) {
    const double ticks = static_cast<double>(sysconf(_SC_CLK_TCK));
    const double page = static_cast<double>(sysconf(_SC_PAGESIZE));
    auto cpu = Family("process_cpu_seconds_total",
                      "Total user and system CPU time spent in seconds.", MetricType::Counter);
    AddSample(cpu, (std::stod(stat[kUtime]) + std::stod(stat[kStime])) / ticks);
    out.push_back(std::move(cpu));
    auto rss = Family("process_resident_memory_bytes", "Resident memory size in bytes.",
                      MetricType::Gauge);
    AddSample(rss, std::stod(stat[kRss]) * page);
    out.push_back(std::move(rss));
    auto vsize =
        Family("process_virtual_memory_bytes", "Virtual memory size in bytes.", MetricType::Gauge);
    AddSample(vsize, std::stod(stat[kVsize]));
    out.push_back(std::move(vsize));
    auto start =
        Family("process_start_time_seconds",
               "Start time of the process since unix epoch in seconds.", MetricType::Gauge);
    AddSample(start, BootTimeSeconds() + std::stod(stat[kStartTime]) / ticks);
    out.push_back(std::move(start));
  }
  std::error_code ec;
  double fds = 0;
  for (auto it = std::filesystem::directory_iterator("/proc/self/fd", ec);
       !ec && it != std::filesystem::directory_iterator(); it.increment(ec)) {
    ++fds;
  }
  auto open_fds = Family("process_open_fds", "Number of open file descriptors.", MetricType::Gauge);
  AddSample(open_fds, fds);
  out.push_back(std::move(open_fds));
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) == 0) {
    auto max_fds =
        Family("process_max_fds", "Maximum number of open file descriptors.", MetricType::Gauge);
    AddSample(max_fds, static_cast<double>(limit.rlim_cur));
    out.push_back(std::move(max_fds));
  }
  return out;
}

}  // namespace aurigraph::metrics
