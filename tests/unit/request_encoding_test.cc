// The request encoder held byte for byte against protobuf's own serializer:
// random templates over a message with every kind of field, built with known
// variable values, must be exactly what SerializeToString writes
// (deterministically) for the JSON the template stands for, parsed by
// protobuf's JsonStringToMessage.
#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/zero_copy_stream_impl_lite.h>
#include <google/protobuf/util/json_util.h>
#include <google/protobuf/wire_format_lite.h>
#include <gtest/gtest.h>

#include <charconv>
#include <nlohmann/json.hpp>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "aurigraph/test/v1/everything.pb.h"
#include "loadgen/payload/request_template.h"

namespace aurigraph::loadgen {
namespace {

namespace pb = google::protobuf;
using json = nlohmann::json;
using test::v1::Everything;

// Every build renders with these: a template stands for one message.
constexpr uint64_t kSeq = 417;
constexpr uint64_t kStream = 7;
constexpr uint64_t kMessage = 9;
constexpr uint32_t kWorker = 3;
constexpr char kRunId[] = "run-x";

// Values per kind of field, as text; extremes included.
const std::vector<std::string>& Values(const pb::FieldDescriptor& field) {
  static const std::vector<std::string> kInt32 = {"0",           "1",          "-1",
                                                  "-2147483648", "2147483647", "300"};
  static const std::vector<std::string> kInt64 = {"0", "-1", "-9223372036854775808",
                                                  "9223372036854775807", "1099511627776"};
  static const std::vector<std::string> kUint32 = {"0", "1", "4294967295", "128"};
  static const std::vector<std::string> kUint64 = {"0", "1", "18446744073709551615",
                                                   "9223372036854775808"};
  static const std::vector<std::string> kBool = {"true", "false"};
  static const std::vector<std::string> kEnum = {"KIND_UNSPECIFIED", "KIND_MANUAL", "KIND_AUTO",
                                                 "KIND_NEGATIVE",    "2",           "-1"};
  static const std::vector<std::string> kFloat = {"0", "1.5", "-0.25", "16777217", "3e10", "-7"};
  static const std::vector<std::string> kDouble = {"0",   "1.5", "-1e300", "123456789012345678",
                                                   "0.1", "-3"};
  static const std::vector<std::string> kString = {"", "abc", "h\u00e9llo", std::string(150, 'L')};
  switch (field.cpp_type()) {
    case pb::FieldDescriptor::CPPTYPE_INT32:
      return kInt32;
    case pb::FieldDescriptor::CPPTYPE_INT64:
      return kInt64;
    case pb::FieldDescriptor::CPPTYPE_UINT32:
      return kUint32;
    case pb::FieldDescriptor::CPPTYPE_UINT64:
      return kUint64;
    case pb::FieldDescriptor::CPPTYPE_BOOL:
      return kBool;
    case pb::FieldDescriptor::CPPTYPE_ENUM:
      return kEnum;
    case pb::FieldDescriptor::CPPTYPE_FLOAT:
      return kFloat;
    case pb::FieldDescriptor::CPPTYPE_DOUBLE:
      return kDouble;
    default:
      return kString;
  }
}

// The data file's one record: a column per value above, named c0, c1...
std::vector<std::string> Columns() {
  std::vector<std::string> columns;
  for (const pb::FieldDescriptor* field : {Everything::descriptor()->FindFieldByName("i32"),
                                           Everything::descriptor()->FindFieldByName("i64"),
                                           Everything::descriptor()->FindFieldByName("u32"),
                                           Everything::descriptor()->FindFieldByName("u64"),
                                           Everything::descriptor()->FindFieldByName("flag"),
                                           Everything::descriptor()->FindFieldByName("kind"),
                                           Everything::descriptor()->FindFieldByName("flt"),
                                           Everything::descriptor()->FindFieldByName("dbl"),
                                           Everything::descriptor()->FindFieldByName("id")}) {
    for (const std::string& value : Values(*field)) {
      if (std::find(columns.begin(), columns.end(), value) == columns.end()) {
        columns.push_back(value);
      }
    }
  }
  return columns;
}

std::string ColumnOf(const std::string& value) {
  static const std::vector<std::string> columns = Columns();
  return absl::StrCat("c", std::find(columns.begin(), columns.end(), value) - columns.begin());
}

std::shared_ptr<const DataFile> Record() {
  json record = json::object();
  const std::vector<std::string> columns = Columns();
  for (size_t i = 0; i < columns.size(); ++i) record[absl::StrCat("c", i)] = columns[i];
  auto data = DataFile::Parse(record.dump(), "record.jsonl", DataFile::Order::kSequential);
  EXPECT_TRUE(data.ok()) << data.status();
  return *data;
}

bool FitsInt64(const std::string& text) {
  int64_t value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  return ec == std::errc() && end == text.data() + text.size();
}

const pb::FieldDescriptor* FindField(const pb::Descriptor& type, const std::string& key) {
  const pb::FieldDescriptor* field = type.FindFieldByName(key);
  return field != nullptr ? field : type.FindFieldByCamelcaseName(key);
}

// Random templates over a message type, of constants and variables whose values are known.
class TemplateGenerator {
 public:
  explicit TemplateGenerator(uint64_t seed) : rng_(seed) {}

