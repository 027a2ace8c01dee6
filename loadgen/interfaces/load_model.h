// The words a scenario and the drivers share: how load is applied, how
// arrivals are spaced, and the kinds of calls and streams.
#pragma once

#include <cstdint>

namespace aurigraph::loadgen {

// Open: requests at a fixed arrival rate, whatever the target does. Closed: a
// fixed number of requests in flight, each sent when one completes.
enum class LoadModel { kOpenLoop, kClosedLoop };

// Open loop: evenly spaced arrivals, or a Poisson process at the same mean rate.
enum class ArrivalProcess { kConstant, kPoisson };

// A part of a load that changes over a run: the rate (open loop) or the
// concurrency (closed loop) goes linearly from `from` to `to` over the segment.
// A hold has from == to; a step is a hold after a hold of another value.
struct LoadSegment {
  double from = 0;
  double to = 0;
  int64_t duration_nanos = 0;
};

// Worker `index`'s part of `total` split among `parts` workers: the parts
// differ by at most one and sum to `total`.
inline int64_t WorkerShare(int64_t total, int parts, int index) {
  return total / parts + (index < total % parts ? 1 : 0);
}

// A generator process's share of a run split across `count` processes. Its
// thread t is the run's worker t * count + index of threads * count: a split of
// the run's work among its workers (arrivals, concurrency, streams, sequence
// numbers) is then the same whatever the number of processes, so the processes'
// shares add up to exactly the single process's run and differ by at most one.
struct Partition {
  int index = 0;
  int count = 1;
  int RunWorker(int thread) const { return thread * count + index; }
  int RunWorkers(int threads) const { return threads * count; }
};

// The four kinds of gRPC call.
enum class CallKind { kUnary, kServerStreaming, kClientStreaming, kBidiStreaming };

// How a stream driver treats a stream: the server streams, the client streams,
// or both do.
enum class StreamMode { kServerStream, kClientStream, kBidi };

}  // namespace aurigraph::loadgen
