// The HTTP/2 filter in front of gRPC, driven as a client and a server would
// drive it, without sockets: header blocks re-encoded faithfully, streams
// beyond the limit refused whether or not the limit was acknowledged, GOAWAYs
// placed between gRPC's frames, and bounds on header blocks.
#include "reference-server/connections/frame_filter.h"

#include <gtest/gtest.h>
#include <nghttp2/nghttp2.h>

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "reference-server/connections/http2_frame.h"
#include "reference-server/connections/stream_budget.h"

namespace aurigraph::refserver {
namespace {

using Headers = std::vector<std::pair<std::string, std::string>>;
constexpr std::string_view kPreface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

struct Frame {
  http2::FrameHeader header;
  std::string payload;
};

std::vector<Frame> Frames(std::string_view bytes) {
  std::vector<Frame> frames;
  while (bytes.size() >= http2::kFrameHeaderBytes) {
    const http2::FrameHeader header = http2::ParseFrameHeader(bytes.data());
    frames.push_back({header, std::string(bytes.substr(http2::kFrameHeaderBytes, header.length))});
    bytes.remove_prefix(http2::kFrameHeaderBytes + header.length);
  }
  EXPECT_TRUE(bytes.empty()) << "a partial frame";
  return frames;
}

// A client's HPACK encoder, or gRPC's decoder.
class Hpack {
 public:
  Hpack() {
    nghttp2_hd_deflate_new(&deflater_, 4096);
    nghttp2_hd_inflate_new(&inflater_);
  }
  ~Hpack() {
    nghttp2_hd_deflate_del(deflater_);
    nghttp2_hd_inflate_del(inflater_);
  }
  std::string Encode(const Headers& headers) {
    std::vector<nghttp2_nv> fields;
    for (const auto& [name, value] : headers) {
      fields.push_back({reinterpret_cast<uint8_t*>(const_cast<char*>(name.data())),
                        reinterpret_cast<uint8_t*>(const_cast<char*>(value.data())), name.size(),
                        value.size(), NGHTTP2_NV_FLAG_NONE});
    }
    std::string out(nghttp2_hd_deflate_bound(deflater_, fields.data(), fields.size()), '\0');
    const ssize_t n = nghttp2_hd_deflate_hd(deflater_, reinterpret_cast<uint8_t*>(out.data()),
                                            out.size(), fields.data(), fields.size());
    out.resize(static_cast<size_t>(n));
    return out;
  }
  Headers Decode(std::string_view block) {
    Headers headers;
    const auto inflated = http2::InflateHeaderBlock(inflater_, block, [&](const nghttp2_nv& f) {
      headers.emplace_back(std::string(reinterpret_cast<char*>(f.name), f.namelen),
                           std::string(reinterpret_cast<char*>(f.value), f.valuelen));
      return true;
    });
    EXPECT_EQ(inflated, http2::Inflated::kDone) << "gRPC could not decode the block";
    return headers;
  }

