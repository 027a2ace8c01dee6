// Resolves "package.Service/Method" names to a method's request and response
// types and call kind: against the bundled Aurigraph API (the descriptors
// compiled from proto/), or against .proto files loaded at run time, so any
// gRPC service can be driven without generated code.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "loadgen/interfaces/load_model.h"

namespace google::protobuf {
class Descriptor;
class DescriptorPool;
namespace compiler {
class DiskSourceTree;
class Importer;
class MultiFileErrorCollector;
}  // namespace compiler
}  // namespace google::protobuf

namespace aurigraph::loadgen {

struct MethodInfo {
  std::string path;  // "/package.Service/Method", as gRPC sends it
  const google::protobuf::Descriptor* request_type = nullptr;
  const google::protobuf::Descriptor* response_type = nullptr;
  CallKind kind = CallKind::kUnary;
};

class MethodCatalog {
 public:
  static const MethodCatalog& Bundled();
  // Parses `files` (paths, or names under one of `import_paths`) with their
  // imports; the well-known google/protobuf types are always available. A file
  // that does not parse is an INVALID_ARGUMENT naming file:line:column.
  static absl::StatusOr<std::unique_ptr<MethodCatalog>> FromProtoFiles(
      const std::vector<std::string>& files, const std::vector<std::string>& import_paths);
  // From FileDescriptorSet files (`protoc --include_imports -o FILE`); a file
  // that is not one is an INVALID_ARGUMENT naming it.
  static absl::StatusOr<std::unique_ptr<MethodCatalog>> FromProtosets(
      const std::vector<std::string>& paths);
  // From serialized FileDescriptorProtos (as server reflection returns them);
  // `origin` names them in errors.
  static absl::StatusOr<std::unique_ptr<MethodCatalog>> FromFileDescriptors(
      const std::vector<std::string>& files, std::string origin);
  ~MethodCatalog();

  // NOT_FOUND naming the service or method when the catalog has no such method.
  absl::StatusOr<MethodInfo> Find(const std::string& rpc) const;

 private:
  MethodCatalog(const google::protobuf::DescriptorPool* pool, std::string origin);

  const google::protobuf::DescriptorPool* pool_;
  std::string origin_;  // named in errors
  std::unique_ptr<google::protobuf::compiler::DiskSourceTree> source_tree_;
  std::unique_ptr<google::protobuf::compiler::MultiFileErrorCollector> errors_;
  std::unique_ptr<google::protobuf::compiler::Importer> importer_;
  std::unique_ptr<google::protobuf::DescriptorPool> owned_pool_;
};

// The bundled catalog's Find.
absl::StatusOr<MethodInfo> FindBundledMethod(const std::string& rpc);

}  // namespace aurigraph::loadgen
