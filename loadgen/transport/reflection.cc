#include "loadgen/transport/reflection.h"

#include <google/protobuf/descriptor.pb.h>
#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/wire_format_lite.h>

#include <map>
#include <set>
#include <utility>

#include "absl/strings/str_cat.h"
#include "loadgen/transport/completion_queue_util.h"

namespace aurigraph::loadgen {
namespace {

namespace pb = google::protobuf;
using pb::internal::WireFormatLite;

// The reflection protocols, newest first. Their messages are the same (v1
// renamed only the package), so one client speaks both.
constexpr const char* kProtocols[] = {"grpc.reflection.v1", "grpc.reflection.v1alpha"};
// ServerReflectionRequest fields.
constexpr int kFileByFilename = 3;
constexpr int kFileContainingSymbol = 4;
// ServerReflectionResponse fields.
constexpr int kFileDescriptorResponse = 4;
constexpr int kErrorResponse = 7;

std::string Request(int field, const std::string& value) {
  std::string out;
  pb::io::StringOutputStream stream(&out);
  pb::io::CodedOutputStream coded(&stream);
  WireFormatLite::WriteString(field, value, &coded);
  coded.Trim();
  return out;
}

struct Reply {
  std::vector<std::string> files;  // serialized FileDescriptorProtos
  std::string error;               // set when the server answered with an error
};

// Reads the fields this client needs; skips everything else.
bool ParseReply(const std::string& bytes, Reply* reply) {
  pb::io::CodedInputStream in(reinterpret_cast<const uint8_t*>(bytes.data()),
                              static_cast<int>(bytes.size()));
  while (const uint32_t tag = in.ReadTag()) {
    const int field = WireFormatLite::GetTagFieldNumber(tag);
    if ((field == kFileDescriptorResponse || field == kErrorResponse) &&
        WireFormatLite::GetTagWireType(tag) == WireFormatLite::WIRETYPE_LENGTH_DELIMITED) {
      std::string inner;
      if (!WireFormatLite::ReadBytes(&in, &inner)) return false;
      pb::io::CodedInputStream nested(reinterpret_cast<const uint8_t*>(inner.data()),
                                      static_cast<int>(inner.size()));
      while (const uint32_t inner_tag = nested.ReadTag()) {
        const int inner_field = WireFormatLite::GetTagFieldNumber(inner_tag);
        std::string value;
        // FileDescriptorResponse.file_descriptor_proto = 1; ErrorResponse.error_message = 2.
        const bool wanted = (field == kFileDescriptorResponse && inner_field == 1) ||
                            (field == kErrorResponse && inner_field == 2);
        if (wanted) {
          if (!WireFormatLite::ReadBytes(&nested, &value)) return false;
          (field == kFileDescriptorResponse ? reply->files.emplace_back(std::move(value))
                                            : reply->error = std::move(value));
        } else if (!WireFormatLite::SkipField(&nested, inner_tag)) {
          return false;
        }
      }
      if (field == kErrorResponse && reply->error.empty()) reply->error = "error (no message)";
    } else if (!WireFormatLite::SkipField(&in, tag)) {
      return false;
    }
  }
  return true;
}

// One reflection stream, driven step by step on its own completion queue.
class ReflectionStream {
 public:
  ReflectionStream(const std::shared_ptr<grpc::Channel>& channel, const std::string& protocol,
                   int64_t timeout_nanos)
      : stub_(channel) {
    context_.set_deadline(std::chrono::system_clock::now() +
                          std::chrono::nanoseconds(timeout_nanos));
    call_ = stub_.PrepareCall(
        &context_, absl::StrCat("/", protocol, ".ServerReflection/ServerReflectionInfo"), &queue_);
    call_->StartCall(this);
    started_ = Await();
  }
  ~ReflectionStream() {
    if (started_) {
      call_->WritesDone(this);
      Await();
      grpc::Status ignored;
      call_->Finish(&ignored, this);
      Await();
    }
    ShutdownAndDrain(queue_);
  }

