#include "loadgen/merge/merge_runs.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <memory>
#include <optional>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "loadgen/assemble/result_builder.h"
#include "loadgen/intervallog/interval_log.h"
#include "loadgen/recorder/run_totals.h"

namespace aurigraph::loadgen {
namespace {

// One process's run, read interval by interval.
struct Process {
  std::string dir;
  std::unique_ptr<IntervalLogReader> reader;
  IntervalSlice slice{0};
  TimelinePoint point;
  bool holds_interval = false;  // `slice` is read and not yet merged
  bool read_to_end = false;
  // Its own figures, for its line of the merged result.
  std::unique_ptr<RunTotals> totals;
  Timeline timeline;
};

// What differs between two processes' descriptions that may not; empty when nothing.
std::string Mismatch(const RunDescription& a, const RunDescription& b) {
  if (a.tool_version != b.tool_version) return "another aurigraph-loadgen version";
  if (a.scenario_json != b.scenario_json) return "another scenario (or other --set overrides)";
  if (a.target != b.target) return "another target";
  if (a.partition_count != b.partition_count) return "split into another number of processes";
  if (a.start_unix_nanos != b.start_unix_nanos) return "another start time (--start-at)";
  if (a.interval_nanos != b.interval_nanos || a.duration_nanos != b.duration_nanos ||
      a.warmup_nanos != b.warmup_nanos) {
    return "another interval, duration or warm-up";
  }
  if (a.load_profile.size() != b.load_profile.size()) return "another load profile";
  if (a.operations.size() != b.operations.size()) return "other operations";
  for (size_t i = 0; i < a.operations.size(); ++i) {
    if (a.operations[i].name != b.operations[i].name ||
        a.operations[i].kind != b.operations[i].kind) {
      return "other operations";
    }
  }
  return "";
}

absl::Status NotOneRun(const std::string& dir, absl::string_view why) {
  return absl::InvalidArgumentError(
      absl::StrCat(dir, ": not a process of the same run as the others: ", why));
}

// Reads `p`'s next interval into it, adding it to its own figures.
absl::Status Advance(Process& p) {
  if (p.holds_interval || p.read_to_end) return absl::OkStatus();
  auto read = p.reader->Next(p.slice, p.point);
  if (!read.ok()) return read.status();
  if (!*read) {
    p.read_to_end = true;
    return absl::OkStatus();
  }
  p.holds_interval = true;
  p.totals->Add(p.slice, !p.point.warmup);
  p.timeline.points.push_back(p.point);
  return absl::OkStatus();
}

// The merged run's end: known only when every process finished.
std::optional<RunEnd> MergedEnd(const std::vector<Process>& processes) {
  RunEnd merged;
  merged.cpu_seconds = 0;
  merged.loadgen_peak_rss_bytes = 0;
  // Processes on one host share its cores.
  std::map<std::string, int> cores_by_host;
  for (const Process& p : processes) {
    const RunEnd& end = p.reader->end();
    if (end.end_offset_nanos < 0) return std::nullopt;
    merged.end_offset_nanos = std::max(merged.end_offset_nanos, end.end_offset_nanos);
    if (merged.cpu_seconds >= 0) {
      merged.cpu_seconds = end.cpu_seconds >= 0 ? merged.cpu_seconds + end.cpu_seconds : -1;
    }
    int& cores = cores_by_host[p.reader->run().host];
    cores = std::max(cores, end.cpu_cores);
    if (merged.loadgen_peak_rss_bytes >= 0) {
      merged.loadgen_peak_rss_bytes =
          end.loadgen_peak_rss_bytes >= 0
              ? merged.loadgen_peak_rss_bytes + end.loadgen_peak_rss_bytes
              : -1;
    }
    merged.server_peak_rss_bytes =
        std::max(merged.server_peak_rss_bytes, end.server_peak_rss_bytes);
    merged.server_rss_bytes = std::max(merged.server_rss_bytes, end.server_rss_bytes);
    // Wire counts add up, operation by operation.
    if (merged.wire.size() < end.wire.size()) merged.wire.resize(end.wire.size());
    for (size_t i = 0; i < end.wire.size(); ++i) {
      if (!end.wire[i]) continue;
      if (!merged.wire[i]) {
        merged.wire[i] = end.wire[i];
      } else {
        AddWireTotals(*end.wire[i], *merged.wire[i]);
      }
    }
  }
  for (const auto& [host, cores] : cores_by_host) merged.cpu_cores += cores;
  return merged;
}

// A process's line of the merged result, judged on its own figures.
GeneratorProcess DescribeProcess(Process& p) {
  const RunDescription& run = p.reader->run();
  const RunEnd& end = p.reader->end();
  RunResult own = BuildRunResult(run, *p.totals, std::move(p.timeline), end);
  JudgeGenerator(own);
  GeneratorProcess w;
  w.index = run.partition_index;
  w.host = run.host;
  w.source = p.dir;
  w.sent = own.generator.sent;
  w.schedule_lag_p99_us = own.generator.schedule_lag->ValueAtPercentile(99);
  w.generator_lag_p99_us = own.generator.generator_lag->ValueAtPercentile(99);
  w.cpu_seconds = end.cpu_seconds;
  w.cpu_cores = end.cpu_cores;
  w.kept_up = own.generator.kept_up;
  w.verdict = own.generator.verdict;
  if (end.end_offset_nanos < 0) {
    const TimelinePoint* last = own.timeline.points.empty() ? nullptr : &own.timeline.points.back();
    w.stopped_at_seconds = last != nullptr ? last->offset_seconds + last->seconds : 0;
  }
  return w;
}

}  // namespace

absl::StatusOr<RunResult> MergeRuns(const std::vector<std::string>& run_dirs,
                                    const std::string& out_dir) {
  if (run_dirs.empty()) return absl::InvalidArgumentError("merge: no run directories");
  std::vector<Process> processes(run_dirs.size());
  std::set<int> indices;
  for (size_t i = 0; i < run_dirs.size(); ++i) {
    Process& p = processes[i];
    p.dir = run_dirs[i];
    auto reader = IntervalLogReader::Open(p.dir);
    if (!reader.ok()) return reader.status();
    p.reader = *std::move(reader);
    const RunDescription& run = p.reader->run();
    p.slice = IntervalSlice(run.operations.size());
    p.totals = std::make_unique<RunTotals>(run.operations.size());
    if (i > 0) {
      const std::string why = Mismatch(processes[0].reader->run(), run);
      if (!why.empty()) return NotOneRun(p.dir, why);
    }
    if (!indices.insert(run.partition_index).second) {
      return NotOneRun(p.dir, absl::StrCat("process ", run.partition_index, " given twice"));
    }
  }
  const RunDescription& first = processes[0].reader->run();
  if (first.partition_count != static_cast<int>(run_dirs.size())) {
    std::vector<int> missing;
    for (int k = 0; k < first.partition_count && missing.size() < 10; ++k) {
      if (!indices.count(k)) missing.push_back(k);
    }
    return absl::InvalidArgumentError(absl::StrCat(
        "merge: the run was split across ", first.partition_count, " processes, ", run_dirs.size(),
        " given", missing.empty() ? "" : "; missing: ", absl::StrJoin(missing, ", "),
        " (give every process's run directory once)"));
  }

  // The merged run is the whole run: one partition, every host.
  RunDescription merged_run = first;
  merged_run.partition_index = 0;
  merged_run.partition_count = 1;
  std::vector<std::string> hosts;
  for (const Process& p : processes) {
    const std::string& host = p.reader->run().host;
    if (std::find(hosts.begin(), hosts.end(), host) == hosts.end()) hosts.push_back(host);
    if (p.reader->run().watched_pid != first.watched_pid) merged_run.watched_pid = 0;
  }
  merged_run.host = absl::StrJoin(hosts, ",");
  // Each process's description holds its share of the open-loop target: the run's is their sum.
  merged_run.target_rate = 0;
  for (OperationDescription& op : merged_run.operations) op.target_rate = 0;
  for (ProfileCorner& corner : merged_run.load_profile) corner.value = 0;
  for (const Process& p : processes) {
    const RunDescription& run = p.reader->run();
    merged_run.target_rate += run.target_rate;
    for (size_t i = 0; i < merged_run.operations.size(); ++i) {
      merged_run.operations[i].target_rate += run.operations[i].target_rate;
    }
    for (size_t i = 0; i < merged_run.load_profile.size() && i < run.load_profile.size(); ++i) {
      merged_run.load_profile[i].value += run.load_profile[i].value;
    }
  }

  auto writer = IntervalLogWriter::Create(out_dir);
  if (!writer.ok()) return writer.status();
  (*writer)->OnRunStart(merged_run);
  IntervalSlice merged(first.operations.size());
  for (int64_t index = 0;; ++index) {
    for (Process& p : processes) {
      if (absl::Status advanced = Advance(p); !advanced.ok()) return advanced;
    }
    // The earliest interval any process holds; every process that holds it adds to it.
    std::optional<int64_t> key;
    for (const Process& p : processes) {
      if (!p.holds_interval) continue;
      const int64_t k = OffsetKey(p.point.offset_seconds);
      key = key ? std::min(*key, k) : k;
    }
    if (!key) break;
    merged.Reset();
    merged.index = index;
    TimelinePoint point;
    bool first_part = true;
    for (Process& p : processes) {
      if (!p.holds_interval || OffsetKey(p.point.offset_seconds) != *key) continue;
      merged.Merge(p.slice);
      if (first_part) {
        point.offset_seconds = p.point.offset_seconds;
        point.warmup = p.point.warmup;
      }
      point.seconds = std::max(point.seconds, p.point.seconds);
      // Each process's own memory adds up; the target is one, sampled by each.
      if (p.point.loadgen_rss_bytes >= 0) {
        point.loadgen_rss_bytes =
            std::max<int64_t>(point.loadgen_rss_bytes, 0) + p.point.loadgen_rss_bytes;
      }
      point.target_rss_bytes = std::max(point.target_rss_bytes, p.point.target_rss_bytes);
      point.target_cpu_seconds = std::max(point.target_cpu_seconds, p.point.target_cpu_seconds);
      point.target_open_fds = std::max(point.target_open_fds, p.point.target_open_fds);
      p.holds_interval = false;
      first_part = false;
    }
    TimelinePoint figures = SummarizeSlice(merged);
    figures.offset_seconds = point.offset_seconds;
    figures.seconds = point.seconds;
    figures.warmup = point.warmup;
    figures.loadgen_rss_bytes = point.loadgen_rss_bytes;
    figures.target_rss_bytes = point.target_rss_bytes;
    figures.target_cpu_seconds = point.target_cpu_seconds;
    figures.target_open_fds = point.target_open_fds;
    (*writer)->OnInterval(merged, figures);
  }
  const std::optional<RunEnd> end = MergedEnd(processes);
  if (end) (*writer)->OnRunEnd(*end);
  writer->reset();  // flushed and closed before it is read back

  auto result = RecoverRun(out_dir);
  if (!result.ok()) return result.status();
  if (end) result->recovered_from.clear();  // every process finished: nothing was lost
  for (Process& p : processes) result->workers.push_back(DescribeProcess(p));
  std::sort(result->workers.begin(), result->workers.end(),
            [](const GeneratorProcess& a, const GeneratorProcess& b) { return a.index < b.index; });
  // A process that fell behind makes the run's figures the generator's, not the target's.
  for (const GeneratorProcess& w : result->workers) {
    if (w.kept_up || !result->generator.kept_up) continue;
    result->generator.kept_up = false;
    result->generator.verdict = absl::StrCat("process ", w.index, ": ", w.verdict);
  }
  return result;
}

}  // namespace aurigraph::loadgen
