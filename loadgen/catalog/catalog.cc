#include "loadgen/catalog/catalog.h"

#include <google/protobuf/compiler/importer.h>
#include <google/protobuf/descriptor.h>
#include <google/protobuf/descriptor.pb.h>
#include <google/protobuf/descriptor_database.h>
#include <google/protobuf/io/zero_copy_stream_impl_lite.h>

#include <climits>
#include <filesystem>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "aurigraph/approval/v1/approval.pb.h"
#include "aurigraph/consensus/v1/consensus.pb.h"
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
  auto database = std::make_unique<pb::SimpleDescriptorDatabase>();
  for (const std::string& file : files) {
    pb::FileDescriptorProto proto;
    if (!proto.ParseFromString(file) || !database->Add(proto)) {
      return absl::InvalidArgumentError(
          absl::StrCat(origin, ": a file descriptor that does not parse"));
    }
  }
  auto pool = std::make_unique<pb::DescriptorPool>(database.get());
  auto catalog = std::unique_ptr<MethodCatalog>(new MethodCatalog(pool.get(), std::move(origin)));
  catalog->database_ = std::move(database);
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