  // Sends a request and reads its reply; a failed stream reports its status.
  absl::StatusOr<std::string> Ask(const std::string& request) {
    grpc::Slice slice(request.data(), request.size());
    grpc::ByteBuffer out(&slice, 1);
    if (started_) {
      call_->Write(out, this);
      if (Await()) {
        grpc::ByteBuffer in;
        call_->Read(&in, this);
        if (Await()) {
          std::vector<grpc::Slice> slices;
          std::string bytes;
          FlattenByteBuffer(in, slices, &bytes);
          return bytes;
        }
      }
    }
    grpc::Status status;
    call_->Finish(&status, this);
    Await();
    started_ = false;
    return absl::Status(static_cast<absl::StatusCode>(status.error_code()), status.error_message());
  }

 private:
  bool Await() {
    void* tag;
    bool ok = false;
    return queue_.Next(&tag, &ok) && ok;
  }

  grpc::GenericStub stub_;
  grpc::ClientContext context_;
  grpc::CompletionQueue queue_;
  std::unique_ptr<grpc::GenericClientAsyncReaderWriter> call_;
  bool started_ = false;
};

// The files of `service` and their imports, asked in `protocol`; UNIMPLEMENTED
// when the server does not serve `protocol`.
absl::StatusOr<std::vector<std::string>> FetchWith(const std::shared_ptr<grpc::Channel>& channel,
                                                   const std::string& protocol,
                                                   const std::string& service,
                                                   int64_t timeout_nanos) {
  ReflectionStream stream(channel, protocol, timeout_nanos);
  std::vector<std::string> files;
  std::set<std::string> known;
  std::map<std::string, std::string> importer;  // a file asked for -> a file that imports it
  // Each request with the file it asks for (empty: the service's own).
  std::vector<std::pair<std::string, std::string>> requests = {
      {Request(kFileContainingSymbol, service), ""}};
  while (!requests.empty()) {
    const auto [request, dependency] = requests.back();
    requests.pop_back();
    auto bytes = stream.Ask(request);
    if (absl::IsUnimplemented(bytes.status())) return bytes.status();
    if (!bytes.ok()) {
      return absl::Status(bytes.status().code(),
                          absl::StrCat("server reflection failed: ", bytes.status().message()));
    }
    Reply reply;
    if (!ParseReply(*bytes, &reply)) {
      return absl::DataLossError("server reflection: a reply that does not parse");
    }
    if (!reply.error.empty() && !dependency.empty()) {
      return absl::NotFoundError(absl::StrCat(
          "server reflection is incomplete: ", importer[dependency], " imports ", dependency,
          ", which the server does not give (", reply.error, "); give --proto or --protoset"));
    }
    if (!reply.error.empty()) {
      return absl::NotFoundError(absl::StrCat("server reflection: ", reply.error));
    }
    for (std::string& file : reply.files) {
      pb::FileDescriptorProto proto;
      if (!proto.ParseFromString(file)) {
        return absl::DataLossError("server reflection: a file descriptor that does not parse");
      }
      if (!known.insert(proto.name()).second) continue;
      for (const std::string& imported : proto.dependency()) {
        if (!known.count(imported) && importer.emplace(imported, proto.name()).second) {
          requests.emplace_back(Request(kFileByFilename, imported), imported);
        }
      }
      files.push_back(std::move(file));
    }
  }
  return files;
}

}  // namespace

absl::StatusOr<ServiceFiles> FetchServiceFiles(const std::shared_ptr<grpc::Channel>& channel,
                                               const std::string& service, int64_t timeout_nanos) {
  for (const char* protocol : kProtocols) {
    auto files = FetchWith(channel, protocol, service, timeout_nanos);
    if (absl::IsUnimplemented(files.status())) continue;  // try the older protocol
    if (!files.ok()) return files.status();
    return ServiceFiles{*std::move(files), protocol};
  }
  return absl::UnimplementedError(
      "the server offers no reflection (grpc.reflection.v1 or v1alpha); give --proto or "
      "--protoset");
}

}  // namespace aurigraph::loadgen
