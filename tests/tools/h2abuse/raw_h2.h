// A deliberately low-level HTTP/2 client for abuse tests: it writes the frames
// it is told to (HEADERS without a request, RST_STREAM right after HEADERS,
// streams beyond the server's SETTINGS_MAX_CONCURRENT_STREAMS), which a real
// HTTP/2 library would refuse or queue, and reports what the server answers:
// per-stream gRPC status, RST_STREAM, GOAWAY, or the connection closing.
// Single-threaded; everything happens inside Pump().
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"

struct nghttp2_hd_deflater;
struct nghttp2_hd_inflater;

namespace aurigraph::h2abuse {

// How one stream ended, as far as the server said.
struct StreamOutcome {
  int32_t stream_id = 0;
  int grpc_status = -1;      // -1: no grpc-status received
  std::string grpc_message;  // percent-decoding is not applied
  uint32_t reset_code = 0;   // RST_STREAM error code from the server; 0 when none
  bool reset = false;
  std::string body;  // DATA received (gRPC frames, undecoded)
};

class RawH2Connection {
 public:
  using Headers = std::vector<std::pair<std::string, std::string>>;

  // Connects to HOST:PORT (plaintext, prior knowledge) and sends the preface and SETTINGS.
  static absl::StatusOr<std::unique_ptr<RawH2Connection>> Connect(const std::string& target);
  ~RawH2Connection();

  // A new stream: HEADERS for POST `path` with gRPC's request headers plus
  // `extra`; without `end_headers` the header block goes on in Continue.
  int32_t Open(const std::string& path, const Headers& extra, bool end_stream,
               bool end_headers = true);
  // A CONTINUATION frame of `stream`'s header block: `fragment`, HPACK bytes.
  void Continue(int32_t stream, std::string_view fragment, bool end_headers);
  // DATA on `stream`, cut to the server's frame size and sent as its flow-control windows allow.
  void Send(int32_t stream, std::string bytes, bool end_stream);
  void Reset(int32_t stream, uint32_t code);

  // Writes what is pending and handles what arrives for up to `timeout_ms`
  // (0: only what is ready now). Returns false once the connection is closed.
  bool Pump(int timeout_ms);
  // Pumps until nothing is left to write (or the connection closes).
  bool Drain(int timeout_ms);

  // Never acknowledge the server's SETTINGS: HTTP/2 lets a server apply its
  // limits only once acknowledged, so this probes what the server does about it.
  void IgnoreSettings() { ack_settings_ = false; }

  void OnStreamDone(std::function<void(const StreamOutcome&)> callback) {
    on_done_ = std::move(callback);
  }

  bool closed() const { return closed_; }
  bool goaway_received() const { return goaway_received_; }
  uint32_t goaway_code() const { return goaway_code_; }
  const std::string& goaway_debug() const { return goaway_debug_; }
  int32_t goaway_last_stream() const { return goaway_last_stream_; }
  bool settings_received() const { return settings_received_; }
  // SETTINGS_MAX_CONCURRENT_STREAMS the server sent; -1 when it sent none.
  int64_t server_max_concurrent_streams() const { return server_max_concurrent_streams_; }
  size_t open_streams() const { return streams_.size(); }
  int fd() const { return fd_; }
  size_t pending_output() const { return out_.size() - out_offset_; }
  int64_t streams_opened() const { return next_stream_id_ / 2; }

 private:
  struct Stream {
    StreamOutcome outcome;
    int64_t send_window = 0;
    std::deque<std::pair<std::string, bool>> pending;  // DATA waiting for window: bytes, end_stream
    std::string header_block;
  };
  explicit RawH2Connection(int fd);
  void WriteFrame(uint8_t type, uint8_t flags, int32_t stream, std::string_view payload);
  void MoveDataToOutput();
  bool ReadFrames();
  void HandleFrame(uint8_t type, uint8_t flags, int32_t stream, std::string_view payload);
  void DecodeHeaders(Stream& stream);
  void Finish(int32_t stream_id);

  int fd_;
  bool closed_ = false;
  bool ack_settings_ = true;
  bool settings_received_ = false;
  std::string out_;
  size_t out_offset_ = 0;
  std::string in_;
  int32_t next_stream_id_ = 1;
  int64_t connection_send_window_ = 65535;
  int64_t initial_stream_window_ = 65535;
  size_t max_frame_size_ = 16384;
  int64_t server_max_concurrent_streams_ = -1;
  bool headers_end_stream_ = false;  // the HEADERS frame being continued ended its stream
  std::map<int32_t, Stream> streams_;
  Stream discarded_;  // decodes header blocks of streams already given up on
  bool goaway_received_ = false;
  uint32_t goaway_code_ = 0;
  int32_t goaway_last_stream_ = 0;
  std::string goaway_debug_;
  nghttp2_hd_deflater* deflater_ = nullptr;
  nghttp2_hd_inflater* inflater_ = nullptr;
  std::function<void(const StreamOutcome&)> on_done_;
};

// HTTP/2 error code names (RFC 9113 section 7), for reports.
std::string ErrorCodeName(uint32_t code);

}  // namespace aurigraph::h2abuse
