// The request-template compiler (loadgen/payload) and what it renders, over
// the bundled API's message types. The input is, separated by NUL bytes: the
// message type (a full name, or any text picking one), the template JSON,
// metadata lines "name: value", and a data file's JSON lines for ${data.*}.
// Whatever compiles must render bytes that parse as the message type and are
// its canonical encoding: what protobuf's deterministic serializer writes for
// the message it parsed, byte for byte (or nothing, when a value is out of its
// field's range).
#include <google/protobuf/compiler/importer.h>
#include <google/protobuf/descriptor.h>
#include <google/protobuf/dynamic_message.h>
#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/zero_copy_stream_impl_lite.h>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "loadgen/payload/data_file.h"
#include "loadgen/payload/request_template.h"

namespace pb = google::protobuf;
using aurigraph::loadgen::DataFile;
using aurigraph::loadgen::RequestContext;
using aurigraph::loadgen::RequestTemplate;
using aurigraph::loadgen::TemplateInputs;
using aurigraph::loadgen::TemplateRequestSource;

namespace {

class NoErrors : public pb::compiler::MultiFileErrorCollector {
 public:
  void AddError(const std::string&, int, int, const std::string&) override { std::abort(); }
};

// The message types of the bundled .proto files, loaded once.
struct Types {
  pb::compiler::DiskSourceTree tree;
  NoErrors errors;
  std::unique_ptr<pb::compiler::Importer> importer;
  std::vector<const pb::Descriptor*> messages;
  pb::DynamicMessageFactory factory;

  Types() {
    tree.MapPath("", AURIGRAPH_PROTO_DIR);
    importer = std::make_unique<pb::compiler::Importer>(&tree, &errors);
    for (const char* file :
         {"aurigraph/common/v1/common.proto", "aurigraph/approval/v1/approval.proto",
          "aurigraph/transaction/v1/transaction.proto", "aurigraph/webhook/v1/webhook.proto",
          "aurigraph/consensus/v1/consensus.proto"}) {
      const pb::FileDescriptor* descriptor = importer->Import(file);
      for (int i = 0; i < descriptor->message_type_count(); ++i) Add(descriptor->message_type(i));
    }
  }
  void Add(const pb::Descriptor* type) {
    messages.push_back(type);
    for (int i = 0; i < type->nested_type_count(); ++i) Add(type->nested_type(i));
  }
  const pb::Descriptor* Pick(const std::string& name) const {
    if (const pb::Descriptor* type = importer->pool()->FindMessageTypeByName(name)) return type;
    return messages[std::hash<std::string>()(name) % messages.size()];
  }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static Types* types = new Types();
  const absl::string_view input(reinterpret_cast<const char*>(data), size);
  std::vector<std::string> parts = absl::StrSplit(input, absl::MaxSplits('\0', 3));
  parts.resize(4);
  const pb::Descriptor& type = *types->Pick(parts[0]);
  TemplateInputs inputs;
  for (absl::string_view line : absl::StrSplit(parts[2], '\n', absl::SkipEmpty())) {
    const size_t colon = line.find(':');
    if (colon == absl::string_view::npos) continue;
    inputs.metadata.emplace_back(
        std::string(line.substr(0, colon)),
        std::string(absl::StripLeadingAsciiWhitespace(line.substr(colon + 1))));
  }
  if (!parts[3].empty()) {
    auto file = DataFile::Parse(
        parts[3], "fuzz.jsonl",
        parts[3].size() % 2 ? DataFile::Order::kRandom : DataFile::Order::kSequential);
    if (!file.ok()) return 0;
    inputs.data = *file;
  }
  auto compiled = RequestTemplate::Compile(type, parts[1], inputs);
  if (!compiled.ok()) return 0;
  TemplateRequestSource source(*compiled, /*worker=*/3, /*seed=*/7, "run-1");
  std::unique_ptr<pb::Message> message(types->factory.GetPrototype(&type)->New());
  for (uint64_t sequence : {uint64_t{0}, uint64_t{1}, uint64_t{1} << 40}) {
    const RequestContext context{sequence, sequence / 2, sequence % 3};
    const std::string_view built = source.Build(context);
    source.BuildHeaders(context);
    if (built.data() == nullptr) continue;
    if (!message->ParseFromString(std::string(built))) __builtin_trap();
    std::string canonical;
    {
      pb::io::StringOutputStream stream(&canonical);
      pb::io::CodedOutputStream coded(&stream);
      coded.SetSerializationDeterministic(true);
      message->SerializeToCodedStream(&coded);
    }
    if (canonical != built) __builtin_trap();
  }
  return 0;
}
