#include "loadgen/transport/grpc_transport.h"

#include <grpcpp/alarm.h>
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <optional>
#include <thread>
#include <tuple>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/clock/clock.h"
#include "loadgen/transport/completion_queue_util.h"
#include "loadgen/transport/tls_client.h"

namespace aurigraph::loadgen {

struct GrpcTransport::Call {
  std::optional<grpc::ClientContext> context;
  grpc::ByteBuffer response;
  grpc::Status status;
  std::unique_ptr<grpc::GenericClientAsyncResponseReader> reader;
  uint32_t operation = 0;
  bool busy = false;
};

struct GrpcTransport::Impl {
  std::vector<std::shared_ptr<grpc::Channel>> channels;
  std::vector<std::unique_ptr<grpc::GenericStub>> stubs;
  std::vector<UnaryMethod> methods;
  std::vector<Call> calls;
  grpc::CompletionQueue queue;
  std::optional<QueueKicker> kicker;
  size_t next_stub = 0;
  uint32_t busy_calls = 0;
  std::vector<grpc::Slice> slices;
  std::string response;
  std::string status_message;
  std::vector<WireTotals> counts;  // payloads only: the framing is gRPC's own

  // Completions taken off the queue by `receiver` (see SleepThrough), oldest
  // first: a ring of one place per slot, as each call ends once.
  struct Received {
    void* tag;
    bool ok;
    int64_t at_nanos;
  };
  std::thread receiver;
  std::mutex received_mu;
  std::condition_variable received_cv;
  std::vector<Received> received;
  size_t received_head = 0;
  size_t received_count = 0;
  bool waiting = false;  // Next() waits for a completion