  json Message(const pb::Descriptor& type, int depth, bool in_item) {
    json object = json::object();
    for (int i = 0; i < type.field_count(); ++i) {
      const pb::FieldDescriptor& field = *type.field(i);
      if (field.real_containing_oneof() != nullptr) continue;
      if (field.message_type() == &type && depth > 0) continue;
      if (!Chance(0.45)) continue;
      object[Chance(0.2) ? field.json_name() : field.name()] = Field(field, depth, in_item);
    }
    for (int i = 0; i < type.real_oneof_decl_count(); ++i) {
      const pb::OneofDescriptor& oneof = *type.oneof_decl(i);
      if (!Chance(0.6)) continue;
      const pb::FieldDescriptor& field = *oneof.field(rng_() % oneof.field_count());
      object[field.name()] = Field(field, depth, in_item);
    }
    return object;
  }

 private:
  bool Chance(double p) { return std::uniform_real_distribution<double>(0, 1)(rng_) < p; }
  template <class T>
  const T& OneOf(const std::vector<T>& values) {
    return values[rng_() % values.size()];
  }

  json Field(const pb::FieldDescriptor& field, int depth, bool in_item) {
    if (field.is_map()) return Map(field, depth, in_item);
    if (field.is_repeated()) {
      if (field.message_type() != nullptr && Chance(0.3)) {
        return {{"$repeat", 1 + rng_() % 4},
                {"$item", Message(*field.message_type(), depth + 1, true)}};
      }
      json array = json::array();
      for (int n = rng_() % 5; n > 0; --n) array.push_back(Single(field, depth, in_item));
      return array;
    }
    return Single(field, depth, in_item);
  }

  json Single(const pb::FieldDescriptor& field, int depth, bool in_item) {
    if (field.message_type() != nullptr) return Message(*field.message_type(), depth + 1, in_item);
    return Scalar(field, in_item);
  }

  json Map(const pb::FieldDescriptor& field, int depth, bool in_item) {
    const pb::FieldDescriptor& key = *field.message_type()->map_key();
    const pb::FieldDescriptor& value = *field.message_type()->map_value();
    json object = json::object();
    std::set<std::string> keys;  // rendered: two entries never share a key
    for (int n = rng_() % 5; n > 0; --n) {
      std::string text;
      std::string rendered;
      if (key.type() == pb::FieldDescriptor::TYPE_STRING) {
        rendered = OneOf<std::string>({"a", "b", "zz", "k-417", "", "\u00e9", "B"});
        if (Chance(0.5)) {
          text = rendered;
        } else if (rendered == "k-417") {
          text = "k-${seq}";
        } else if (rendered.empty()) {
          text = absl::StrCat("${data.", ColumnOf(""), "}");
        } else {
          text = absl::StrCat("${pick:", rendered, "}");
        }
      } else {
        std::vector<std::string> candidates = KeyValues(key);
        rendered = OneOf(candidates);
        text = Template(key, rendered, in_item, /*allow_constant=*/true);
      }
      if (!keys.insert(rendered).second) continue;
      object[text] = value.message_type() != nullptr
                         ? Message(*value.message_type(), depth + 1, in_item)
                         : Scalar(value, in_item);
    }
    return object;
  }

