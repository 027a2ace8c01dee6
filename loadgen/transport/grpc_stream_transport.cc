#include "loadgen/transport/grpc_stream_transport.h"

#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <optional>

#include "loadgen/transport/completion_queue_util.h"

namespace aurigraph::loadgen {
namespace {

enum Op : uintptr_t { kStart, kRead, kWrite, kWritesDone, kFinish, kOpCount };

void* TagFor(uint32_t slot, Op op) {
  return reinterpret_cast<void*>(static_cast<uintptr_t>(slot) * kOpCount + op + 1);
}

}  // namespace

struct GrpcStreamTransport::Stream {
  std::optional<grpc::ClientContext> context;
  std::unique_ptr<grpc::GenericClientAsyncReaderWriter> call;
  grpc::ByteBuffer read_buffer;
  grpc::ByteBuffer write_buffer;
  grpc::Status status;
  uint32_t operation = 0;
  int pending = 0;  // operations issued and not yet completed
  bool write_in_flight = false;
  bool close_requested = false;
  bool writes_done = false;
  bool finishing = false;
  bool active = false;
};

struct GrpcStreamTransport::Impl {
  std::vector<std::shared_ptr<grpc::Channel>> channels;
  std::vector<std::unique_ptr<grpc::GenericStub>> stubs;
  std::vector<std::string> paths;
  std::vector<Stream> streams;
  std::vector<WireTotals> counts;  // per operation
  grpc::CompletionQueue queue;
  std::optional<QueueKicker> kicker;
  size_t next_stub = 0;
  bool slot_per_channel = false;
  std::vector<grpc::Slice> slices;
  std::string message;
  std::string status_message;
  int pending = 0;  // of all streams

