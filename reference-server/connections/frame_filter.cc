#include "reference-server/connections/frame_filter.h"

#include <nghttp2/nghttp2.h>

#include <algorithm>
#include <vector>

#include "absl/strings/str_cat.h"
#include "reference-server/connections/http2_frame.h"

namespace aurigraph::refserver {

namespace {

constexpr std::string_view kPreface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
constexpr uint32_t kMaxClientFrameSize = 64 << 10;

}  // namespace

struct FrameFilter::FrameView {
  http2::FrameHeader header;
  std::string_view whole;    // header and payload
  std::string_view payload;  // ... payload only
};

FrameFilter::FrameFilter(Limits limits, StreamBudget* budget) : limits_(limits), budget_(budget) {
  nghttp2_hd_inflate_new(&inflater_);
  nghttp2_hd_deflate_new(&deflater_, 4096);
}

FrameFilter::~FrameFilter() {
  ForgetStreams();
  nghttp2_hd_inflate_del(inflater_);
  nghttp2_hd_deflate_del(deflater_);
}

StreamCounts FrameFilter::counts() const { return {"", started_, succeeded_, failed_}; }

FrameFilter::Stream* FrameFilter::Find(uint32_t stream) {
  auto it = streams_.find(stream);
  return it == streams_.end() ? nullptr : &it->second;
}

void FrameFilter::FromClient(std::string_view bytes) {
  if (closed()) return;
  client_in_.append(bytes);
  size_t at = 0;
  if (!preface_seen_) {
    const size_t compared = std::min(client_in_.size(), kPreface.size());
    if (client_in_.compare(0, compared, kPreface.substr(0, compared)) != 0) {
      Fail(Ending::kProtocolError, http2::kProtocolError, "not an HTTP/2 connection preface");
      return;
    }
    if (compared < kPreface.size()) return;
    to_server_.append(kPreface);
    at = kPreface.size();
    preface_seen_ = true;
  }
  while (!closed() && client_in_.size() - at >= http2::kFrameHeaderBytes) {
    const http2::FrameHeader header = http2::ParseFrameHeader(client_in_.data() + at);
    if (header.length > max_client_frame_) {
      Fail(Ending::kProtocolError, http2::kFrameSizeError,
           absl::StrCat("a frame of ", header.length, " bytes, beyond the ", max_client_frame_,
                        " SETTINGS_MAX_FRAME_SIZE allows"));
      break;
    }
    const size_t size = http2::kFrameHeaderBytes + header.length;
    if (client_in_.size() - at < size) break;
    const std::string_view whole = std::string_view(client_in_).substr(at, size);
    OnClientFrame({header, whole, whole.substr(http2::kFrameHeaderBytes)});
    at += size;
  }
  if (closed()) {
    client_in_.clear();
  } else {
    client_in_.erase(0, at);
  }
}

void FrameFilter::OnClientFrame(const FrameView& frame) {
  const http2::FrameHeader& h = frame.header;
  if (client_in_block_ && h.type != http2::kContinuation) {
    Fail(Ending::kProtocolError, http2::kProtocolError,
         "a frame inside a header block (RFC 9113 section 4.3)");
    return;
  }
  const bool on_stream = h.type == http2::kData || h.type == http2::kRstStream;
  if (on_stream && (h.stream == 0 || h.stream > last_client_stream_)) {
    Fail(Ending::kProtocolError, http2::kProtocolError,
         absl::StrCat(h.type == http2::kData ? "DATA" : "RST_STREAM", " on stream ", h.stream,
                      h.stream == 0 ? "" : ", which the client never opened"));
    return;
  }
  if (h.type == http2::kWindowUpdate && h.stream > last_client_stream_) {
    Fail(Ending::kProtocolError, http2::kProtocolError,
         absl::StrCat("WINDOW_UPDATE on stream ", h.stream, ", which the client never opened"));
    return;
  }
  switch (h.type) {
    case http2::kHeaders: {
      if (h.stream == 0 || h.stream % 2 == 0) {
        Fail(Ending::kProtocolError, http2::kProtocolError,
             absl::StrCat("HEADERS on stream ", h.stream, ", not one a client may open"));
        return;
      }
      std::string_view fragment = frame.payload;
      if (h.flags & http2::kPadded) {
        const size_t padding = fragment.empty() ? 0 : static_cast<unsigned char>(fragment[0]);
        if (fragment.empty() || padding >= fragment.size()) {
          Fail(Ending::kProtocolError, http2::kProtocolError, "HEADERS padded beyond its length");
          return;
        }
        fragment = fragment.substr(1, fragment.size() - 1 - padding);
      }
      if (h.flags & http2::kPriorityFlag) {
        if (fragment.size() < 5) {
          Fail(Ending::kProtocolError, http2::kProtocolError, "HEADERS too short for its priority");
          return;
        }
        fragment.remove_prefix(5);
      }
      client_in_block_ = true;
      block_stream_ = h.stream;
      block_end_stream_ = (h.flags & http2::kEndStream) != 0;
      block_.assign(fragment);
      break;
    }
    case http2::kContinuation:
      if (!client_in_block_ || h.stream != block_stream_) {
        Fail(Ending::kProtocolError, http2::kProtocolError, "CONTINUATION without its HEADERS");
        return;
      }
      block_.append(frame.payload);
      break;
    case http2::kData: {
      Stream* stream = Find(h.stream);
      if (stream == nullptr || stream->client_ended) {
        if (h.length > 0) http2::AppendWindowUpdate(ClientOut(), 0, h.length);
        return;
      }
      to_server_.append(frame.whole);
      if (h.flags & http2::kEndStream) {
        stream->client_ended = true;
        RetireIfEnded(h.stream, *stream);
      }
      return;
    }
    case http2::kRstStream: {
      Stream* stream = Find(h.stream);
      if (stream == nullptr) return;
      to_server_.append(frame.whole);
      ++(stream->server_ended ? succeeded_ : failed_);
      Forget(h.stream);
      return;
    }
    case http2::kWindowUpdate:
      if (h.stream == 0 || Find(h.stream) != nullptr) to_server_.append(frame.whole);
      return;
    case http2::kSettings:
      if (h.flags & http2::kAck) settings_acknowledged_ = true;
      to_server_.append(frame.whole);
      return;
    case http2::kPing:
    case http2::kGoaway:
      to_server_.append(frame.whole);
      return;
    case http2::kPushPromise:
      Fail(Ending::kProtocolError, http2::kProtocolError, "PUSH_PROMISE from a client");
      return;
    default:  // PRIORITY (gRPC has no use for it) and unknown types (RFC 9113 section 5.5)
      return;
  }
  if (block_.size() > limits_.max_header_block_bytes) {
    Fail(Ending::kHeaderLimit, http2::kEnhanceYourCalm,
         absl::StrCat("a header block of more than ", limits_.max_header_block_bytes, " bytes"));
    return;
  }
  if (h.flags & http2::kEndHeaders) EndClientBlock();
}

bool FrameFilter::DecodeClientBlock() {
  fields_.clear();
  field_bytes_.clear();
  size_t list_bytes = 0;
  const http2::Inflated inflated =
      http2::InflateHeaderBlock(inflater_, block_, [&](const nghttp2_nv& field) {
        list_bytes += field.namelen + field.valuelen + 32;
        if (list_bytes > limits_.max_header_list_bytes) return false;
        fields_.push_back({field_bytes_.size(), field.namelen, field.valuelen, field.flags});
        field_bytes_.append(reinterpret_cast<const char*>(field.name), field.namelen);
        field_bytes_.append(reinterpret_cast<const char*>(field.value), field.valuelen);
        return true;
      });
  if (inflated == http2::Inflated::kStopped) {
    Fail(Ending::kHeaderLimit, http2::kEnhanceYourCalm,
         absl::StrCat("a header list of more than ", limits_.max_header_list_bytes, " bytes"));
  } else if (inflated == http2::Inflated::kBroken) {
    Fail(Ending::kProtocolError, http2::kCompressionError,
         "a header block that does not decode (HPACK)");
  }
  return inflated == http2::Inflated::kDone;
}

void FrameFilter::EndClientBlock() {
  client_in_block_ = false;
  if (!DecodeClientBlock()) return;
  const uint32_t id = block_stream_;
  if (id > last_client_stream_) {  // a new stream
    last_client_stream_ = id;
    if (id > server_goaway_last_stream_) {  // gRPC said it takes no more
      http2::AppendRstStream(ClientOut(), id, http2::kRefusedStream);
      return;
    }
    if (open_streams() >= limits_.max_concurrent_streams) {
      http2::AppendRstStream(ClientOut(), id, http2::kRefusedStream);
      // Before it acknowledged SETTINGS a client may not know the limit yet.
      const int64_t bound =
          settings_acknowledged_ ? limits_.max_refused_streams : 4 * limits_.max_refused_streams;
      if (++refused_ >= bound) {
        Fail(Ending::kStreamLimit, http2::kEnhanceYourCalm,
             absl::StrCat(refused_, " streams opened beyond the ", limits_.max_concurrent_streams,
                          " SETTINGS_MAX_CONCURRENT_STREAMS allows"));
      }
      return;
    }
    if (budget_ != nullptr) {
      if (!budget_->Admits(open_streams())) {
        http2::AppendRstStream(ClientOut(), id, http2::kRefusedStream);
        ++shed_;
        return;
      }
      budget_->Opened(open_streams());
    }
    streams_[id] = Stream{block_end_stream_, false};
    ++started_;
    last_forwarded_stream_ = id;
    ForwardHeaders(id, block_end_stream_);
    return;
  }
  Stream* stream = Find(id);
  if (stream == nullptr || stream->client_ended) return;  // not a stream gRPC holds
  ForwardHeaders(id, block_end_stream_);                  // trailers
  if (closed()) return;
  if (block_end_stream_) {
    stream->client_ended = true;
    RetireIfEnded(id, *stream);
  }
}

void FrameFilter::ForwardHeaders(uint32_t stream, bool end_stream) {
  thread_local std::vector<nghttp2_nv> fields;  // kept, so that a call allocates nothing
  fields.clear();
  for (const Field& f : fields_) {
    auto* base = reinterpret_cast<uint8_t*>(field_bytes_.data() + f.offset);
    fields.push_back({base, base + f.name_length, f.name_length, f.value_length,
                      static_cast<uint8_t>(f.flags & NGHTTP2_NV_FLAG_NO_INDEX)});
  }
  encoded_.resize(nghttp2_hd_deflate_bound(deflater_, fields.data(), fields.size()));
  const ssize_t length =
      nghttp2_hd_deflate_hd(deflater_, reinterpret_cast<uint8_t*>(encoded_.data()), encoded_.size(),
                            fields.data(), fields.size());
  if (length < 0) {
    Fail(Ending::kProtocolError, http2::kCompressionError,
         absl::StrCat("headers that do not encode (", nghttp2_strerror(length), ")"));
    return;
  }
  const std::string_view block(encoded_.data(), static_cast<size_t>(length));
  size_t at = 0;
  do {
    const size_t chunk = std::min<size_t>(block.size() - at, http2::kMinMaxFrameSize);
    uint8_t flags = at + chunk == block.size() ? http2::kEndHeaders : 0;
    if (at == 0 && end_stream) flags |= http2::kEndStream;
    http2::AppendFrame(to_server_, at == 0 ? http2::kHeaders : http2::kContinuation, flags, stream,
                       block.substr(at, chunk));
    at += chunk;
  } while (at < block.size());
}

void FrameFilter::RetireIfEnded(uint32_t stream, const Stream& state) {
  if (!state.client_ended || !state.server_ended) return;
  ++succeeded_;
  Forget(stream);
}

void FrameFilter::ForgetStreams() {
  if (budget_ != nullptr) budget_->Closed(open_streams(), 0);
  streams_.clear();
}

void FrameFilter::Forget(uint32_t stream) {
  streams_.erase(stream);
  if (budget_ != nullptr) budget_->Closed(1, open_streams());
}

void FrameFilter::FromServer(std::string_view bytes) {
  if (closed() && !goaway_pending_) return;
  server_in_.append(bytes);
  size_t at = 0;
  while (server_in_.size() - at >= http2::kFrameHeaderBytes) {
    const http2::FrameHeader header = http2::ParseFrameHeader(server_in_.data() + at);
    const size_t size = http2::kFrameHeaderBytes + header.length;
    if (server_in_.size() - at < size) break;
    const std::string_view whole = std::string_view(server_in_).substr(at, size);
    OnServerFrame({header, whole, whole.substr(http2::kFrameHeaderBytes)});
    at += size;
    if (closed() && !goaway_pending_) break;
  }
  if (closed() && !goaway_pending_) {
    server_in_.clear();
  } else {
    server_in_.erase(0, at);
  }
}

void FrameFilter::OnServerFrame(const FrameView& frame) {
  const http2::FrameHeader& h = frame.header;
  if (closed()) {  // only the rest of gRPC's header block, then the GOAWAY
    to_client_.append(frame.whole);
    if (h.type == http2::kContinuation && (h.flags & http2::kEndHeaders)) {
      server_in_block_ = false;
      PlaceGoaway();
    }
    return;
  }
  const size_t frame_at = to_client_.size();
  to_client_.append(frame.whole);
  switch (h.type) {
    case http2::kHeaders:
    case http2::kData:
      if (h.type == http2::kHeaders) server_in_block_ = (h.flags & http2::kEndHeaders) == 0;
      if (h.flags & http2::kEndStream) {
        if (Stream* stream = Find(h.stream)) {
          stream->server_ended = true;
          RetireIfEnded(h.stream, *stream);
        }
      }
      break;
    case http2::kContinuation:
      if (h.flags & http2::kEndHeaders) server_in_block_ = false;
      break;
    case http2::kGoaway:
      if (frame.payload.size() >= 8) {
        server_goaway_last_stream_ = std::min(
            server_goaway_last_stream_, http2::ReadUint32(frame.payload.data()) & 0x7fffffffu);
      }
      break;
    case http2::kRstStream:
      if (Find(h.stream) != nullptr) {
        ++succeeded_;
        Forget(h.stream);
      }
      break;
    case http2::kSettings:
      if (h.flags & http2::kAck) break;
      for (size_t at = 0; at + 6 <= frame.payload.size(); at += 6) {
        const auto id = static_cast<uint16_t>(static_cast<unsigned char>(frame.payload[at]) << 8 |
                                              static_cast<unsigned char>(frame.payload[at + 1]));
        const uint32_t value = http2::ReadUint32(frame.payload.data() + at + 2);
        if (id == http2::kMaxFrameSize) {
          // gRPC raises it with its bandwidth estimate (to 16 MiB); the
          // client is told at most kMaxClientFrameSize, so that a frame the
          // filter holds back while it arrives stays small.
          const uint32_t told = std::min(value, kMaxClientFrameSize);
          char* field = to_client_.data() + frame_at + http2::kFrameHeaderBytes + at + 2;
          for (int i = 0; i < 4; ++i) field[i] = static_cast<char>(told >> (24 - 8 * i));
          max_client_frame_ = std::max(max_client_frame_, told);
        } else if (id == http2::kHeaderTableSize) {
          if (value > inflater_table_size_) {
            // The client may use the larger table once it has read this.
            inflater_table_size_ = value;
            nghttp2_hd_inflate_change_table_size(inflater_, value);
          }
          // gRPC's decoder of the filter's blocks: never a larger table than it allows.
          nghttp2_hd_deflate_change_table_size(deflater_, std::min<uint32_t>(value, 4096));
        }
      }
      break;
    default:
      break;
  }
  if (!server_in_block_ && !held_for_client_.empty()) {
    to_client_.append(held_for_client_);
    held_for_client_.clear();
  }
}

void FrameFilter::Close(uint32_t error_code, std::string_view reason) {
  Fail(Ending::kClosed, error_code, reason);
}

void FrameFilter::Fail(Ending ending, uint32_t error_code, std::string_view reason) {
  if (closed()) return;
  ending_ = ending;
  reason_ = std::string(reason);
  to_server_.clear();
  ForgetStreams();
  // Never a last stream above one gRPC already gave (RFC 9113 section 6.8).
  http2::AppendGoaway(goaway_, std::min(last_forwarded_stream_, server_goaway_last_stream_),
                      error_code, reason);
  goaway_pending_ = true;
  if (!server_in_block_) PlaceGoaway();
}

void FrameFilter::PlaceGoaway() {
  to_client_.append(held_for_client_);
  held_for_client_.clear();
  to_client_.append(goaway_);
  goaway_.clear();
  goaway_pending_ = false;
}

}  // namespace aurigraph::refserver
