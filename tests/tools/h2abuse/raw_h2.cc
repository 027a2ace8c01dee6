#include "tests/tools/h2abuse/raw_h2.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <nghttp2/nghttp2.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"

namespace aurigraph::h2abuse {
namespace {

constexpr uint8_t kData = 0x0, kHeaders = 0x1, kRstStream = 0x3, kSettings = 0x4, kPing = 0x6,
                  kGoaway = 0x7, kWindowUpdate = 0x8, kContinuation = 0x9;
constexpr uint8_t kEndStream = 0x1, kAck = 0x1, kEndHeaders = 0x4, kPadded = 0x8, kPriority = 0x20;
constexpr uint32_t kMaxWindow = 0x7fffffff;

void PutUint32(std::string& out, uint32_t value) {
  for (int shift = 24; shift >= 0; shift -= 8) out.push_back(static_cast<char>(value >> shift));
}
uint32_t GetUint32(std::string_view in) {
  return (static_cast<uint32_t>(static_cast<uint8_t>(in[0])) << 24) |
         (static_cast<uint32_t>(static_cast<uint8_t>(in[1])) << 16) |
         (static_cast<uint32_t>(static_cast<uint8_t>(in[2])) << 8) |
         static_cast<uint32_t>(static_cast<uint8_t>(in[3]));
}

}  // namespace

std::string ErrorCodeName(uint32_t code) {
  static const char* const kNames[] = {"NO_ERROR",
                                       "PROTOCOL_ERROR",
                                       "INTERNAL_ERROR",
                                       "FLOW_CONTROL_ERROR",
                                       "SETTINGS_TIMEOUT",
                                       "STREAM_CLOSED",
                                       "FRAME_SIZE_ERROR",
                                       "REFUSED_STREAM",
                                       "CANCEL",
                                       "COMPRESSION_ERROR",
                                       "CONNECT_ERROR",
                                       "ENHANCE_YOUR_CALM",
                                       "INADEQUATE_SECURITY",
                                       "HTTP_1_1_REQUIRED"};
  return code < std::size(kNames) ? kNames[code] : absl::StrCat("0x", absl::Hex(code));
}

absl::StatusOr<std::unique_ptr<RawH2Connection>> RawH2Connection::Connect(
    const std::string& target) {
  const size_t colon = target.rfind(':');
  if (colon == std::string::npos) return absl::InvalidArgumentError("target: expected HOST:PORT");
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  if (getaddrinfo(target.substr(0, colon).c_str(), target.substr(colon + 1).c_str(), &hints,
                  &found) != 0 ||
      found == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat(target, ": cannot resolve"));
  }
  const int fd = socket(found->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  const int connected = fd < 0 ? -1 : connect(fd, found->ai_addr, found->ai_addrlen);
  freeaddrinfo(found);
  if (connected != 0) {
    if (fd >= 0) close(fd);
    return absl::UnavailableError(absl::StrCat(target, ": cannot connect (", strerror(errno), ")"));
  }
  const int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
  return std::unique_ptr<RawH2Connection>(new RawH2Connection(fd));
}

RawH2Connection::RawH2Connection(int fd) : fd_(fd) {
  nghttp2_hd_deflate_new(&deflater_, 4096);
  nghttp2_hd_inflate_new(&inflater_);
  out_ = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
  // Our receive windows as large as HTTP/2 allows, topped up as DATA arrives,
  // so the server is never held back by this client's flow control.
  std::string settings;
  settings += std::string("\x00\x04", 2);  // SETTINGS_INITIAL_WINDOW_SIZE
  PutUint32(settings, kMaxWindow);
  WriteFrame(kSettings, 0, 0, settings);
  std::string increment;
  PutUint32(increment, kMaxWindow - 65535);
  WriteFrame(kWindowUpdate, 0, 0, increment);
}

RawH2Connection::~RawH2Connection() {
  nghttp2_hd_deflate_del(deflater_);
  nghttp2_hd_inflate_del(inflater_);
  close(fd_);
}

void RawH2Connection::WriteFrame(uint8_t type, uint8_t flags, int32_t stream,
                                 std::string_view payload) {
  const uint32_t length = payload.size();
  out_.push_back(static_cast<char>(length >> 16));
  out_.push_back(static_cast<char>(length >> 8));
  out_.push_back(static_cast<char>(length));
  out_.push_back(static_cast<char>(type));
  out_.push_back(static_cast<char>(flags));
  PutUint32(out_, static_cast<uint32_t>(stream) & kMaxWindow);
  out_.append(payload);
}

int32_t RawH2Connection::Open(const std::string& path, const Headers& extra, bool end_stream,
                              bool end_headers) {
  Headers headers = {{":method", "POST"},
                     {":scheme", "http"},
                     {":path", path},
                     {":authority", "localhost"},
                     {"content-type", "application/grpc"},
                     {"te", "trailers"}};
  headers.insert(headers.end(), extra.begin(), extra.end());
  std::vector<nghttp2_nv> nv;
  for (auto& [name, value] : headers) {
    nv.push_back({reinterpret_cast<uint8_t*>(name.data()), reinterpret_cast<uint8_t*>(value.data()),
                  name.size(), value.size(), NGHTTP2_NV_FLAG_NONE});
  }
  std::string block(nghttp2_hd_deflate_bound(deflater_, nv.data(), nv.size()), '\0');
  const ssize_t length = nghttp2_hd_deflate_hd(deflater_, reinterpret_cast<uint8_t*>(block.data()),
                                               block.size(), nv.data(), nv.size());
  block.resize(length < 0 ? 0 : length);
  const int32_t id = next_stream_id_;
  next_stream_id_ += 2;
  WriteFrame(kHeaders, (end_headers ? kEndHeaders : 0) | (end_stream ? kEndStream : 0), id, block);
  Stream& stream = streams_[id];
  stream.outcome.stream_id = id;
  stream.send_window = initial_stream_window_;
  return id;
}

void RawH2Connection::Continue(int32_t stream, std::string_view fragment, bool end_headers) {
  WriteFrame(kContinuation, end_headers ? kEndHeaders : 0, stream, fragment);
}

void RawH2Connection::Send(int32_t stream, std::string bytes, bool end_stream) {
  auto it = streams_.find(stream);
  if (it == streams_.end()) return;
  it->second.pending.emplace_back(std::move(bytes), end_stream);
  MoveDataToOutput();
}

void RawH2Connection::Reset(int32_t stream, uint32_t code) {
  std::string payload;
  PutUint32(payload, code);
  WriteFrame(kRstStream, 0, stream, payload);
  streams_.erase(stream);
}

void RawH2Connection::MoveDataToOutput() {
  for (auto& [id, stream] : streams_) {
    while (!stream.pending.empty()) {
      auto& [bytes, end_stream] = stream.pending.front();
      const int64_t window = std::min(connection_send_window_, stream.send_window);
      const size_t chunk = std::min(
          {bytes.size(), max_frame_size_, static_cast<size_t>(std::max<int64_t>(0, window))});
      if (chunk == 0 && !bytes.empty()) break;
      const bool last = chunk == bytes.size();
      WriteFrame(kData, last && end_stream ? kEndStream : 0, id,
                 std::string_view(bytes).substr(0, chunk));
      connection_send_window_ -= chunk;
      stream.send_window -= chunk;
      if (last) {
        stream.pending.pop_front();
      } else {
        bytes.erase(0, chunk);
      }
    }
  }
}

bool RawH2Connection::Pump(int timeout_ms) {
  if (closed_) return false;
  pollfd p{fd_, static_cast<short>(POLLIN | (pending_output() > 0 ? POLLOUT : 0)), 0};
  if (poll(&p, 1, timeout_ms) < 0) return !closed_;
  if (p.revents & POLLOUT) {
    const ssize_t n = send(fd_, out_.data() + out_offset_, pending_output(), MSG_NOSIGNAL);
    if (n > 0) {
      out_offset_ += n;
      if (out_offset_ == out_.size() || out_offset_ > (1 << 20)) {
        out_.erase(0, out_offset_);
        out_offset_ = 0;
      }
    } else if (n < 0 && errno != EAGAIN && errno != EINTR) {
      closed_ = true;
    }
  }
  if (p.revents & (POLLIN | POLLHUP | POLLERR)) {
    if (!ReadFrames()) closed_ = true;
  }
  return !closed_;
}

bool RawH2Connection::Drain(int timeout_ms) {
  while (pending_output() > 0 && Pump(timeout_ms)) {
  }
  return !closed_;
}

bool RawH2Connection::ReadFrames() {
  char buffer[65536];
  for (;;) {
    const ssize_t n = recv(fd_, buffer, sizeof(buffer), 0);
    if (n == 0) return false;
    if (n < 0) return errno == EAGAIN || errno == EINTR;
    in_.append(buffer, n);
    size_t offset = 0;
    while (in_.size() - offset >= 9) {
      const std::string_view header(in_.data() + offset, 9);
      const uint32_t length = GetUint32(header) >> 8;
      if (in_.size() - offset < 9 + length) break;
      const int32_t stream = GetUint32(header.substr(5)) & kMaxWindow;
      HandleFrame(static_cast<uint8_t>(header[3]), static_cast<uint8_t>(header[4]), stream,
                  std::string_view(in_.data() + offset + 9, length));
      offset += 9 + length;
    }
    in_.erase(0, offset);
    MoveDataToOutput();
  }
}

void RawH2Connection::HandleFrame(uint8_t type, uint8_t flags, int32_t stream_id,
                                  std::string_view payload) {
  auto it = streams_.find(stream_id);
  switch (type) {
    case kSettings:
      if (flags & kAck) return;
      settings_received_ = true;
      for (size_t i = 0; i + 6 <= payload.size(); i += 6) {
        const uint16_t id =
            (static_cast<uint8_t>(payload[i]) << 8) | static_cast<uint8_t>(payload[i + 1]);
        const uint32_t value = GetUint32(payload.substr(i + 2));
        if (id == 0x3) server_max_concurrent_streams_ = value;
        if (id == 0x5) max_frame_size_ = value;
        if (id == 0x4) {
          for (auto& [_, s] : streams_)
            s.send_window += static_cast<int64_t>(value) - initial_stream_window_;
          initial_stream_window_ = value;
        }
      }
      if (ack_settings_) WriteFrame(kSettings, kAck, 0, "");
      return;
    case kPing:
      if (!(flags & kAck)) WriteFrame(kPing, kAck, 0, payload);
      return;
    case kWindowUpdate:
      if (payload.size() < 4) return;
      if (stream_id == 0) {
        connection_send_window_ += GetUint32(payload) & kMaxWindow;
      } else if (it != streams_.end()) {
        it->second.send_window += GetUint32(payload) & kMaxWindow;
      }
      return;
    case kGoaway:
      if (payload.size() < 8) return;
      goaway_received_ = true;
      goaway_last_stream_ = GetUint32(payload) & kMaxWindow;
      goaway_code_ = GetUint32(payload.substr(4));
      goaway_debug_ = std::string(payload.substr(8));
      return;
    case kRstStream:
      if (it == streams_.end() || payload.size() < 4) return;
      it->second.outcome.reset = true;
      it->second.outcome.reset_code = GetUint32(payload);
      Finish(stream_id);
      return;
    case kData: {
      if (!payload.empty()) {
        std::string increment;
        PutUint32(increment, payload.size());
        WriteFrame(kWindowUpdate, 0, 0, increment);
      }
      if (it == streams_.end()) return;
      size_t pad = 0;
      if (flags & kPadded && !payload.empty()) {
        pad = static_cast<uint8_t>(payload[0]);
        payload.remove_prefix(1);
      }
      it->second.outcome.body.append(
          payload.substr(0, payload.size() - std::min(pad, payload.size())));
      if (flags & kEndStream) Finish(stream_id);
      return;
    }
    case kHeaders:
    case kContinuation: {
      if (type == kHeaders) {
        size_t pad = 0;
        if (flags & kPadded && !payload.empty()) {
          pad = static_cast<uint8_t>(payload[0]);
          payload.remove_prefix(1);
        }
        if (flags & kPriority) payload.remove_prefix(std::min<size_t>(5, payload.size()));
        payload.remove_suffix(std::min(pad, payload.size()));
        headers_end_stream_ = flags & kEndStream;
      }
      // Header blocks are decoded even for streams we gave up on: HPACK state is per connection.
      Stream& stream = it == streams_.end() ? discarded_ : it->second;
      stream.header_block.append(payload);
      if (flags & kEndHeaders) {
        DecodeHeaders(stream);
        stream.header_block.clear();
        if (headers_end_stream_ && it != streams_.end()) Finish(stream_id);
      }
      return;
    }
    default:
      return;
  }
}

void RawH2Connection::DecodeHeaders(Stream& stream) {
  auto* in = reinterpret_cast<const uint8_t*>(stream.header_block.data());
  size_t left = stream.header_block.size();
  for (;;) {
    nghttp2_nv nv;
    int flags = 0;
    const ssize_t used = nghttp2_hd_inflate_hd2(inflater_, &nv, &flags, in, left, 1);
    if (used < 0) return;
    in += used;
    left -= used;
    if (flags & NGHTTP2_HD_INFLATE_EMIT) {
      const std::string_view name(reinterpret_cast<const char*>(nv.name), nv.namelen);
      const std::string value(reinterpret_cast<const char*>(nv.value), nv.valuelen);
      if (name == "grpc-status") stream.outcome.grpc_status = std::atoi(value.c_str());
      if (name == "grpc-message") stream.outcome.grpc_message = value;
    }
    if (flags & NGHTTP2_HD_INFLATE_FINAL) {
      nghttp2_hd_inflate_end_headers(inflater_);
      return;
    }
    if (used == 0 && left == 0) return;
  }
}

void RawH2Connection::Finish(int32_t stream_id) {
  auto it = streams_.find(stream_id);
  if (it == streams_.end()) return;
  StreamOutcome outcome = std::move(it->second.outcome);
  streams_.erase(it);
  if (on_done_) on_done_(outcome);
}

}  // namespace aurigraph::h2abuse