  // Keys of each integer type, extremes included.
  static std::vector<std::string> KeyValues(const pb::FieldDescriptor& key) {
    switch (key.type()) {
      case pb::FieldDescriptor::TYPE_BOOL:
        return {"true", "false"};
      case pb::FieldDescriptor::TYPE_INT32:
        return {"-2147483648", "2147483647", "0", "7", "-5"};
      case pb::FieldDescriptor::TYPE_UINT64:
        return {"18446744073709551615", "300", "0", "7"};
      case pb::FieldDescriptor::TYPE_SINT64:
        return {"-9223372036854775808", "-1", "0", "7", "-5"};
      case pb::FieldDescriptor::TYPE_FIXED32:
        return {"4294967295", "9", "0", "7"};
      default:  // sfixed64
        return {"9223372036854775807", "-3", "0", "7", "-5"};
    }
  }

  // A template for `value` in `field`: a constant now and then, else one of the
  // variables that renders it.
  std::string Template(const pb::FieldDescriptor& field, const std::string& value, bool in_item,
                       bool allow_constant) {
    if (allow_constant && Chance(0.3)) return value;
    std::vector<std::string> forms = {absl::StrCat("${pick:", value, "}")};
    if (FitsInt64(value)) forms.push_back(absl::StrCat("${rand_int:", value, ":", value, "}"));
    const std::vector<std::string> columns = Columns();
    if (std::find(columns.begin(), columns.end(), value) != columns.end()) {
      forms.push_back(absl::StrCat("${data.", ColumnOf(value), "}"));
    }
    return OneOf(forms);
  }

  json Scalar(const pb::FieldDescriptor& field, bool in_item) {
    const bool text = field.cpp_type() == pb::FieldDescriptor::CPPTYPE_STRING;
    if (Chance(0.35)) {  // a constant, as JSON writes it
      const std::string value = OneOf(Values(field));
      if (field.type() == pb::FieldDescriptor::TYPE_BYTES) return absl::Base64Escape(value);
      if (text) return value;
      if (field.cpp_type() == pb::FieldDescriptor::CPPTYPE_BOOL) return value == "true";
      if (field.cpp_type() == pb::FieldDescriptor::CPPTYPE_ENUM && FitsInt64(value)) {
        return std::stoi(value);
      }
      if (FitsInt64(value) && std::stoll(value) > -(int64_t{1} << 53) &&
          std::stoll(value) < (int64_t{1} << 53)) {
        return std::stoll(value);
      }
      return value;
    }
    if (text) {
      std::vector<std::string> forms = {"s-${seq}",
                                        absl::StrCat("${data.", ColumnOf(""), "}"),
                                        "${pick:x}",
                                        "${run}/${worker}",
                                        "${rand_int:-5:-5}",
                                        "m${msg}-s${stream}",
                                        std::string(140, 'L') + "${seq}",
                                        "${data.c0}${data.c3}"};
      if (in_item) forms.push_back("i-${item}");
      return OneOf(forms);
    }
    // Counters render 417 (${seq}) or the item's index: not for bool and enum.
    const bool counters = field.cpp_type() != pb::FieldDescriptor::CPPTYPE_BOOL &&
                          field.cpp_type() != pb::FieldDescriptor::CPPTYPE_ENUM;
    if (counters && Chance(0.2)) return in_item && Chance(0.5) ? "${item}" : "${seq}";
    return Template(field, OneOf(Values(field)), in_item, /*allow_constant=*/false);
  }

  std::mt19937_64 rng_;
};

// The JSON a template stands for, rendered independently of the encoder:
// variables replaced with their known values, $repeat expanded, templated
// bytes in base64 as JSON writes them.
class Expander {
 public:
  explicit Expander(const DataFile& data) : data_(data) {}

  json Message(const pb::Descriptor& type, const json& object, uint64_t item) const {
    json out = json::object();
    for (auto it = object.begin(); it != object.end(); ++it) {
      const pb::FieldDescriptor& field = *FindField(type, it.key());
      out[it.key()] = Field(field, *it, item);
    }
    return out;
  }

