// A call a follower forwards to the cluster's leader carries the name of the
// node it came from (kForwardedHeader), so it is never forwarded again.
#pragma once

#include <grpcpp/server_context.h>

#include <string>
#include <string_view>

namespace aurigraph::refserver {

inline constexpr std::string_view kForwardedHeader = "x-aurigraph-forwarded-by";

// The node that forwarded the call; empty when a client sent it.
inline std::string ForwardedBy(const grpc::CallbackServerContext& context) {
  const auto it = context.client_metadata().find(
      grpc::string_ref(kForwardedHeader.data(), kForwardedHeader.size()));
  return it == context.client_metadata().end() ? ""
                                               : std::string(it->second.data(), it->second.size());
}

}  // namespace aurigraph::refserver
