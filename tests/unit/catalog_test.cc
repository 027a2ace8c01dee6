// Descriptors as other implementations write them (server reflection,
// protosets): Node's protobufjs names map entries its own way, and an
// incomplete answer is one line naming what is missing, with nothing logged.
#include "loadgen/catalog/catalog.h"

#include <google/protobuf/descriptor.h>
#include <google/protobuf/descriptor.pb.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "aurigraph/test/v1/everything.pb.h"
#include "loadgen/payload/request_template.h"

namespace aurigraph::loadgen {
namespace {

namespace pb = google::protobuf;
using test::v1::Everything;

pb::FileDescriptorProto FileOf(const pb::Descriptor& type) {
  pb::FileDescriptorProto file;
  type.file()->CopyTo(&file);
  return file;
}

// As @grpc/reflection describes a map field: its entry named after the field
// ("Labels", not "LabelsEntry") and referred to by that relative name.
void NameMapEntriesAsProtobufJs(pb::DescriptorProto& message) {
  for (pb::FieldDescriptorProto& field : *message.mutable_field()) {
    for (pb::DescriptorProto& nested : *message.mutable_nested_type()) {
      if (!nested.options().map_entry() || !field.type_name().ends_with("." + nested.name())) {
        continue;
      }
      std::string name = field.name();
      name[0] = static_cast<char>(std::toupper(name[0]));
      nested.set_name(name);
      field.set_type_name(name);
    }
  }
}

TEST(MethodCatalog, MapEntriesNamedAsProtobufJsNamesThemWork) {
  pb::FileDescriptorProto everything = FileOf(*Everything::descriptor());
  for (pb::DescriptorProto& message : *everything.mutable_message_type()) {
    NameMapEntriesAsProtobufJs(message);
  }
  ASSERT_EQ(everything.message_type(2).nested_type(0).name(), "Labels");
  auto catalog = MethodCatalog::FromFileDescriptors(
      {FileOf(*test::v1::Stamp::descriptor()).SerializeAsString(), everything.SerializeAsString()},
      "a Node server");
  ASSERT_TRUE(catalog.ok()) << catalog.status();
  auto method = (*catalog)->Find("aurigraph.test.v1.Recorder/Record");
  ASSERT_TRUE(method.ok()) << method.status();
  const pb::FieldDescriptor* labels = method->request_type->FindFieldByName("labels");
  ASSERT_TRUE(labels->is_map());
  EXPECT_EQ(labels->message_type()->full_name(), "aurigraph.test.v1.Everything.LabelsEntry");
  EXPECT_TRUE(method->request_type->FindFieldByName("by_i32")->is_map());
  EXPECT_TRUE(method->request_type->FindFieldByName("meta")
                  ->message_type()
                  ->FindFieldByName("counters")
                  ->is_map());
  // A templated map field over these descriptors encodes as protobuf's own does.
  auto compiled = RequestTemplate::Compile(
      *method->request_type,
      R"({"labels": {"k-${seq}": "v", "a": "${seq}"}, "by_i32": {"4": {}}})");
  ASSERT_TRUE(compiled.ok()) << compiled.status();
  TemplateRequestSource source(*compiled, 0, 1);
  Everything want;
  (*want.mutable_labels())["k-7"] = "v";
  (*want.mutable_labels())["a"] = "7";
  (*want.mutable_by_i32())[4];
  Everything got;
  ASSERT_TRUE(got.ParseFromString(std::string(source.Build({7}))));
  EXPECT_EQ(got.DebugString(), want.DebugString());
}

TEST(MethodCatalog, AMissingImportIsOneLineNamingIt) {
  testing::internal::CaptureStderr();
  auto catalog = MethodCatalog::FromFileDescriptors(
      {FileOf(*Everything::descriptor()).SerializeAsString()}, "the server reflection of x:1");
  const std::string logged = testing::internal::GetCapturedStderr();
  ASSERT_FALSE(catalog.ok());
  EXPECT_EQ(
      catalog.status().message(),
      "the server reflection of x:1 is incomplete: aurigraph/test/v1/everything.proto imports "
      "aurigraph/test/v1/stamp.proto, which it lacks; give the .proto files (--proto) or a "
      "protoset written with protoc --include_imports (--protoset)");
  EXPECT_EQ(logged, "");
}

TEST(MethodCatalog, AMissingTypeIsOneLineNamingIt) {
  pb::FileDescriptorProto everything = FileOf(*Everything::descriptor());
  everything.clear_dependency();  // as if the server left out the import and its file
  testing::internal::CaptureStderr();
  auto catalog = MethodCatalog::FromFileDescriptors({everything.SerializeAsString()},
                                                    "the server reflection of x:1");
  const std::string logged = testing::internal::GetCapturedStderr();
  ASSERT_FALSE(catalog.ok());
  EXPECT_EQ(std::string(catalog.status().message()),
            "the server reflection of x:1 is incomplete or invalid: "
            "aurigraph/test/v1/everything.proto: aurigraph.test.v1.Everything.stamp: "
            "\".aurigraph.test.v1.Stamp\" is not defined; give the .proto files (--proto) or a "
            "protoset written with protoc --include_imports (--protoset)");
  EXPECT_EQ(logged, "");
}

}  // namespace
}  // namespace aurigraph::loadgen
