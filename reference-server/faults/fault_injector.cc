#include "reference-server/faults/fault_injector.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstring>
#include <random>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/units/units.h"

namespace aurigraph::refserver {

absl::Status ParseLatencySpec(const std::string& spec, FaultConfig* config) {
  std::vector<std::string> parts = absl::StrSplit(spec, ':');
  const auto error = [&](const std::string& why) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--latency ", spec, ": ", why, " (fixed:5ms, uniform:1ms:10ms, exponential:2ms)"));
  };
  if (parts[0] == "none" && parts.size() == 1) {
    config->latency = FaultConfig::Latency::kNone;
    return absl::OkStatus();
  }
  std::vector<int64_t> values;
  for (size_t i = 1; i < parts.size(); ++i) {
    auto nanos = ParseDuration(parts[i]);
    if (!nanos.ok()) return error(std::string(nanos.status().message()));
    values.push_back(*nanos);
  }
  if (parts[0] == "fixed" && values.size() == 1) {
    config->latency = FaultConfig::Latency::kFixed;
  } else if (parts[0] == "uniform" && values.size() == 2 && values[0] <= values[1]) {
    config->latency = FaultConfig::Latency::kUniform;
  } else if (parts[0] == "exponential" && values.size() == 1) {
    config->latency = FaultConfig::Latency::kExponential;
  } else {
    return error("unknown distribution or wrong number of values");
  }
  config->latency_a_nanos = values[0];
  config->latency_b_nanos = values.size() > 1 ? values[1] : 0;
  return absl::OkStatus();
}

absl::Status ParseStallSpec(const std::string& spec, FaultConfig* config) {
  std::vector<std::string> parts = absl::StrSplit(spec, '/');
  auto stall = parts.size() == 2 ? ParseDuration(parts[0]) : absl::InvalidArgumentError("");
  auto period = parts.size() == 2 ? ParseDuration(parts[1]) : absl::InvalidArgumentError("");
  if (!stall.ok() || !period.ok() || *period <= 0 || *stall >= *period) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--stall ", spec, ": expected DURATION/PERIOD with DURATION < PERIOD, e.g. 200ms/2s"));
  }
  config->stall_nanos = *stall;
  config->stall_period_nanos = *period;
  return absl::OkStatus();
}

FaultInjector::FaultInjector(FaultConfig config, const Clock& clock)
    : config_(config), clock_(clock), origin_nanos_(clock.NowNanos()) {
  for (int i = 0; i < config_.service_slots; ++i) slot_free_at_.push(origin_nanos_);
}

FaultInjector::Decision FaultInjector::Decide() const {
  static std::atomic<uint64_t> thread_counter{0};
  thread_local std::mt19937_64 rng(config_.seed * 0x9E3779B97F4A7C15ULL +
                                   thread_counter.fetch_add(1, std::memory_order_relaxed));
  const int64_t now = clock_.NowNanos();
  Decision decision;
  int64_t delay = 0;
  switch (config_.latency) {
    case FaultConfig::Latency::kNone:
      break;
    case FaultConfig::Latency::kFixed:
      delay = config_.latency_a_nanos;
      break;
    case FaultConfig::Latency::kUniform:
      delay = std::uniform_int_distribution<int64_t>(config_.latency_a_nanos,
                                                     config_.latency_b_nanos)(rng);
      break;
    case FaultConfig::Latency::kExponential:
      delay = static_cast<int64_t>(std::exponential_distribution<double>(
          1.0 / static_cast<double>(config_.latency_a_nanos))(rng));
      break;
  }
  int64_t release = now + delay;
  if (config_.service_slots > 0) {
    std::lock_guard<std::mutex> lock(service_mu_);
    const int64_t start = std::max(now, slot_free_at_.top());
    slot_free_at_.pop();
    release = start + delay;
    slot_free_at_.push(release);
  }
  if (config_.stall_nanos > 0) {
    const int64_t phase = (release - origin_nanos_) % config_.stall_period_nanos;
    if (phase < config_.stall_nanos) release += config_.stall_nanos - phase;
  }
  decision.release_at_nanos = release;
  if (config_.error_rate > 0 &&
      std::uniform_real_distribution<double>(0, 1)(rng) < config_.error_rate) {
    decision.error_code = config_.error_code;
  }
  return decision;
}

void FaultInjector::Leak() const {
  if (config_.leak_bytes_per_call <= 0) return;
  auto block = std::make_unique<char[]>(static_cast<size_t>(config_.leak_bytes_per_call));
  std::memset(block.get(), 0x5a, static_cast<size_t>(config_.leak_bytes_per_call));
  std::lock_guard<std::mutex> lock(leak_mu_);
  leaked_.push_back(std::move(block));
}

int64_t FaultInjector::leaked_bytes() const {
  std::lock_guard<std::mutex> lock(leak_mu_);
  return static_cast<int64_t>(leaked_.size()) * config_.leak_bytes_per_call;
}

}  // namespace aurigraph::refserver
