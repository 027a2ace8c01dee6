// Fault injection for proving the harness's accuracy against known ground
// truth: added latency (fixed or drawn from a distribution), an error rate with
// a chosen status code, and periodic stalls during which every response is held.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <queue>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/clock/clock.h"

namespace aurigraph::refserver {

struct FaultConfig {
  enum class Latency { kNone, kFixed, kUniform, kExponential };
  Latency latency = Latency::kNone;
  int64_t latency_a_nanos = 0;  // fixed value, uniform low, exponential mean
  int64_t latency_b_nanos = 0;  // uniform high
  double error_rate = 0;
  int error_code = 14;      // UNAVAILABLE
  int64_t stall_nanos = 0;  // responses due inside [k*P, k*P + D) wait until k*P + D
  int64_t stall_period_nanos = 0;
  uint64_t seed = 1;
  // Memory kept forever per unary call: a leak of known size, so leak
  // detection can be checked against ground truth.
  int64_t leak_bytes_per_call = 0;
  // A service of this many slots, each holding a call for its drawn latency;
  // calls beyond them wait in order for the first free slot. So the server's
  // capacity is known by construction (slots / latency), and load above it
  // queues without bound, as an overloaded server's does. 0 = no limit.
  int service_slots = 0;
  bool active() const {
    return latency != Latency::kNone || error_rate > 0 || stall_nanos > 0 || service_slots > 0;
  }
};

// "fixed:5ms", "uniform:1ms:10ms", "exponential:2ms" (mean), or "none".
absl::Status ParseLatencySpec(const std::string& spec, FaultConfig* config);
// "200ms/2s": hold every response for 200 ms every 2 s.
absl::Status ParseStallSpec(const std::string& spec, FaultConfig* config);

class FaultInjector {
 public:
  struct Decision {
    int64_t release_at_nanos = 0;  // on the injected clock; <= now means respond at once
    int error_code = 0;            // 0: no injected error
  };
  // Stall windows are aligned to the injector's construction time.
  FaultInjector(FaultConfig config, const Clock& clock);
  // Thread-safe; each thread draws from its own seeded generator.
  Decision Decide() const;
  // Keeps leak_bytes_per_call more bytes (touched, so they are resident); thread-safe.
  void Leak() const;
  int64_t leaked_bytes() const;
  const FaultConfig& config() const { return config_; }
  const Clock& clock() const { return clock_; }

 private:
  FaultConfig config_;
  const Clock& clock_;
  int64_t origin_nanos_;
  // With service_slots: when each slot is next free, earliest first.
  mutable std::mutex service_mu_;
  mutable std::priority_queue<int64_t, std::vector<int64_t>, std::greater<>> slot_free_at_;
  mutable std::mutex leak_mu_;
  mutable std::vector<std::unique_ptr<char[]>> leaked_;
};

}  // namespace aurigraph::refserver
