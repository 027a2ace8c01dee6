// The reference server's HTTP/2 filter (--http2-front), which reads whatever
// a client sends. The input is a sequence of records: a byte (bit 0: the
// bytes are gRPC's, not the client's; bit 1: close the connection after
// them), a 2-byte big-endian length, then that many bytes; the client's bytes
// are preceded by the connection preface. Whatever the input, what the
// filter writes either way is whole frames, the header blocks it gives gRPC
// decode, the streams it gave gRPC stay within the limit, and once closed it
// gives gRPC nothing more.
#include <nghttp2/nghttp2.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "reference-server/connections/frame_filter.h"
#include "reference-server/connections/http2_frame.h"

namespace {

using aurigraph::refserver::FrameFilter;
namespace http2 = aurigraph::refserver::http2;

// Checks `bytes` (taken from the front of `out`) are whole frames; decodes the
// header blocks with `inflater` when it is given.
void CheckFrames(std::string& out, size_t skip, nghttp2_hd_inflater* inflater) {
  std::string_view bytes = std::string_view(out).substr(skip);
  std::string block;
  while (!bytes.empty()) {
    if (bytes.size() < http2::kFrameHeaderBytes) __builtin_trap();
    const http2::FrameHeader h = http2::ParseFrameHeader(bytes.data());
    if (bytes.size() < http2::kFrameHeaderBytes + h.length) __builtin_trap();
    const std::string_view payload = bytes.substr(http2::kFrameHeaderBytes, h.length);
    if (inflater != nullptr && (h.type == http2::kHeaders || h.type == http2::kContinuation)) {
      block.append(payload);
      if (h.flags & http2::kEndHeaders) {
        // The filter's own encoding must decode.
        if (http2::InflateHeaderBlock(inflater, block, [](const nghttp2_nv&) { return true; }) !=
            http2::Inflated::kDone) {
          __builtin_trap();
        }
        block.clear();
      }
    }
    bytes.remove_prefix(http2::kFrameHeaderBytes + h.length);
  }
  out.clear();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  FrameFilter::Limits limits;
  limits.max_concurrent_streams = 4;
  limits.max_refused_streams = 16;
  limits.max_header_block_bytes = 4096;
  limits.max_header_list_bytes = 4096;
  FrameFilter filter(limits);
  nghttp2_hd_inflater* grpc = nullptr;  // gRPC's decoder of the filter's header blocks
  nghttp2_hd_inflate_new(&grpc);
  constexpr std::string_view kPreface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
  filter.FromClient(kPreface);
  const bool forwarded_preface = filter.to_server() == kPreface;
  if (!forwarded_preface) __builtin_trap();
  filter.to_server().clear();
  std::string_view input(reinterpret_cast<const char*>(data), size);
  while (input.size() >= 3) {
    const uint8_t what = static_cast<uint8_t>(input[0]);
    const size_t length = static_cast<uint8_t>(input[1]) << 8 | static_cast<uint8_t>(input[2]);
    input.remove_prefix(3);
    const std::string_view bytes = input.substr(0, length);
    input.remove_prefix(bytes.size());
    const bool was_closed = filter.closed();
    if (what & 1) {
      filter.FromServer(bytes);
    } else {
      filter.FromClient(bytes);
    }
    if (what & 2) filter.Close(http2::kEnhanceYourCalm, "fuzz");
    if (was_closed && !filter.to_server().empty()) __builtin_trap();
    if (filter.open_streams() > limits.max_concurrent_streams) __builtin_trap();
    CheckFrames(filter.to_server(), 0, grpc);
    CheckFrames(filter.to_client(), 0, nullptr);
  }
  nghttp2_hd_inflate_del(grpc);
  return 0;
}