  void Receive() {
    void* tag;
    bool ok;
    while (queue.Next(&tag, &ok)) {
      // A kick set before this thread took over says nothing now.
      if (tag == QueueKicker::Tag()) continue;
      const int64_t at = SteadyClock::Instance().NowNanos();
      std::lock_guard lock(received_mu);
      received[(received_head + received_count) % received.size()] = {tag, ok, at};
      ++received_count;
      if (waiting) received_cv.notify_one();
    }
  }
  // Takes the oldest completion the receiver kept, waiting at most `timeout_nanos` for one.
  bool TakeReceived(int64_t timeout_nanos, Received* taken) {
    std::unique_lock lock(received_mu);
    if (received_count == 0 && timeout_nanos > 0) {
      UseExactTimers();
      waiting = true;
      received_cv.wait_for(lock, std::chrono::nanoseconds(timeout_nanos),
                           [this] { return received_count > 0; });
      waiting = false;
    }
    if (received_count == 0) return false;
    *taken = received[received_head];
    received_head = (received_head + 1) % received.size();
    --received_count;
    return true;
  }
};

std::vector<std::string> TargetAddresses(const std::string& target) {
  if (target.find("://") != std::string::npos || target.find(',') == std::string::npos) {
    return {target};
  }
  return absl::StrSplit(target, ',');
}

namespace {

// Whether `address` is an IPv4 or bracketed IPv6 literal with a port, as an
// ipv4: or ipv6: URI lists them.
bool IsIpLiteralWithPort(const std::string& address) {
  const size_t colon = address.rfind(':');
  if (colon == std::string::npos || colon == 0) return false;
  const std::string host = address.substr(0, colon);
  if (host.front() == '[') return host.back() == ']';
  return std::all_of(host.begin(), host.end(),
                     [](char c) { return (c >= '0' && c <= '9') || c == '.'; });
}

// The URI gRPC resolves for `target`: a list of addresses as an ipv4: (ipv6:) URI.
std::string ChannelTarget(const std::string& target) {
  const std::vector<std::string> addresses = TargetAddresses(target);
  if (addresses.size() == 1) return target;
  return absl::StrCat(addresses.front().front() == '[' ? "ipv6:" : "ipv4:", target);
}

}  // namespace

absl::Status ValidateTarget(const std::string& target) {
  const std::vector<std::string> addresses = TargetAddresses(target);
  if (addresses.size() > 1) {
    for (const std::string& address : addresses) {
      if (!IsIpLiteralWithPort(address)) {
        return absl::InvalidArgumentError(absl::StrCat(
            "target ", target, ": '", address,
            "' is not IP:PORT (a list of addresses takes IP literals, e.g. 127.0.0.1:7001)"));
      }
      if (absl::Status valid = ValidateTarget(address); !valid.ok()) return valid;
    }
    return absl::OkStatus();
  }
  // Unix sockets and URIs with an authority name no TCP port of ours to check.
  if (target.rfind("unix:", 0) == 0 || target.find("://") != std::string::npos) {
    return absl::OkStatus();
  }
  const size_t colon = target.rfind(':');
  if (colon == std::string::npos) return absl::OkStatus();
  const std::string port = target.substr(colon + 1);
  if (port.empty()) {
    return absl::InvalidArgumentError(absl::StrCat("target ", target, ": no port after ':'"));
  }
  if (!std::all_of(port.begin(), port.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    return absl::OkStatus();  // e.g. the end of a bare IPv6 address
  }
  if (port.size() > 5 || std::stoi(port) < 1 || std::stoi(port) > 65535) {
    return absl::InvalidArgumentError(
        absl::StrCat("target ", target, ": port ", port, " is not in 1..65535"));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<std::shared_ptr<grpc::Channel>>> CreateChannels(
    const std::string& target, int count, const ChannelOptions& options) {
  std::shared_ptr<grpc::ChannelCredentials> credentials = grpc::InsecureChannelCredentials();
  if (options.tls) {
    grpc::SslCredentialsOptions ssl;
    for (auto [path, out, what] : {std::tuple{&options.ca_file, &ssl.pem_root_certs, "--ca"},
                                   std::tuple{&options.cert_file, &ssl.pem_cert_chain, "--cert"},
                                   std::tuple{&options.key_file, &ssl.pem_private_key, "--key"}}) {
      if (path->empty()) continue;
      auto pem = ReadPem(*path, what);
      if (!pem.ok()) return pem.status();
      *out = *std::move(pem);
    }
    if (ssl.pem_cert_chain.empty() != ssl.pem_private_key.empty()) {
      return absl::InvalidArgumentError("mutual TLS needs both a client certificate and its key");
    }
    credentials = grpc::SslCredentials(ssl);
  }
  std::vector<std::shared_ptr<grpc::Channel>> channels;
  for (int i = 0; i < count; ++i) {
    grpc::ChannelArguments args;
    // Channels with identical arguments share one TCP connection; a local
    // subchannel pool and a distinct argument give each channel its own.
    args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
    args.SetInt("aurigraph.loadgen.channel", i);
    args.SetMaxReceiveMessageSize(static_cast<int>(options.max_message_bytes));
    if (!options.server_name.empty()) args.SetSslTargetNameOverride(options.server_name);
    if (!options.authority.empty()) args.SetString(GRPC_ARG_DEFAULT_AUTHORITY, options.authority);
    if (options.gzip) args.SetCompressionAlgorithm(GRPC_COMPRESS_GZIP);
    if (options.keepalive_time_nanos > 0) {
      args.SetInt(GRPC_ARG_KEEPALIVE_TIME_MS,
                  static_cast<int>(options.keepalive_time_nanos / 1'000'000));
      args.SetInt(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
    }
    if (options.keepalive_timeout_nanos > 0) {
      args.SetInt(GRPC_ARG_KEEPALIVE_TIMEOUT_MS,
                  static_cast<int>(options.keepalive_timeout_nanos / 1'000'000));
    }
    args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS,
                static_cast<int>(options.reconnect_backoff_nanos / 1'000'000));
    args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS,
                static_cast<int>(options.reconnect_backoff_max_nanos / 1'000'000));
    if (TargetAddresses(target).size() > 1) args.SetLoadBalancingPolicyName("round_robin");
    channels.push_back(grpc::CreateCustomChannel(ChannelTarget(target), credentials, args));
  }
  return channels;
}

absl::Status WaitForConnection(const std::vector<std::shared_ptr<grpc::Channel>>& channels,
                               const std::string& target, int64_t timeout_nanos) {
  const gpr_timespec deadline = AfterNanos(timeout_nanos);
  for (const auto& channel : channels) {
    if (!channel->WaitForConnected(deadline)) {
      // A call tells why (a refused connection, a failed TLS handshake, ...).
      auto probe = CallUnary(channel, "/grpc.health.v1.Health/Check", "", 1'000'000'000);
      return absl::UnavailableError(absl::StrCat(
          "target ", target, " unreachable: no connection within ", timeout_nanos / 1'000'000,
          " ms", probe.ok() ? "" : absl::StrCat(" (", probe.status().message(), ")")));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> CallUnary(const std::shared_ptr<grpc::Channel>& channel,
                                      const std::string& path, std::string_view request,
                                      int64_t timeout_nanos) {
  grpc::GenericStub stub(channel);
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::nanoseconds(timeout_nanos));
  grpc::CompletionQueue queue;
  grpc::Slice slice(request.data(), request.size());
  grpc::ByteBuffer buffer(&slice, 1);
  grpc::ByteBuffer response;
  grpc::Status status;
  auto reader = stub.PrepareUnaryCall(&context, path, buffer, &queue);
  reader->StartCall();
  reader->Finish(&response, &status, reinterpret_cast<void*>(1));
  void* tag;
  bool ok;
  queue.Next(&tag, &ok);
  ShutdownAndDrain(queue);
  if (!status.ok()) {
    return absl::Status(static_cast<absl::StatusCode>(status.error_code()),
                        absl::StrCat(path, ": ", status.error_message()));
  }
  std::vector<grpc::Slice> slices;
  std::string bytes;
  FlattenByteBuffer(response, slices, &bytes);
  return bytes;
}

GrpcTransport::GrpcTransport(std::vector<std::shared_ptr<grpc::Channel>> channels,
                             std::vector<UnaryMethod> methods, uint32_t slots)
    : impl_(std::make_unique<Impl>()) {
  impl_->channels = std::move(channels);
  impl_->stubs = MakeStubs(impl_->channels);
  impl_->methods = std::move(methods);
  impl_->counts.resize(impl_->methods.size());
  impl_->calls = std::vector<Call>(slots);
  impl_->received.resize(slots);
  impl_->kicker.emplace(impl_->queue);
}

GrpcTransport::~GrpcTransport() {
  CancelAll();
  Completion ignored;
  while (impl_->busy_calls > 0) {
    if (!Next(1'000'000'000, &ignored)) break;
  }
  impl_->kicker.reset();
  if (impl_->receiver.joinable()) {
    impl_->queue.Shutdown();
    impl_->receiver.join();
  } else {
    ShutdownAndDrain(impl_->queue);
  }
}

void GrpcTransport::Start(uint32_t slot, uint32_t operation, std::string_view request,
                          std::span<const Header> headers) {
  Call& call = impl_->calls[slot];
  const UnaryMethod& method = impl_->methods[operation];
  call.context.emplace();
  AddHeaders(*call.context, headers);
  if (method.deadline_nanos > 0) {
    call.context->set_deadline(std::chrono::system_clock::now() +
                               std::chrono::nanoseconds(method.deadline_nanos));
  }
  grpc::Slice slice(request.data(), request.size());
  grpc::ByteBuffer buffer(&slice, 1);
  grpc::GenericStub& stub = *impl_->stubs[impl_->next_stub];
  impl_->next_stub = (impl_->next_stub + 1) % impl_->stubs.size();
  call.reader = stub.PrepareUnaryCall(&*call.context, method.path, buffer, &impl_->queue);
  call.busy = true;
  ++impl_->busy_calls;
  call.operation = operation;
  WireTotals& count = impl_->counts[operation];
  ++count.requests;
  count.request_payload_bytes += static_cast<int64_t>(request.size());
  call.reader->StartCall();
  call.reader->Finish(&call.response, &call.status,
                      reinterpret_cast<void*>(static_cast<uintptr_t>(slot) + 1));
}

void GrpcTransport::SleepThrough(int64_t nanos) {
  if (!impl_->receiver.joinable()) {
    impl_->kicker->Disarm();
    impl_->receiver = std::thread([impl = impl_.get()] { impl->Receive(); });
  }
  SleepNanos(nanos);
}

bool GrpcTransport::Next(int64_t timeout_nanos, Completion* completion) {
  bool ok = false;
  void* tag = nullptr;
  completion->completed_nanos = 0;
  if (impl_->receiver.joinable()) {
    Impl::Received received;
    if (!impl_->TakeReceived(timeout_nanos, &received)) return false;
    tag = received.tag;
    ok = received.ok;
    completion->completed_nanos = received.at_nanos;
  } else {
    tag = AwaitTag(impl_->queue, *impl_->kicker, timeout_nanos, impl_->busy_calls > 0, &ok);
    if (tag == nullptr) return false;
  }
  const auto slot = static_cast<uint32_t>(reinterpret_cast<uintptr_t>(tag) - 1);
  Call& call = impl_->calls[slot];
  completion->slot = slot;
  completion->status_code = ok ? call.status.error_code() : grpc::StatusCode::CANCELLED;
  // grpc::Status hands its message out by value: held here until the next Next().
  impl_->status_message = completion->status_code != 0 && ok ? call.status.error_message() : "";
  completion->status_message = impl_->status_message;
  completion->response = {};
  if (completion->status_code == 0) {
    WireTotals& count = impl_->counts[call.operation];
    ++count.responses;
    count.response_payload_bytes += static_cast<int64_t>(call.response.Length());
  }
  if (impl_->methods[call.operation].keep_response && completion->status_code == 0) {
    FlattenByteBuffer(call.response, impl_->slices, &impl_->response);
    completion->response = impl_->response;
  }
  call.busy = false;
  --impl_->busy_calls;
  call.reader.reset();
  call.response.Clear();
  return true;
}

std::vector<WireTotals> GrpcTransport::CountsByOperation() const { return impl_->counts; }

void GrpcTransport::CancelAll() {
  for (Call& call : impl_->calls) {
    if (call.busy) call.context->TryCancel();
  }
}

}  // namespace aurigraph::loadgen
