// A transport for driving a Worker on a simulated clock, shared by the unit
// tests and the microbenchmarks: each call completes after a scripted service
// time, and the manual clock advances as the worker waits.
#pragma once

#include <algorithm>
#include <functional>
#include <map>
#include <string>
#include <tuple>
#include <utility>

#include "common/clock/clock.h"
#include "loadgen/interfaces/transport.h"

namespace aurigraph::loadgen {

// Completes each call after a service time chosen by `service_time(start_nanos)`,
// advancing the manual clock as the worker waits; the n-th completion (from 0)
// with the code and message `status(n)` gives (OK unless set).
class ScriptedTransport final : public Transport {
 public:
  ScriptedTransport(ManualClock& clock, std::function<int64_t(int64_t)> service_time)
      : clock_(clock), service_time_(std::move(service_time)) {}

  void Start(uint32_t slot, uint32_t operation, std::string_view request,
             std::span<const Header>) override {
    const int64_t now = clock_.NowNanos();
    pending_.emplace(now + service_time_(now), slot);
    clock_.Set(now + start_cost_(now));  // the generator's own time per send
    ++started_;
    last_request_ = std::string(request);
  }
  bool Next(int64_t timeout_nanos, Completion* completion) override {
    const int64_t now = clock_.NowNanos();
    if (!pending_.empty() && pending_.begin()->first <= now + timeout_nanos) {
      if (pending_.begin()->first > now) ++wake_ups_;
      clock_.Set(std::max(now, pending_.begin()->first));
      completion->slot = pending_.begin()->second;
      completion->completed_nanos = stamps_ ? pending_.begin()->first : -1;
      std::tie(completion->status_code, status_message_) =
          cancelled_ ? std::pair<int, std::string>(1, "") : status_(completed_++);
      completion->status_message = status_message_;
      pending_.erase(pending_.begin());
      return true;
    }
    if (timeout_nanos > 0) ++wake_ups_;
    clock_.Set(now + timeout_nanos + (timeout_nanos > 0 ? wake_lateness_ : 0) + poll_cost_);
    return false;
  }
  // Stamping (set_stamps): hands over a completion already due; else sleeps
  // the whole timeout and returns none, what completed meanwhile keeping the
  // time it did for the next call.
  bool NextAtTimeout(int64_t timeout_nanos, Completion* completion) override {
    if (!stamps_) return Next(timeout_nanos, completion);
    const int64_t now = clock_.NowNanos();
    if (!pending_.empty() && pending_.begin()->first <= now) return Next(0, completion);
    if (timeout_nanos > 0) ++wake_ups_;
    clock_.Set(now + timeout_nanos + (timeout_nanos > 0 ? wake_lateness_ : 0));
    return false;
  }
  void CancelAll() override {
    cancelled_ = true;
    std::multimap<int64_t, uint32_t> now_done;
    for (const auto& [when, slot] : pending_) now_done.emplace(clock_.NowNanos(), slot);
    pending_ = std::move(now_done);
  }
  void set_start_cost(int64_t nanos) {
    start_cost_ = [nanos](int64_t) { return nanos; };
  }
  // The send started at `start_nanos` costs the generator `start_cost(start_nanos)`.
  void set_start_cost(std::function<int64_t(int64_t)> start_cost) {
    start_cost_ = std::move(start_cost);
  }
  // A look at the queue that finds nothing costs the generator this much.
  void set_poll_cost(int64_t nanos) { poll_cost_ = nanos; }
  // A wait that times out wakes this much after its time, as sleeping timers do.
  void set_wake_lateness(int64_t nanos) { wake_lateness_ = nanos; }
  void set_status(std::function<std::pair<int, std::string>(int)> status) {
    status_ = std::move(status);
  }
  // Completions carry the time they came (Completion::completed_nanos).
  void set_stamps(bool stamps) { stamps_ = stamps; }
  int started() const { return started_; }
  // How often the worker slept: each wait with a timeout that did not find a
  // completion already there.
  int64_t wake_ups() const { return wake_ups_; }
  const std::string& last_request() const { return last_request_; }

 private:
  ManualClock& clock_;
  std::function<int64_t(int64_t)> service_time_;
  std::multimap<int64_t, uint32_t> pending_;
  std::function<int64_t(int64_t)> start_cost_ = [](int64_t) { return int64_t{0}; };
  int64_t poll_cost_ = 0;
  int64_t wake_lateness_ = 0;
  int started_ = 0;
  bool cancelled_ = false;
  bool stamps_ = false;
  int64_t wake_ups_ = 0;
  std::function<std::pair<int, std::string>(int)> status_ = [](int) {
    return std::pair<int, std::string>(0, "");
  };
  int completed_ = 0;
  std::string status_message_;  // the last completion's, valid until Next()
  std::string last_request_;
};

}  // namespace aurigraph::loadgen