 private:
  nghttp2_hd_deflater* deflater_ = nullptr;
  nghttp2_hd_inflater* inflater_ = nullptr;
};

std::string FrameBytes(uint8_t type, uint8_t flags, uint32_t stream, std::string_view payload) {
  std::string out;
  http2::AppendFrame(out, type, flags, stream, payload);
  return out;
}

Headers Request(const std::string& path) {
  return {{":method", "POST"},
          {":scheme", "http"},
          {":path", path},
          {":authority", "127.0.0.1"},
          {"content-type", "application/grpc"},
          {"te", "trailers"},
          {"x-tenant", "acme"}};
}

// A client opening streams on a filter, and what gRPC receives.
struct Harness {
  explicit Harness(FrameFilter::Limits limits = {}) : filter(limits) {
    filter.FromClient(std::string(kPreface) + FrameBytes(http2::kSettings, 0, 0, ""));
    EXPECT_EQ(filter.to_server(), std::string(kPreface) + FrameBytes(http2::kSettings, 0, 0, ""));
    filter.to_server().clear();
  }
  // HEADERS (END_HEADERS) opening `stream`.
  void Open(uint32_t stream, bool end_stream = false) {
    filter.FromClient(FrameBytes(http2::kHeaders,
                                 http2::kEndHeaders | (end_stream ? http2::kEndStream : 0), stream,
                                 client.Encode(Request("/svc/M"))));
  }
  // gRPC's response and trailers, ending `stream`.
  void ServerEnds(uint32_t stream) {
    filter.FromServer(FrameBytes(http2::kHeaders, http2::kEndHeaders | http2::kEndStream, stream,
                                 std::string("\x88", 1)));  // :status 200, indexed
  }
  // What gRPC was sent; the header blocks decoded in order into `decoded`,
  // as gRPC would, so that its HPACK context keeps in step with the filter's.
  std::vector<Frame> TakeServerFrames() {
    auto frames = Frames(filter.to_server());
    filter.to_server().clear();
    for (const Frame& f : frames) {
      if (f.header.type == http2::kHeaders) decoded.push_back(grpc.Decode(f.payload));
    }
    return frames;
  }
  std::vector<Frame> TakeClientFrames() {
    auto frames = Frames(filter.to_client());
    filter.to_client().clear();
    return frames;
  }
  FrameFilter filter;
  Hpack client, grpc;
  std::vector<Headers> decoded;
};

TEST(FrameFilter, HeaderBlocksReachGrpcAsTheClientSentThemAndOtherFramesAsTheyAre) {
  Harness h;
  const Headers first = Request("/aurigraph.approval.v1.ApprovalService/CheckHealth");
  // A padded HEADERS frame with a priority, its block cut in three, fed a byte at a time.
  const std::string block = h.client.Encode(first);
  std::string headers_payload;
  headers_payload.push_back(3);                       // pad length
  headers_payload.append("\x00\x00\x00\x00\x10", 5);  // priority
  headers_payload.append(block.substr(0, 10));
  headers_payload.append(3, '\0');  // padding
  std::string bytes =
      FrameBytes(http2::kHeaders, http2::kPadded | http2::kPriorityFlag, 1, headers_payload);
  bytes += FrameBytes(http2::kContinuation, 0, 1, block.substr(10, 5));
  bytes += FrameBytes(http2::kContinuation, http2::kEndHeaders, 1, block.substr(15));
  const std::string data = FrameBytes(http2::kData, http2::kEndStream, 1, std::string(5, '\0'));
  bytes += data;
  bytes += FrameBytes(http2::kWindowUpdate, 0, 0, std::string("\x00\x01\x00\x00", 4));
  bytes += FrameBytes(http2::kPing, 0, 0, std::string(8, 'p'));
  for (char c : bytes) h.filter.FromClient(std::string_view(&c, 1));
  auto frames = h.TakeServerFrames();
  ASSERT_EQ(frames.size(), 4u);
  EXPECT_EQ(frames[0].header.type, http2::kHeaders);
  EXPECT_EQ(frames[0].header.stream, 1u);
  EXPECT_EQ(frames[0].header.flags, http2::kEndHeaders);
  EXPECT_EQ(h.decoded.back(), first);
  EXPECT_EQ(frames[1].header.type, http2::kData);
  EXPECT_EQ(frames[2].header.type, http2::kWindowUpdate);
  EXPECT_EQ(frames[3].header.type, http2::kPing);
  // The second request's block refers to the client's dynamic table.
  const Headers second = {{":method", "POST"},
                          {":scheme", "http"},
                          {":path", "/svc/Other"},
                          {":authority", "127.0.0.1"},
                          {"content-type", "application/grpc"},
                          {"te", "trailers"},
                          {"x-tenant", "acme"},
                          {"x-trace", "t-1"}};
  h.filter.FromClient(FrameBytes(http2::kHeaders, http2::kEndHeaders | http2::kEndStream, 3,
                                 h.client.Encode(second)));
  frames = h.TakeServerFrames();
  ASSERT_EQ(frames.size(), 1u);
  EXPECT_EQ(frames[0].header.flags, http2::kEndHeaders | http2::kEndStream);
  EXPECT_EQ(h.decoded.back(), second);
  // gRPC's frames reach the client as they are.
  const std::string response = FrameBytes(http2::kHeaders, http2::kEndHeaders, 1, "\x88") +
                               FrameBytes(http2::kData, 0, 1, std::string(7, 'r'));
  h.filter.FromServer(response.substr(0, 4));
  EXPECT_EQ(h.filter.to_client(), "");  // whole frames only
  h.filter.FromServer(response.substr(4));
  EXPECT_EQ(h.filter.to_client(), response);
  EXPECT_FALSE(h.filter.closed());
}

TEST(FrameFilter, StreamsBeyondTheLimitAreRefusedBeforeGrpcSeesThemAcknowledgedOrNot) {
  Harness h({.max_concurrent_streams = 2, .max_refused_streams = 100});
  h.Open(1, true);
  h.Open(3);
  EXPECT_EQ(h.TakeServerFrames().size(), 2u);
  h.Open(5);  // the client never acknowledged SETTINGS: refused all the same
  EXPECT_TRUE(h.TakeServerFrames().empty());
  auto to_client = h.TakeClientFrames();
  ASSERT_EQ(to_client.size(), 1u);
  EXPECT_EQ(to_client[0].header.type, http2::kRstStream);
  EXPECT_EQ(to_client[0].header.stream, 5u);
  EXPECT_EQ(http2::ReadUint32(to_client[0].payload.data()), http2::kRefusedStream);
  EXPECT_EQ(h.filter.refused_streams(), 1);
  // DATA on the refused stream is dropped, its window given back.
  h.filter.FromClient(FrameBytes(http2::kData, 0, 5, std::string(10, 'd')));
  EXPECT_TRUE(h.TakeServerFrames().empty());
  to_client = h.TakeClientFrames();
  ASSERT_EQ(to_client.size(), 1u);
  EXPECT_EQ(to_client[0].header.type, http2::kWindowUpdate);
  EXPECT_EQ(to_client[0].header.stream, 0u);
  EXPECT_EQ(http2::ReadUint32(to_client[0].payload.data()), 10u);
  // Once gRPC ends stream 1 (the client ended it with its HEADERS) a stream fits again.
  h.ServerEnds(1);
  h.TakeClientFrames();
  EXPECT_EQ(h.filter.open_streams(), 1);
  h.Open(7);
  auto frames = h.TakeServerFrames();
  ASSERT_EQ(frames.size(), 1u);
  EXPECT_EQ(frames[0].header.stream, 7u);
  EXPECT_EQ(h.decoded.back(), Request("/svc/M"));  // the refused block kept the contexts in step
  EXPECT_EQ(h.filter.counts().started, 3);
  EXPECT_EQ(h.filter.counts().succeeded, 1);
}

TEST(FrameFilter, AClientThatKeepsOpeningBeyondTheLimitIsClosedWithAGoaway) {
  Harness h({.max_concurrent_streams = 1, .max_refused_streams = 3});
  h.filter.FromClient(FrameBytes(http2::kSettings, http2::kAck, 0, ""));  // it knows the limit
  h.TakeServerFrames();
  h.Open(1);
  for (uint32_t stream : {3u, 5u, 7u}) h.Open(stream);
  EXPECT_TRUE(h.filter.closed());
  EXPECT_EQ(h.filter.ending(), FrameFilter::Ending::kStreamLimit);
  auto to_client = h.TakeClientFrames();
  ASSERT_EQ(to_client.size(), 4u);  // three refusals, then the GOAWAY
  const Frame& goaway = to_client.back();
  EXPECT_EQ(goaway.header.type, http2::kGoaway);
  EXPECT_EQ(http2::ReadUint32(goaway.payload.data()), 1u);  // the last stream gRPC was given
  EXPECT_EQ(http2::ReadUint32(goaway.payload.data() + 4), http2::kEnhanceYourCalm);
  EXPECT_EQ(goaway.payload.substr(8),
            "3 streams opened beyond the 1 SETTINGS_MAX_CONCURRENT_STREAMS allows");
  h.TakeServerFrames();
  h.Open(9);  // nothing more is relayed
  h.filter.FromServer(FrameBytes(http2::kPing, 0, 0, std::string(8, 'p')));
  EXPECT_TRUE(h.filter.to_server().empty());
  EXPECT_TRUE(h.filter.to_client().empty());
}

TEST(StreamBudget, BeyondItsTotalAConnectionIsAdmittedOnlyBelowAnEqualShare) {
  StreamBudget budget(4);
  for (int held = 0; held < 4; ++held) {  // one connection alone takes the whole budget
    ASSERT_TRUE(budget.Admits(held));
    budget.Opened(held);
  }
  EXPECT_FALSE(budget.Admits(4));
  EXPECT_TRUE(budget.Admits(0));  // a second connection: its share is 2
  budget.Opened(0);
  EXPECT_TRUE(budget.Admits(1));
  budget.Opened(1);
  EXPECT_FALSE(budget.Admits(2));
  EXPECT_FALSE(budget.Admits(3));  // nor the first, holding 4 of 6
  EXPECT_EQ(budget.open(), 6);
  budget.Closed(4, 0);  // the first connection goes
  EXPECT_EQ(budget.open(), 2);
  EXPECT_TRUE(budget.Admits(2));
}

// Two connections sharing a budget of 2: the one flooding is refused beyond
// its share (not held against it), the other is served, and a closed
// connection's streams are given back.
TEST(FrameFilter, ABudgetSharedByConnectionsRefusesTheFloodingOneBeyondItsShare) {
  StreamBudget budget(2);
  const FrameFilter::Limits limits{.max_concurrent_streams = 100, .max_refused_streams = 1};
  auto flooding = std::make_unique<FrameFilter>(limits, &budget);
  FrameFilter light(limits, &budget);
  Hpack flooding_client, light_client;
  const std::string preface = std::string(kPreface) + FrameBytes(http2::kSettings, 0, 0, "");
  flooding->FromClient(preface);
  light.FromClient(preface);
  auto open = [](FrameFilter& filter, Hpack& client, uint32_t stream) {
    filter.to_server().clear();
    filter.to_client().clear();
    filter.FromClient(
        FrameBytes(http2::kHeaders, http2::kEndHeaders, stream, client.Encode(Request("/svc/M"))));
    return !filter.to_server().empty();
  };
  EXPECT_TRUE(open(*flooding, flooding_client, 1));
  EXPECT_TRUE(open(*flooding, flooding_client, 3));
  EXPECT_FALSE(open(*flooding, flooding_client, 5));  // the budget is spent, and it holds it all
  EXPECT_EQ(Frames(flooding->to_client()).at(0).header.type, http2::kRstStream);
  EXPECT_FALSE(open(*flooding, flooding_client, 7));
  EXPECT_FALSE(flooding->closed());  // refused for load: not a client ignoring the limit
  EXPECT_EQ(flooding->shed_streams(), 2);
  EXPECT_EQ(flooding->refused_streams(), 0);
  EXPECT_TRUE(open(light, light_client, 1));  // below its share
  EXPECT_EQ(budget.open(), 3);
  flooding.reset();  // the connection closed: its streams are given back
  EXPECT_EQ(budget.open(), 1);
  EXPECT_TRUE(open(light, light_client, 3));
  EXPECT_FALSE(open(light, light_client, 5));  // alone, it has the whole budget, and no more
}

// Before it acknowledged SETTINGS a client may not have read the limit: it is
// closed only after four times as many refusals.
TEST(FrameFilter, ABurstBeforeTheAcknowledgementIsToleratedLonger) {
  Harness h({.max_concurrent_streams = 1, .max_refused_streams = 2});
  h.Open(1);
  for (uint32_t stream = 3; stream <= 15; stream += 2) h.Open(stream);  // 7 refused
  EXPECT_FALSE(h.filter.closed());
  h.Open(17);
  EXPECT_EQ(h.filter.reason(),
            "8 streams opened beyond the 1 SETTINGS_MAX_CONCURRENT_STREAMS allows");
}

// After gRPC's GOAWAY, new streams are refused (gRPC would ignore them), and
// the filter's own GOAWAY never names a higher stream than gRPC's did.
TEST(FrameFilter, AfterGrpcsGoawayNewStreamsAreRefused) {
  Harness h;
  h.Open(1);
  h.Open(3);
  h.TakeServerFrames();
  std::string goaway;
  http2::AppendGoaway(goaway, 1, http2::kNoError, "");
  h.filter.FromServer(goaway);
  h.TakeClientFrames();
  h.Open(5);
  EXPECT_TRUE(h.TakeServerFrames().empty());
  auto frames = h.TakeClientFrames();
  ASSERT_EQ(frames.size(), 1u);
  EXPECT_EQ(frames[0].header.type, http2::kRstStream);
  EXPECT_EQ(h.filter.refused_streams(), 0);  // not held against the client
  h.filter.Close(http2::kEnhanceYourCalm, "enough");
  frames = h.TakeClientFrames();
  ASSERT_EQ(frames.size(), 1u);
  EXPECT_EQ(http2::ReadUint32(frames[0].payload.data()), 1u);
}

// gRPC raises SETTINGS_MAX_FRAME_SIZE with its bandwidth estimate; the client
// is told at most 64 KiB, so a frame held back while it arrives stays small.
TEST(FrameFilter, TheClientIsToldAtMost64KiBFrames) {
  Harness h;
  h.filter.FromServer(
      FrameBytes(http2::kSettings, 0, 0, std::string("\x00\x05\x01\x00\x00\x00", 6)));
  auto frames = h.TakeClientFrames();
  ASSERT_EQ(frames.size(), 1u);
  EXPECT_EQ(http2::ReadUint32(frames[0].payload.data() + 2), 65536u);
  h.Open(1);
  h.filter.FromClient(FrameBytes(http2::kData, 0, 1, std::string(65536, 'd')));
  EXPECT_FALSE(h.filter.closed());
  h.filter.FromClient(FrameBytes(http2::kData, 0, 1, std::string(65537, 'd')));
  EXPECT_EQ(h.filter.ending(), FrameFilter::Ending::kProtocolError);
}

TEST(FrameFilter, AGoawayWaitsForTheEndOfGrpcsHeaderBlock) {
  Harness h({.max_concurrent_streams = 1, .max_refused_streams = 100});
  h.Open(1, true);
  h.TakeServerFrames();
  const std::string headers = FrameBytes(http2::kHeaders, 0, 1, "\x88");
  h.filter.FromServer(headers);
  h.Open(3);  // refused while gRPC is inside its header block: the refusal waits
  EXPECT_EQ(h.filter.to_client(), headers);
  h.filter.Close(http2::kEnhanceYourCalm, "enough");
  EXPECT_TRUE(h.filter.closed());
  EXPECT_FALSE(h.filter.goaway_placed());
  EXPECT_EQ(h.filter.to_client(), headers);
  const std::string continuation =
      FrameBytes(http2::kContinuation, http2::kEndHeaders, 1, std::string("\x86", 1));
  h.filter.FromServer(continuation + FrameBytes(http2::kData, 0, 1, "late"));
  EXPECT_TRUE(h.filter.goaway_placed());
  auto frames = h.TakeClientFrames();
  ASSERT_EQ(frames.size(), 4u);  // gRPC's block whole, the refusal, the GOAWAY; no DATA
  EXPECT_EQ(frames[0].header.type, http2::kHeaders);
  EXPECT_EQ(frames[1].header.type, http2::kContinuation);
  EXPECT_EQ(frames[2].header.type, http2::kRstStream);
  EXPECT_EQ(frames[3].header.type, http2::kGoaway);
  EXPECT_EQ(frames[3].payload.substr(8), "enough");
}

TEST(FrameFilter, StreamsTheClientResetsBeforeGrpcEndsThemAreCounted) {
  Harness h;
  for (uint32_t stream : {1u, 3u, 5u}) h.Open(stream);
  const std::string cancel = std::string("\x00\x00\x00\x08", 4);
  h.filter.FromClient(FrameBytes(http2::kRstStream, 0, 1, cancel));
  h.filter.FromClient(FrameBytes(http2::kRstStream, 0, 3, cancel));
  h.ServerEnds(5);
  h.filter.FromClient(FrameBytes(http2::kRstStream, 0, 5, cancel));  // after gRPC ended it
  h.filter.FromClient(FrameBytes(http2::kRstStream, 0, 1, cancel));  // not held: dropped
  const StreamCounts counts = h.filter.counts();
  EXPECT_EQ(counts.started, 3);
  EXPECT_EQ(counts.failed, 2);
  EXPECT_EQ(counts.succeeded, 1);
  EXPECT_EQ(h.filter.open_streams(), 0);
  int resets = 0;
  for (const Frame& f : h.TakeServerFrames()) resets += f.header.type == http2::kRstStream;
  EXPECT_EQ(resets, 3);
}

TEST(FrameFilter, AHeaderBlockBeyondItsBoundClosesTheConnection) {
  Harness h({.max_header_block_bytes = 1000});
  h.filter.FromClient(FrameBytes(http2::kHeaders, 0, 1, std::string(600, 'x')));
  EXPECT_FALSE(h.filter.closed());
  h.filter.FromClient(FrameBytes(http2::kContinuation, 0, 1, std::string(600, 'x')));
  EXPECT_TRUE(h.filter.closed());
  EXPECT_EQ(h.filter.ending(), FrameFilter::Ending::kHeaderLimit);
  EXPECT_EQ(h.filter.reason(), "a header block of more than 1000 bytes");
  EXPECT_TRUE(h.filter.to_server().empty());
}

TEST(FrameFilter, AHeaderListBeyondItsBoundClosesTheConnection) {
  Harness h({.max_header_list_bytes = 4096});
  Headers big = Request("/svc/M");
  big.emplace_back("x-big", std::string(5000, 'v'));
  h.filter.FromClient(FrameBytes(http2::kHeaders, http2::kEndHeaders, 1, h.client.Encode(big)));
  EXPECT_EQ(h.filter.ending(), FrameFilter::Ending::kHeaderLimit);
  EXPECT_EQ(h.filter.reason(), "a header list of more than 4096 bytes");
}

TEST(FrameFilter, ProtocolErrorsCloseTheConnection) {
  {
    FrameFilter filter({});
    filter.FromClient("GET / HTTP/1.1\r\n");
    EXPECT_EQ(filter.ending(), FrameFilter::Ending::kProtocolError);
    EXPECT_EQ(filter.reason(), "not an HTTP/2 connection preface");
    EXPECT_TRUE(filter.to_server().empty());
  }
  {
    Harness h;
    h.filter.FromClient(FrameBytes(http2::kData, 0, 1, std::string(20000, 'd')));
    EXPECT_EQ(h.filter.reason(),
              "a frame of 20000 bytes, beyond the 16384 SETTINGS_MAX_FRAME_SIZE allows");
    auto frames = h.TakeClientFrames();
    ASSERT_EQ(frames.size(), 1u);
    EXPECT_EQ(http2::ReadUint32(frames[0].payload.data() + 4), http2::kFrameSizeError);
  }
  {
    Harness h;  // gRPC allows larger frames: the client may send them
    std::string settings("\x00\x05\x00\x01\x00\x00", 6);  // MAX_FRAME_SIZE 65536
    h.filter.FromServer(FrameBytes(http2::kSettings, 0, 0, settings));
    h.Open(1);
    h.TakeServerFrames();
    h.filter.FromClient(FrameBytes(http2::kData, 0, 1, std::string(20000, 'd')));
    EXPECT_FALSE(h.filter.closed());
    EXPECT_EQ(h.TakeServerFrames().size(), 1u);
  }
  {
    Harness h;
    h.filter.FromClient(FrameBytes(http2::kData, 0, 7, "x"));
    EXPECT_EQ(h.filter.reason(), "DATA on stream 7, which the client never opened");
  }
  {
    Harness h;
    h.filter.FromClient(FrameBytes(http2::kData, 0, 0, "x"));
    EXPECT_EQ(h.filter.reason(), "DATA on stream 0");
  }
  {
    Harness h;
    h.filter.FromClient(FrameBytes(http2::kHeaders, http2::kEndHeaders, 2, ""));
    EXPECT_EQ(h.filter.reason(), "HEADERS on stream 2, not one a client may open");
  }
  {
    Harness h;
    h.filter.FromClient(FrameBytes(http2::kHeaders, 0, 1, "") + FrameBytes(http2::kPing, 0, 0, ""));
    EXPECT_EQ(h.filter.reason(), "a frame inside a header block (RFC 9113 section 4.3)");
  }
  {
    Harness h;
    h.filter.FromClient(
        FrameBytes(http2::kHeaders, http2::kEndHeaders, 1, std::string("\xff\xff\xff\xff", 4)));
    EXPECT_EQ(h.filter.ending(), FrameFilter::Ending::kProtocolError);
    EXPECT_EQ(h.filter.reason(), "a header block that does not decode (HPACK)");
  }
}

}  // namespace
}  // namespace aurigraph::refserver
