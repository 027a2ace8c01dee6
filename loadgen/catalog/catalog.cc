#include "loadgen/catalog/catalog.h"

#include <google/protobuf/compiler/importer.h>
#include <google/protobuf/descriptor.h>
#include <google/protobuf/descriptor.pb.h>
#include <google/protobuf/io/zero_copy_stream_impl_lite.h>

#include <climits>
#include <filesystem>
#include <map>
#include <set>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "aurigraph/approval/v1/approval.pb.h"
#include "aurigraph/consensus/v1/consensus.pb.h"
#include "aurigraph/contract/v1/contract.pb.h"
#include "aurigraph/crypto/v1/crypto.pb.h"
#include "aurigraph/network/v1/network.pb.h"
#include "aurigraph/storage/v1/storage.pb.h"
#include "aurigraph/traceability/v1/traceability.pb.h"
#include "aurigraph/transaction/v1/transaction.pb.h"
#include "aurigraph/webhook/v1/webhook.pb.h"
#include "common/input/input_file.h"

namespace aurigraph::loadgen {
namespace {

namespace pb = google::protobuf;

// Keeps the first problem, as file:line:column (protobuf counts from 0).
class FirstErrorCollector : public pb::compiler::MultiFileErrorCollector {
 public:
  void AddError(const std::string& filename, int line, int column,
                const std::string& message) override {
    if (first_.empty()) {
      first_ = line < 0 ? absl::StrCat(filename, ": ", message)
                        : absl::StrCat(filename, ":", line + 1, ":", column + 1, ": ", message);
    }
  }
  const std::string& first() const { return first_; }

 private:
  std::string first_;
};

// A .proto file's text, held by its stream.
class TextInputStream : public pb::io::ZeroCopyInputStream {
 public:
  explicit TextInputStream(std::string text)
      : text_(std::move(text)), stream_(text_.data(), static_cast<int>(text_.size())) {}
  bool Next(const void** data, int* size) override { return stream_.Next(data, size); }
  void BackUp(int count) override { stream_.BackUp(count); }
  bool Skip(int count) override { return stream_.Skip(count); }
  int64_t ByteCount() const override { return stream_.ByteCount(); }

 private:
  std::string text_;
  pb::io::ArrayInputStream stream_;
};

// Reads .proto files whole and within the input limits (common/input/input_file.h),
// before the parser sees them. The first file over a limit is kept in
// limit_error(), to be reported rather than the importer's "not found".
class BoundedSourceTree : public pb::compiler::DiskSourceTree {
 public:
  pb::io::ZeroCopyInputStream* Open(const std::string& filename) override {
    std::string disk_file;
    if (!VirtualFileToDiskFile(filename, &disk_file)) return DiskSourceTree::Open(filename);
    auto text = ReadInputFile(disk_file, disk_file);
    if (absl::IsNotFound(text.status())) return DiskSourceTree::Open(filename);  // its message
    if (text.ok() && text->size() > static_cast<size_t>(INT_MAX)) {
      text = absl::InvalidArgumentError(absl::StrCat(disk_file, ": larger than protobuf parses"));
    }
    if (!text.ok()) {
      if (limit_error_.ok()) limit_error_ = text.status();
      return nullptr;
    }
    return new TextInputStream(*std::move(text));
  }

  const absl::Status& limit_error() const { return limit_error_; }

 private:
  absl::Status limit_error_;
};

// Keeps the first problem protobuf finds building a file (which it would
// otherwise log over several lines) as one line.
class FirstBuildError : public pb::DescriptorPool::ErrorCollector {
 public:
  void AddError(const std::string& filename, const std::string& element_name,
                const pb::Message* /*descriptor*/, ErrorLocation /*location*/,
                const std::string& message) override {
    if (!first_.empty()) return;
    first_ = element_name.empty() || element_name == filename
                 ? absl::StrCat(filename, ": ", message)
                 : absl::StrCat(filename, ": ", element_name, ": ", message);
    if (absl::EndsWith(first_, ".")) first_.pop_back();  // it goes on in a sentence
  }
  const std::string& first() const { return first_; }

