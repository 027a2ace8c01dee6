// The words a scenario and the drivers share: how load is applied, how
// arrivals are spaced, and the kinds of calls and streams.
#pragma once

namespace aurigraph::loadgen {

// Open: requests at a fixed arrival rate, whatever the target does. Closed: a
// fixed number of requests in flight, each sent when one completes.
enum class LoadModel { kOpenLoop, kClosedLoop };

// Open loop: evenly spaced arrivals, or a Poisson process at the same mean rate.
enum class ArrivalProcess { kConstant, kPoisson };

// The four kinds of gRPC call.
enum class CallKind { kUnary, kServerStreaming, kClientStreaming, kBidiStreaming };

// How a stream driver treats a stream: the server streams, the client streams,
// or both do.
enum class StreamMode { kServerStream, kClientStream, kBidi };

}  // namespace aurigraph::loadgen
