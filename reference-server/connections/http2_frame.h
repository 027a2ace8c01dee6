// HTTP/2 frame layout (RFC 9113 section 4), shared by the connection guard and
// the front: the 9-byte header, and the control frames the server writes.
#pragma once

#include <nghttp2/nghttp2.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace aurigraph::refserver::http2 {

inline constexpr size_t kFrameHeaderBytes = 9;
inline constexpr uint32_t kMinMaxFrameSize = 16384;  // SETTINGS_MAX_FRAME_SIZE's initial value

enum FrameType : uint8_t {
  kData = 0,
  kHeaders = 1,
  kPriority = 2,
  kRstStream = 3,
  kSettings = 4,
  kPushPromise = 5,
  kPing = 6,
  kGoaway = 7,
  kWindowUpdate = 8,
  kContinuation = 9,
};

enum FrameFlag : uint8_t {
  kEndStream = 0x1,  // DATA, HEADERS
  kAck = 0x1,        // SETTINGS, PING
  kEndHeaders = 0x4,
  kPadded = 0x8,
  kPriorityFlag = 0x20,
};

enum ErrorCode : uint32_t {
  kNoError = 0x0,
  kProtocolError = 0x1,
  kFrameSizeError = 0x6,
  kRefusedStream = 0x7,
  kCompressionError = 0x9,
  kEnhanceYourCalm = 0xb,
};

enum SettingId : uint16_t {
  kHeaderTableSize = 0x1,
  kMaxFrameSize = 0x5,
};

struct FrameHeader {
  uint32_t length;
  uint8_t type;
  uint8_t flags;
  uint32_t stream;  // the reserved bit cleared
};

// `bytes` holds at least kFrameHeaderBytes.
FrameHeader ParseFrameHeader(const char* bytes);
uint32_t ReadUint32(const char* bytes);  // big-endian

void AppendFrame(std::string& out, uint8_t type, uint8_t flags, uint32_t stream,
                 std::string_view payload);
void AppendRstStream(std::string& out, uint32_t stream, uint32_t error_code);
void AppendWindowUpdate(std::string& out, uint32_t stream, uint32_t increment);
// `last_stream`: the highest stream the sender may have acted on.
void AppendGoaway(std::string& out, uint32_t last_stream, uint32_t error_code,
                  std::string_view debug);

enum class Inflated { kDone, kBroken, kStopped };
// Decodes one whole header block in `inflater`'s context (nghttp2's HPACK),
// calling `on_field(const nghttp2_nv&)` for each field in order until it
// returns false (kStopped); kBroken when the block does not decode, leaving
// the context unusable.
template <typename OnField>
Inflated InflateHeaderBlock(nghttp2_hd_inflater* inflater, std::string_view block,
                            OnField&& on_field) {
  const auto* in = reinterpret_cast<const uint8_t*>(block.data());
  size_t left = block.size();
  for (;;) {
    nghttp2_nv field;
    int flags = 0;
    const ssize_t used = nghttp2_hd_inflate_hd2(inflater, &field, &flags, in, left, 1);
    if (used < 0) return Inflated::kBroken;
    in += used;
    left -= static_cast<size_t>(used);
    if ((flags & NGHTTP2_HD_INFLATE_EMIT) && !on_field(field)) return Inflated::kStopped;
    if (flags & NGHTTP2_HD_INFLATE_FINAL) {
      nghttp2_hd_inflate_end_headers(inflater);
      return Inflated::kDone;
    }
    if ((flags & NGHTTP2_HD_INFLATE_EMIT) == 0 && left == 0) return Inflated::kBroken;
  }
}

}  // namespace aurigraph::refserver::http2