 private:
  std::string first_;
};

// The name protoc gives the entry type of map field `field` ("by_i32" ->
// "ByI32Entry"), which DescriptorPool requires of a map entry.
std::string MapEntryName(const std::string& field) {
  std::string name;
  bool upper = true;
  for (const char c : field) {
    if (c == '_') {
      upper = true;
    } else {
      name.push_back(upper ? absl::ascii_toupper(static_cast<unsigned char>(c)) : c);
      upper = false;
    }
  }
  return name + "Entry";
}

// protobufjs (behind Node's @grpc/proto-loader and @grpc/reflection) names a
// map field's entry type after the field ("Labels"), which DescriptorPool
// refuses as a map entry: entries are renamed as protoc names them.
void NameMapEntriesAsProtoc(pb::DescriptorProto& message, const std::string& scope) {
  const std::string full_name = absl::StrCat(scope, ".", message.name());
  for (pb::FieldDescriptorProto& field : *message.mutable_field()) {
    if (field.label() != pb::FieldDescriptorProto::LABEL_REPEATED) continue;
    const std::string& type = field.type_name();
    const std::string type_name = type.substr(type.rfind('.') + 1);  // npos + 1 = 0
    for (pb::DescriptorProto& nested : *message.mutable_nested_type()) {
      if (nested.name() != type_name || !nested.options().map_entry()) continue;
      nested.set_name(MapEntryName(field.name()));
      field.set_type_name(absl::StrCat(full_name, ".", nested.name()));
      break;
    }
  }
  for (pb::DescriptorProto& nested : *message.mutable_nested_type()) {
    NameMapEntriesAsProtoc(nested, full_name);
  }
}

}  // namespace

MethodCatalog::MethodCatalog(const pb::DescriptorPool* pool, std::string origin)
    : pool_(pool), origin_(std::move(origin)) {}

MethodCatalog::~MethodCatalog() = default;

const MethodCatalog& MethodCatalog::Bundled() {
  // Touching one descriptor per file registers it in the generated pool (and
  // keeps the linker from dropping the generated code).
  static const MethodCatalog* bundled = [] {
    aurigraph::approval::v1::ApprovalRequest::descriptor();
    aurigraph::transaction::v1::Transaction::descriptor();
    aurigraph::webhook::v1::Webhook::descriptor();
    aurigraph::consensus::v1::LogEntry::descriptor();
    aurigraph::crypto::v1::SignRequest::descriptor();
    aurigraph::storage::v1::PutRequest::descriptor();
    aurigraph::traceability::v1::LinkRequest::descriptor();
    aurigraph::contract::v1::DeployRequest::descriptor();
    aurigraph::network::v1::NetworkMessage::descriptor();
    return new MethodCatalog(pb::DescriptorPool::generated_pool(), "the bundled Aurigraph API");
  }();
  return *bundled;
}

absl::StatusOr<std::unique_ptr<MethodCatalog>> MethodCatalog::FromProtoFiles(
    const std::vector<std::string>& files, const std::vector<std::string>& import_paths) {
  if (files.empty()) return absl::InvalidArgumentError("no .proto file given");
  auto tree = std::make_unique<BoundedSourceTree>();
  for (const std::string& path : import_paths) {
    std::error_code ec;
    if (!std::filesystem::is_directory(path, ec)) {
      return absl::InvalidArgumentError(absl::StrCat("import path ", path, ": not a directory"));
    }
    tree->MapPath("", path);
  }
  // A file outside every import path is found through its own directory.
  std::vector<std::string> virtual_names;
  for (const std::string& file : files) {
    std::string virtual_name, shadowing;
    if (tree->DiskFileToVirtualFile(file, &virtual_name, &shadowing) ==
        pb::compiler::DiskSourceTree::SUCCESS) {
      virtual_names.push_back(virtual_name);
      continue;
    }
    std::error_code ec;
    if (!std::filesystem::is_regular_file(file, ec)) {
      return absl::InvalidArgumentError(absl::StrCat(file, ": cannot read .proto file"));
    }
    const std::filesystem::path path(file);
    tree->MapPath("", path.parent_path().empty() ? "." : path.parent_path().string());
    virtual_names.push_back(path.filename().string());
  }
  tree->MapPath("", ".");  // imports are looked for in the current directory too, as protoc does
  tree->MapPath("", AURIGRAPH_PROTOBUF_INCLUDE_DIR);  // google/protobuf/*.proto
  auto errors = std::make_unique<FirstErrorCollector>();
  auto importer = std::make_unique<pb::compiler::Importer>(tree.get(), errors.get());
  for (const std::string& name : virtual_names) {
    const bool imported = importer->Import(name) != nullptr;
    if (!tree->limit_error().ok()) return tree->limit_error();
    if (!imported) {
      return absl::InvalidArgumentError(
          errors->first().empty() ? absl::StrCat(name, ": cannot be loaded") : errors->first());
    }
  }
  auto catalog = std::unique_ptr<MethodCatalog>(new MethodCatalog(
      importer->pool(),
      absl::StrCat("the loaded .proto files (", absl::StrJoin(files, ", "), ")")));
  catalog->source_tree_ = std::move(tree);
  catalog->errors_ = std::move(errors);
  catalog->importer_ = std::move(importer);
  return catalog;
}

absl::StatusOr<std::unique_ptr<MethodCatalog>> MethodCatalog::FromProtosets(
    const std::vector<std::string>& paths) {
  std::vector<std::string> files;
  for (const std::string& path : paths) {
    auto bytes = ReadInputFile(path, path);
    if (!bytes.ok()) return bytes.status();
    pb::FileDescriptorSet set;
    if (!set.ParseFromString(*bytes) || set.file_size() == 0) {
      return absl::InvalidArgumentError(absl::StrCat(
          path, ": not a FileDescriptorSet (write one with protoc --include_imports -o FILE)"));
    }
    for (const pb::FileDescriptorProto& file : set.file())
      files.push_back(file.SerializeAsString());
  }
  return FromFileDescriptors(files, absl::StrJoin(paths, ", "));
}

absl::StatusOr<std::unique_ptr<MethodCatalog>> MethodCatalog::FromFileDescriptors(
    const std::vector<std::string>& files, std::string origin) {
  std::vector<pb::FileDescriptorProto> protos(files.size());
  std::map<std::string, const pb::FileDescriptorProto*> by_name;  // the first of each name
  for (size_t i = 0; i < files.size(); ++i) {
    pb::FileDescriptorProto& proto = protos[i];
    if (!proto.ParseFromString(files[i])) {
      return absl::InvalidArgumentError(
          absl::StrCat(origin, ": a file descriptor that does not parse"));
    }
    const std::string scope = proto.package().empty() ? "" : absl::StrCat(".", proto.package());
    for (pb::DescriptorProto& message : *proto.mutable_message_type()) {
      NameMapEntriesAsProtoc(message, scope);
    }
    by_name.emplace(proto.name(), &proto);
  }
  // Every file is built now, each after its imports, so that a missing file or
  // type is one line naming it (protobuf would log it over several lines when a
  // method is looked up).
  constexpr absl::string_view kSuggestion =
      "give the .proto files (--proto) or a protoset written with protoc --include_imports "
      "(--protoset)";
  auto pool = std::make_unique<pb::DescriptorPool>();
  FirstBuildError errors;
  std::set<std::string> started;
  const auto build = [&](const auto& self, const pb::FileDescriptorProto& proto) -> absl::Status {
    if (pool->FindFileByName(proto.name()) != nullptr) return absl::OkStatus();
    if (!started.insert(proto.name()).second) {
      return absl::InvalidArgumentError(
          absl::StrCat(origin, ": ", proto.name(), " imports itself, through its imports"));
    }
    for (const std::string& dependency : proto.dependency()) {
      const auto imported = by_name.find(dependency);
      if (imported == by_name.end()) {
        return absl::InvalidArgumentError(absl::StrCat(origin, " is incomplete: ", proto.name(),
                                                       " imports ", dependency,
                                                       ", which it lacks; ", kSuggestion));
      }
      if (absl::Status built = self(self, *imported->second); !built.ok()) return built;
    }
    if (pool->BuildFileCollectingErrors(proto, &errors) == nullptr) {
      return absl::InvalidArgumentError(
          absl::StrCat(origin, " is incomplete or invalid: ", errors.first(), "; ", kSuggestion));
    }
    return absl::OkStatus();
  };
  for (const auto& [name, proto] : by_name) {
    if (absl::Status built = build(build, *proto); !built.ok()) return built;
  }
  auto catalog = std::unique_ptr<MethodCatalog>(new MethodCatalog(pool.get(), std::move(origin)));
  catalog->owned_pool_ = std::move(pool);
  return catalog;
}

absl::StatusOr<MethodInfo> MethodCatalog::Find(const std::string& rpc) const {
  const size_t slash = rpc.find('/');
  if (slash == std::string::npos || slash == 0 || slash + 1 == rpc.size()) {
    return absl::InvalidArgumentError(
        absl::StrCat("rpc '", rpc, "' is not of the form package.Service/Method"));
  }
  const std::string service = rpc.substr(0, slash);
  const std::string method_name = rpc.substr(slash + 1);
  const auto* service_descriptor = pool_->FindServiceByName(service);
  if (service_descriptor == nullptr) {
    return absl::NotFoundError(
        absl::StrCat("unknown rpc '", rpc, "': no service ", service, " in ", origin_));
  }
  const auto* method = service_descriptor->FindMethodByName(method_name);
  if (method == nullptr) {
    return absl::NotFoundError(
        absl::StrCat("unknown rpc '", rpc, "': ", service, " has no method ", method_name));
  }
  MethodInfo info;
  info.path = absl::StrCat("/", service, "/", method_name);
  info.request_type = method->input_type();
  info.response_type = method->output_type();
  if (method->client_streaming() && method->server_streaming())
    info.kind = CallKind::kBidiStreaming;
  else if (method->client_streaming())
    info.kind = CallKind::kClientStreaming;
  else if (method->server_streaming())
    info.kind = CallKind::kServerStreaming;
  return info;
}

absl::StatusOr<MethodInfo> FindBundledMethod(const std::string& rpc) {
  return MethodCatalog::Bundled().Find(rpc);
}

}  // namespace aurigraph::loadgen