 private:
  json Field(const pb::FieldDescriptor& field, const json& value, uint64_t item) const {
    if (field.is_map()) {
      const pb::FieldDescriptor& value_field = *field.message_type()->map_value();
      json out = json::object();
      for (auto it = value.begin(); it != value.end(); ++it) {
        out[Substitute(it.key(), item)] = Single(value_field, *it, item);
      }
      return out;
    }
    if (value.is_object() && value.contains("$repeat")) {
      json out = json::array();
      for (uint64_t i = 0; i < value["$repeat"].get<uint64_t>(); ++i) {
        out.push_back(Message(*field.message_type(), value["$item"], i));
      }
      return out;
    }
    if (field.is_repeated()) {
      json out = json::array();
      for (const json& element : value) out.push_back(Single(field, element, item));
      return out;
    }
    return Single(field, value, item);
  }

  json Single(const pb::FieldDescriptor& field, const json& value, uint64_t item) const {
    if (field.message_type() != nullptr) return Message(*field.message_type(), value, item);
    if (!value.is_string() || !absl::StrContains(value.get<std::string>(), "${")) return value;
    const std::string text = Substitute(value.get<std::string>(), item);
    switch (field.cpp_type()) {
      case pb::FieldDescriptor::CPPTYPE_STRING:
        return field.type() == pb::FieldDescriptor::TYPE_BYTES ? absl::Base64Escape(text) : text;
      case pb::FieldDescriptor::CPPTYPE_BOOL:
        return text == "true";
      case pb::FieldDescriptor::CPPTYPE_ENUM:
        return FitsInt64(text) ? json(std::stoi(text)) : json(text);
      default:
        return text;
    }
  }

  std::string Substitute(const std::string& text, uint64_t item) const {
    std::string out;
    size_t pos = 0;
    while (pos < text.size()) {
      const size_t open = text.find("${", pos);
      if (open == std::string::npos) {
        out += text.substr(pos);
        break;
      }
      out += text.substr(pos, open - pos);
      const size_t close = text.find('}', open);
      const std::string name = text.substr(open + 2, close - open - 2);
      if (name == "seq") {
        out += std::to_string(kSeq);
      } else if (name == "stream") {
        out += std::to_string(kStream);
      } else if (name == "msg") {
        out += std::to_string(kMessage);
      } else if (name == "worker") {
        out += std::to_string(kWorker);
      } else if (name == "item") {
        out += std::to_string(item);
      } else if (name == "run") {
        out += kRunId;
      } else if (absl::StartsWith(name, "pick:")) {
        out += name.substr(5);
      } else if (absl::StartsWith(name, "rand_int:")) {
        out += name.substr(9, name.find(':', 9) - 9);
      } else if (absl::StartsWith(name, "data.")) {
        out += data_.Text(0, *data_.Column(name.substr(5)));
      } else {
        ADD_FAILURE() << "no value for ${" << name << "}";
      }
      pos = close + 1;
    }
    return out;
  }

