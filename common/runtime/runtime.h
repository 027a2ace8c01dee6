// Process-wide settings of a tool that makes or serves gRPC calls, applied once
// at the start of main, before any gRPC object exists.
#pragma once

namespace aurigraph {

// Our own messages name every failure in one line, so gRPC's internal logging
// stays quiet unless the user asks for it (GRPC_VERBOSITY=ERROR|INFO|DEBUG).
// Abseil's mutex deadlock detection (on in Debian's build) is switched off: it
// cost 2-4% of the loadgen's CPU per call and ~10% of the server's while
// streaming, for a check meant for debugging.
void PrepareGrpcProcess();

}  // namespace aurigraph
