// The driver's view of "how to send": start a call in a slot with pre-built
// request bytes, then wait for completions. Implementations own the wire
// protocol (gRPC in production, a scripted fake in tests); the driver owns time.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>

#include "loadgen/interfaces/request_source.h"
#include "loadgen/result/run_description.h"

namespace aurigraph::loadgen {

class Transport {
 public:
  struct Completion {
    uint32_t slot = 0;
    int status_code = 0;              // gRPC status code numbering; 0 = OK
    std::string_view response;        // only for operations that keep responses; valid until Next()
    std::string_view status_message;  // the status's message (empty for OK); valid until Next()
    // When the call ended, on the clock the driver reads (a transport over a
    // real network: the steady clock), for a completion the transport kept
    // while the driver slept (SleepThrough); 0: it ends now.
    int64_t completed_nanos = 0;
  };

  virtual ~Transport() = default;
  // Starts a call for `operation` in `slot` (< the worker's in-flight bound)
  // with `headers` as its metadata; the slot is busy until its completion is
  // returned by Next().
  virtual void Start(uint32_t slot, uint32_t operation, std::string_view request,
                     std::span<const Header> headers) = 0;
  // Waits at most `timeout_nanos` for a completion; false when none arrived.
  virtual bool Next(int64_t timeout_nanos, Completion* completion) = 0;
  // Sleeps `nanos` without waking for completions: those that come meanwhile
  // are kept, with the time each came, for Next(). For a driver with nothing
  // to do before its next send: one wake-up, at the send's time, instead of
  // one for every completion as well.
  virtual void SleepThrough(int64_t nanos) = 0;
  // Asks every busy slot to finish now; each still produces a completion.
  virtual void CancelAll() = 0;
  // What went over the wire per operation (result/run_description.h), once
  // the driver is done; empty when the transport does not count.
  virtual std::vector<WireTotals> CountsByOperation() const { return {}; }
};

}  // namespace aurigraph::loadgen