  const DataFile& data_;
};

std::string Deterministic(const pb::Message& message) {
  std::string out;
  {
    pb::io::StringOutputStream stream(&out);
    pb::io::CodedOutputStream coded(&stream);
    coded.SetSerializationDeterministic(true);
    message.SerializeToCodedStream(&coded);
  }
  return out;
}

TEST(RequestEncoding, RandomTemplatesBuildWhatProtobufSerializes) {
  const std::shared_ptr<const DataFile> data = Record();
  const Expander expander(*data);
  TemplateGenerator generator(20261129);
  int compared = 0;
  for (int iteration = 0; iteration < 3000; ++iteration) {
    const json template_json = generator.Message(*Everything::descriptor(), 0, false);
    const std::string text = template_json.dump();
    SCOPED_TRACE(text);
    auto compiled = RequestTemplate::Compile(*Everything::descriptor(), text, {{}, data});
    ASSERT_TRUE(compiled.ok()) << compiled.status();
    TemplateRequestSource source(*compiled, kWorker, 1, kRunId);
    const std::string_view built = source.Build({kSeq, kStream, kMessage});
    ASSERT_NE(built.data(), nullptr);

    const std::string expected_json =
        expander.Message(*Everything::descriptor(), template_json, 0).dump();
    SCOPED_TRACE(expected_json);
    Everything expected;
    const auto parsed = pb::util::JsonStringToMessage(expected_json, &expected);
    ASSERT_TRUE(parsed.ok()) << parsed;
    ASSERT_EQ(absl::BytesToHexString(std::string(built)),
              absl::BytesToHexString(Deterministic(expected)));
    ++compared;
  }
  EXPECT_EQ(compared, 3000);
}

// How often field `number` occurs at the top level of `message`.
int Occurrences(std::string_view message, int number) {
  int count = 0;
  pb::io::CodedInputStream in(reinterpret_cast<const uint8_t*>(message.data()),
                              static_cast<int>(message.size()));
  while (const uint32_t tag = in.ReadTag()) {
    if (static_cast<int>(tag >> 3) == number) ++count;
    if (!pb::internal::WireFormatLite::SkipField(&in, tag)) return -1;
  }
  return count;
}

RequestTemplate Compiled(const std::string& text, const TemplateInputs& inputs = {}) {
  auto compiled = RequestTemplate::Compile(*Everything::descriptor(), text, inputs);
  EXPECT_TRUE(compiled.ok()) << compiled.status();
  return *std::move(compiled);
}

std::string CompileError(const std::string& text, const TemplateInputs& inputs = {}) {
  auto compiled = RequestTemplate::Compile(*Everything::descriptor(), text, inputs);
  return compiled.ok() ? "" : std::string(compiled.status().message());
}

// protobufjs (Node's grpc-js) keeps only the last copy of a nested message:
// one with the constant fields and another with the templated ones lost the constants.
TEST(RequestEncoding, NestedMessagesGoOutOnceWithEveryField) {
  RequestTemplate compiled = Compiled(
      R"({"id": "d", "where": {"lat_e7": "${seq}", "lng_e7": 5},
          "meta": {"offset": "${seq}", "kind": "KIND_MANUAL", "source": "z"},
          "choice_point": {"lat_e7": 3, "lng_e7": "${rand_int:-4:-4}"}})");
  TemplateRequestSource source(compiled, 0, 1);
  const std::string built(source.Build({12}));
  EXPECT_EQ(Occurrences(built, 17), 1);
  EXPECT_EQ(Occurrences(built, 18), 1);
  EXPECT_EQ(Occurrences(built, 38), 1);
  Everything expected;
  expected.set_id("d");
  expected.mutable_where()->set_lat_e7(12);
  expected.mutable_where()->set_lng_e7(5);
  expected.mutable_meta()->set_offset(12);
  expected.mutable_meta()->set_kind(test::v1::KIND_MANUAL);
  expected.mutable_meta()->set_source("z");
  expected.mutable_choice_point()->set_lat_e7(3);
  expected.mutable_choice_point()->set_lng_e7(-4);
  EXPECT_EQ(absl::BytesToHexString(built), absl::BytesToHexString(Deterministic(expected)));
}

TEST(RequestEncoding, TemplatedNumbersOutOfTheirFieldsRangeAreRefused) {
  // Ranges known at compile time: refused then, in one line.
  EXPECT_EQ(CompileError(R"({"i32": "${rand_int:3000000000:3000000001}"})"),
            "${rand_int:3000000000:3000000001} is out of range for i32 (int32)");
  EXPECT_EQ(CompileError(R"({"u32": "${pick:1|4294967296}"})"),
            "4294967296 is out of range for u32 (uint32)");
  EXPECT_EQ(CompileError(R"({"r_i32": ["${now_ns}"]})"),
            "${now_ns} is out of range for r_i32[0] (int32)");
  auto data = DataFile::Parse(R"({"v": "-9223372036854775808", "w": 1.5})", "d.jsonl",
                              DataFile::Order::kSequential);
  ASSERT_TRUE(data.ok()) << data.status();
  EXPECT_EQ(CompileError(R"({"u64": "${data.v}"})", {{}, *data}),
            "-9223372036854775808 is out of range for u64 (uint64)");
  EXPECT_EQ(CompileError(R"({"i64": "${data.w}"})", {{}, *data}), "'1.5' is not an integer in i64");
  EXPECT_EQ(CompileError(R"({"counters": {"c": "${pick:9223372036854775808}"}})"),
            "9223372036854775808 is out of range for counters[c] (int64)");

  // A counter that outgrows its field: that request is not built.
  RequestTemplate compiled = Compiled(R"({"i32": "${seq}", "flag": "${msg}"})");
  TemplateRequestSource source(compiled, 0, 1);
  EXPECT_NE(source.Build({2147483647, 0, 1}).data(), nullptr);
  EXPECT_EQ(source.Build({2147483648, 0, 1}).data(), nullptr);
  EXPECT_EQ(source.Build({5, 0, 2}).data(), nullptr);  // a bool is 0 or 1
  Everything message;
  ASSERT_TRUE(message.ParseFromString(std::string(source.Build({7, 0, 1}))));
  EXPECT_EQ(message.i32(), 7);
  EXPECT_TRUE(message.flag());
}

TEST(RequestEncoding, ValuesOfTheWrongShapeNameTheirField) {
  // Protobuf's parser said ": invalid value Starting an object on a scalar field".
  EXPECT_EQ(CompileError(R"({"u64": {"a": 1}})"),
            "request field 'u64': expected a number, got an object");
  EXPECT_EQ(CompileError(R"({"id": 7})"), "request field 'id': expected a string, got a number");
  EXPECT_EQ(CompileError(R"({"flag": [true]})"),
            "request field 'flag': expected true or false, got a list");
  EXPECT_EQ(CompileError(R"({"where": 5})"),
            "request field 'where': expected an object, got a number");
  EXPECT_EQ(CompileError(R"({"meta": {"tags": {}}})"),
            "request field 'meta.tags': expected a list, got an object");
  EXPECT_EQ(CompileError(R"({"meta": {"colour": "red"}})"),
            "unknown field 'meta.colour' in message aurigraph.test.v1.Meta");
  EXPECT_EQ(CompileError(R"({"points": [{"lat_e7": 1}, {"lat_e7": {}}], "id": "${seq}"})"),
            "request field 'points[1].lat_e7': expected a number, got an object");
  EXPECT_EQ(CompileError(R"({"counters": {"c": [1]}})"),
            "request field 'counters[c]': expected a number, got a list");
  EXPECT_EQ(CompileError(R"({"counters": {"k-${seq}": {}}})"),
            "request field 'counters[k-${seq}]': expected a number, got an object");
  EXPECT_EQ(CompileError(R"({"r_kind": ["KIND_AUTO", "KIND_NONE"]})"),
            "'KIND_NONE' is not a value of aurigraph.test.v1.Kind in r_kind[1]: expected one of "
            "KIND_UNSPECIFIED, KIND_MANUAL, KIND_AUTO, KIND_NEGATIVE, or a number");
}

TEST(RequestEncoding, MapsAndRepeatedScalarsTakeVariables) {
  RequestTemplate compiled = Compiled(
      R"({"labels": {"req": "${uuid}", "k-${seq}": "v"}, "counters": {"c": "${seq}"},
          "by_i32": {"${rand_int:-2:-2}": {"lat_e7": "${seq}"}},
          "r_i32": ["${seq}", 5, "${rand_int:-1:-1}"], "r_str": ["a-${seq}", "b"],
          "r_unpacked": ["${seq}"]})");
  TemplateRequestSource source(compiled, 0, 1);
  Everything message;
  ASSERT_TRUE(message.ParseFromString(std::string(source.Build({12}))));
  EXPECT_EQ(message.labels().size(), 2u);
  EXPECT_EQ(message.labels().at("req").size(), 36u);
  EXPECT_EQ(message.labels().at("k-12"), "v");
  EXPECT_EQ(message.counters().at("c"), 12);
  EXPECT_EQ(message.by_i32().at(-2).lat_e7(), 12);
  EXPECT_EQ(std::vector<int>(message.r_i32().begin(), message.r_i32().end()),
            (std::vector<int>{12, 5, -1}));
  EXPECT_EQ(std::vector<std::string>(message.r_str().begin(), message.r_str().end()),
            (std::vector<std::string>{"a-12", "b"}));
  EXPECT_EQ(message.r_unpacked(0), 12);

  // Two keys that render the same: no canonical message, so no request.
  RequestTemplate twice = Compiled(R"({"labels": {"k-${seq}": "a", "k-5": "b"}})");
  TemplateRequestSource twice_source(twice, 0, 1);
  EXPECT_EQ(twice_source.Build({5}).data(), nullptr);
  EXPECT_NE(twice_source.Build({6}).data(), nullptr);
}

}  // namespace
}  // namespace aurigraph::loadgen
