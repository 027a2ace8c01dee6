// One client connection's HTTP/2 frames on their way to gRPC's server and
// back, filtered (pure: bytes in, bytes out; no I/O, no clock; the front
// (http2_front.h) moves the bytes). gRPC 1.51 applies
// SETTINGS_MAX_CONCURRENT_STREAMS only once the client acknowledges it, reads
// every stream a client opens, and offers no way to end a connection between
// two of its frames. In front of it, this filter:
// - counts the streams open on the wire and refuses each one beyond
//   `max_concurrent_streams` (RST_STREAM REFUSED_STREAM) before gRPC sees it,
//   whether or not the client acknowledged the limit; a client that had
//   `max_refused_streams` refused after acknowledging SETTINGS (four times as
//   many before: it may not have read the limit yet) is ignoring it and is
//   closed;
// - with a StreamBudget shared by the server's connections, refuses a new
//   stream the budget does not admit (not held against the client);
// - bounds a header block (a HEADERS frame and its CONTINUATIONs) and the
//   header list it decodes to;
// - ends a connection (Close) with a GOAWAY placed between gRPC's frames,
//   never inside one or inside gRPC's header block.
// Header blocks are decoded in the client's HPACK context and encoded again in
// the filter's own towards gRPC, so that a refused stream's headers never
// reach gRPC; the client's other frames reach it as they are, but for frames
// on a stream gRPC does not hold (refused, or ended both ways), which are
// dropped, the connection's flow-control window their DATA used given back to
// the client. gRPC's frames reach the client as they are, but for
// SETTINGS_MAX_FRAME_SIZE, told the client as at most 64 KiB.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "reference-server/connections/connection_policy.h"
#include "reference-server/connections/stream_budget.h"

struct nghttp2_hd_inflater;
struct nghttp2_hd_deflater;

namespace aurigraph::refserver {

class FrameFilter {
 public:
  struct Limits {
    int64_t max_concurrent_streams = 1024;
    int64_t max_refused_streams = 1024;
    size_t max_header_block_bytes = 64 << 10;  // as sent, HPACK-compressed
    size_t max_header_list_bytes = 64 << 10;   // decoded, counted as RFC 9113 section 6.5.2 does
  };
  // Why the filter ended the connection itself.
  enum class Ending { kNone, kStreamLimit, kHeaderLimit, kProtocolError, kClosed };

  // `budget`: null, or shared with the other connections' filters (it must
  // outlive them).
  explicit FrameFilter(Limits limits, StreamBudget* budget = nullptr);
  ~FrameFilter();
  FrameFilter(const FrameFilter&) = delete;
  FrameFilter& operator=(const FrameFilter&) = delete;

  // Bytes the client sent, in order, from the connection preface on.
  void FromClient(std::string_view bytes);
  // Bytes gRPC's server sent, in order.
  void FromServer(std::string_view bytes);
  // Ends the connection: a GOAWAY carrying `error_code` and `reason` goes to
  // the client once gRPC's header block in progress (if any) is complete; from
  // then on nothing is relayed either way.
  void Close(uint32_t error_code, std::string_view reason);
  // gRPC's end of the connection is gone, and with it every stream: they no
  // longer count against the budget.
  void ForgetStreams();

  // What to write to gRPC and to the client, whole frames only; the caller
  // removes what it wrote from the front.
  std::string& to_server() { return to_server_; }
  std::string& to_client() { return to_client_; }

  bool closed() const { return ending_ != Ending::kNone; }
  // Once closed: whether the GOAWAY is in to_client (false while gRPC is
  // inside a header block), why, and the reason given.
  bool goaway_placed() const { return closed() && !goaway_pending_; }
  Ending ending() const { return ending_; }
  const std::string& reason() const { return reason_; }

  // Streams gRPC was given, and how they ended (ConnectionPolicy's counters;
  // the connection id left empty): ended by the server, or reset by the
  // client before the server ended them.
  StreamCounts counts() const;
  int64_t open_streams() const { return static_cast<int64_t>(streams_.size()); }
  int64_t refused_streams() const { return refused_; }  // beyond the limit
  int64_t shed_streams() const { return shed_; }        // not admitted by the budget

 private:
  struct Stream {
    bool client_ended = false;
    bool server_ended = false;
  };
  struct FrameView;  // frame_filter.cc
  void OnClientFrame(const FrameView& frame);
  void OnServerFrame(const FrameView& frame);
  void EndClientBlock();
  bool DecodeClientBlock();
  void ForwardHeaders(uint32_t stream, bool end_stream);
  // Forgets a stream both sides ended.
  void RetireIfEnded(uint32_t stream, const Stream& state);
  void Forget(uint32_t stream);
  Stream* Find(uint32_t stream);
  // Where frames the filter writes to the client go: held back while gRPC is
  // inside a header block.
  std::string& ClientOut() { return server_in_block_ ? held_for_client_ : to_client_; }
  void Fail(Ending ending, uint32_t error_code, std::string_view reason);
  void PlaceGoaway();

  const Limits limits_;
  StreamBudget* const budget_;
  nghttp2_hd_inflater* inflater_ = nullptr;  // the client's HPACK context
  nghttp2_hd_deflater* deflater_ = nullptr;  // the filter's, towards gRPC
  size_t inflater_table_size_ = 4096;
  uint32_t max_client_frame_ = 16384;  // gRPC's SETTINGS_MAX_FRAME_SIZE

  std::string client_in_, server_in_;  // a partial frame (and the preface) held back
  std::string to_server_, to_client_, held_for_client_;
  bool preface_seen_ = false;

  // The client's header block in progress.
  bool client_in_block_ = false;
  uint32_t block_stream_ = 0;
  bool block_end_stream_ = false;
  std::string block_;
  // Its fields decoded (names and values in field_bytes_) and encoded again.
  struct Field {
    size_t offset;
    size_t name_length;
    size_t value_length;
    uint8_t flags;
  };
  std::vector<Field> fields_;
  std::string field_bytes_;
  std::string encoded_;

  bool server_in_block_ = false;

  absl::flat_hash_map<uint32_t, Stream> streams_;    // the streams gRPC holds
  uint32_t last_client_stream_ = 0;                  // the highest the client opened
  uint32_t last_forwarded_stream_ = 0;               // ... and gRPC was given
  uint32_t server_goaway_last_stream_ = 0x7fffffff;  // the lowest in gRPC's GOAWAYs
  bool settings_acknowledged_ = false;               // the client acknowledged SETTINGS
  int64_t started_ = 0, succeeded_ = 0, failed_ = 0, refused_ = 0, shed_ = 0;

  Ending ending_ = Ending::kNone;
  std::string reason_;
  bool goaway_pending_ = false;
  std::string goaway_;
};

}  // namespace aurigraph::refserver
