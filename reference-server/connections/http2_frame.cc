#include "reference-server/connections/http2_frame.h"

namespace aurigraph::refserver::http2 {

namespace {

void AppendUint32(std::string& out, uint32_t value) {
  for (int shift : {24, 16, 8, 0}) out.push_back(static_cast<char>(value >> shift));
}

}  // namespace

uint32_t ReadUint32(const char* bytes) {
  const auto* b = reinterpret_cast<const unsigned char*>(bytes);
  return uint32_t{b[0]} << 24 | uint32_t{b[1]} << 16 | uint32_t{b[2]} << 8 | uint32_t{b[3]};
}

FrameHeader ParseFrameHeader(const char* bytes) {
  const auto* b = reinterpret_cast<const unsigned char*>(bytes);
  return FrameHeader{uint32_t{b[0]} << 16 | uint32_t{b[1]} << 8 | uint32_t{b[2]}, b[3], b[4],
                     ReadUint32(bytes + 5) & 0x7fffffffu};
}

void AppendFrame(std::string& out, uint8_t type, uint8_t flags, uint32_t stream,
                 std::string_view payload) {
  const auto length = static_cast<uint32_t>(payload.size());
  for (int shift : {16, 8, 0}) out.push_back(static_cast<char>(length >> shift));
  out.push_back(static_cast<char>(type));
  out.push_back(static_cast<char>(flags));
  AppendUint32(out, stream & 0x7fffffffu);
  out.append(payload);
}

void AppendRstStream(std::string& out, uint32_t stream, uint32_t error_code) {
  std::string payload;
  AppendUint32(payload, error_code);
  AppendFrame(out, kRstStream, 0, stream, payload);
}

void AppendWindowUpdate(std::string& out, uint32_t stream, uint32_t increment) {
  std::string payload;
  AppendUint32(payload, increment & 0x7fffffffu);
  AppendFrame(out, kWindowUpdate, 0, stream, payload);
}

void AppendGoaway(std::string& out, uint32_t last_stream, uint32_t error_code,
                  std::string_view debug) {
  std::string payload;
  AppendUint32(payload, last_stream & 0x7fffffffu);
  AppendUint32(payload, error_code);
  payload.append(debug);
  AppendFrame(out, kGoaway, 0, 0, payload);
}

}  // namespace aurigraph::refserver::http2