  void Issue(Stream& s) {
    ++s.pending;
    ++pending;
  }
  void StartFinish(uint32_t slot, Stream& s) {
    s.finishing = true;
    Issue(s);
    s.call->Finish(&s.status, TagFor(slot, kFinish));
  }
  void StartWritesDone(uint32_t slot, Stream& s) {
    s.writes_done = true;
    Issue(s);
    s.call->WritesDone(TagFor(slot, kWritesDone));
  }
};

GrpcStreamTransport::GrpcStreamTransport(std::vector<std::shared_ptr<grpc::Channel>> channels,
                                         std::vector<std::string> paths, uint32_t slots,
                                         bool slot_per_channel)
    : impl_(std::make_unique<Impl>()) {
  impl_->slot_per_channel = slot_per_channel;
  impl_->channels = std::move(channels);
  impl_->stubs = MakeStubs(impl_->channels);
  impl_->paths = std::move(paths);
  impl_->counts.resize(impl_->paths.size());
  impl_->streams = std::vector<Stream>(slots);
  impl_->kicker.emplace(impl_->queue);
}

GrpcStreamTransport::~GrpcStreamTransport() {
  for (uint32_t slot = 0; slot < impl_->streams.size(); ++slot) Cancel(slot);
  Event ignored;
  while (std::any_of(impl_->streams.begin(), impl_->streams.end(),
                     [](const Stream& s) { return s.active; })) {
    if (!Next(1'000'000'000, &ignored)) break;
  }
  impl_->kicker.reset();
  ShutdownAndDrain(impl_->queue);
}

void GrpcStreamTransport::Open(uint32_t slot, uint32_t operation, std::span<const Header> headers) {
  Stream& s = impl_->streams[slot];
  s.context.emplace();
  AddHeaders(*s.context, headers);
  s.status = grpc::Status();
  s.operation = operation;
  s.pending = 0;
  s.write_in_flight = s.close_requested = s.writes_done = s.finishing = false;
  s.active = true;
  grpc::GenericStub& stub = impl_->slot_per_channel ? *impl_->stubs[slot % impl_->stubs.size()]
                                                    : *impl_->stubs[impl_->next_stub];
  impl_->next_stub = (impl_->next_stub + 1) % impl_->stubs.size();
  s.call = stub.PrepareCall(&*s.context, impl_->paths[operation], &impl_->queue);
  impl_->Issue(s);
  s.call->StartCall(TagFor(slot, kStart));
}

void GrpcStreamTransport::Write(uint32_t slot, std::string_view message) {
  Stream& s = impl_->streams[slot];
  grpc::Slice slice(message.data(), message.size());
  s.write_buffer = grpc::ByteBuffer(&slice, 1);
  s.write_in_flight = true;
  impl_->Issue(s);
  s.call->Write(s.write_buffer, TagFor(slot, kWrite));
}

void GrpcStreamTransport::CloseSend(uint32_t slot) {
  Stream& s = impl_->streams[slot];
  if (s.writes_done || s.finishing) return;
  if (s.write_in_flight) {
    s.close_requested = true;
    return;
  }
  impl_->StartWritesDone(slot, s);
}

void GrpcStreamTransport::Cancel(uint32_t slot) {
  Stream& s = impl_->streams[slot];
  if (s.active && s.context) s.context->TryCancel();
}

std::vector<WireTotals> GrpcStreamTransport::CountsByOperation() const { return impl_->counts; }

bool GrpcStreamTransport::Next(int64_t timeout_nanos, Event* event) {
  for (;;) {
    bool ok = false;
    void* tag = AwaitTag(impl_->queue, *impl_->kicker, timeout_nanos, impl_->pending > 0, &ok);
    if (tag == nullptr) return false;
    timeout_nanos = 0;  // having got one completion, do not wait again for more
    const uintptr_t raw = reinterpret_cast<uintptr_t>(tag) - 1;
    const auto slot = static_cast<uint32_t>(raw / kOpCount);
    const auto op = static_cast<Op>(raw % kOpCount);
    Stream& s = impl_->streams[slot];
    --s.pending;
    --impl_->pending;
    event->slot = slot;
    event->ok = ok;
    switch (op) {
      case kStart:
        event->type = EventType::kOpened;
        if (ok) {
          impl_->Issue(s);
          s.call->Read(&s.read_buffer, TagFor(slot, kRead));
        } else {
          impl_->StartFinish(slot, s);
        }
        return true;
      case kRead:
        if (!ok) {
          impl_->StartFinish(slot, s);
          continue;
        }
        FlattenByteBuffer(s.read_buffer, impl_->slices, &impl_->message);
        ++impl_->counts[s.operation].responses;
        impl_->counts[s.operation].response_payload_bytes +=
            static_cast<int64_t>(impl_->message.size());
        impl_->Issue(s);
        s.call->Read(&s.read_buffer, TagFor(slot, kRead));
        event->type = EventType::kMessage;
        event->message = impl_->message;
        return true;
      case kWrite:
        s.write_in_flight = false;
        if (ok) {
          ++impl_->counts[s.operation].requests;
          impl_->counts[s.operation].request_payload_bytes +=
              static_cast<int64_t>(s.write_buffer.Length());
        }
        if (ok && s.close_requested && !s.writes_done && !s.finishing) {
          impl_->StartWritesDone(slot, s);
        }
        if (s.finishing && s.pending == 0) break;
        event->type = EventType::kWritten;
        return true;
      case kWritesDone:
        if (s.finishing && s.pending == 0) break;
        continue;
      case kFinish:
        if (s.pending == 0) break;
        continue;
      default:
        continue;
    }
    // Every operation of the stream has completed: it is over.
    event->type = EventType::kClosed;
    event->ok = true;
    event->status_code = s.status.error_code();
    // grpc::Status hands its message out by value: held here until the next Next().
    impl_->status_message = s.status.error_message();
    event->status_message = impl_->status_message;
    s.active = false;
    s.call.reset();
    s.context.reset();
    return true;
  }
}

}  // namespace aurigraph::loadgen
