#include "loadgen/payload/request_template.h"

#include <google/protobuf/descriptor.h>
#include <google/protobuf/dynamic_message.h>
#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/zero_copy_stream_impl_lite.h>
#include <google/protobuf/unknown_field_set.h>
#include <google/protobuf/util/json_util.h>
#include <openssl/evp.h>

#include <algorithm>
#include <bit>
#include <charconv>
#include <cmath>
#include <cstring>
#include <limits>
#include <nlohmann/json.hpp>
#include <random>
#include <tuple>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "common/clock/clock.h"
#include "common/input/json_check.h"
#include "common/units/units.h"
#include "loadgen/payload/value_errors.h"
#include "loadgen/payload/wire.h"

namespace aurigraph::loadgen {

namespace pb = google::protobuf;

namespace {

enum class PieceKind {
  kLiteral,
  kSeq,
  kWorker,
  kUuid,
  kRandInt,
  kRandString,
  kPick,
  kNowNs,
  kNowMs,
  kRun,
  kStream,
  kMessage,
  kItem,
  kData
};

struct Piece {
  PieceKind kind = PieceKind::kLiteral;
  std::string literal;
  int64_t lo = 0;  // kRandInt: the low bound; kRandString: the length; kData: the column
  int64_t hi = 0;
  std::vector<std::string> choices;
  // A numeric leaf's kPick (per choice) and kData (per record): the value as
  // the field holds it (FieldValue), checked against its range once.
  std::vector<uint64_t> numeric_choices;
};

struct HeaderTemplate {
  std::string key;
  std::vector<Piece> pieces;
};

struct ShaInput {
  int leaf = -1;         // index of a variable sibling leaf, or
  std::string constant;  // the sibling's constant value
};

// How a field's value goes on the wire, looked up once.
struct Encoding {
  int number = 0;
  int wire_type = 0;  // 0 varint, 1 fixed64, 2 length-delimited, 5 fixed32
  bool zigzag = false;
  bool is_signed = false;  // int32/64, sint, sfixed, enum: values are two's complement
};

// One templated value: a singular field, a repeated field's element, or a map
// entry's key or value.
struct Leaf {
  const pb::FieldDescriptor* field = nullptr;
  Encoding encoding;
  int index = 0;  // global, into the scratch arrays
  bool numeric = false;
  // Sent even when it renders the default (0, ""): repeated elements, map
  // entries, and fields with presence (oneof members, proto3 optional).
  bool emit_default = false;
  bool packed = false;       // an element of a packed field: no tag of its own
  bool text_needed = false;  // a numeric leaf a digest reads as text
  uint64_t counter_max = 0;  // the largest ${seq}, ${item}... the field holds
  std::vector<Piece> pieces;
  bool is_sha = false;
  std::vector<ShaInput> sha_inputs;
};

// A piece of a message's wire bytes. Parts are in field-number order, so the
// whole request is what protobuf's own serializer writes for it.
struct Part {
  int number = 0;     // the field's number
  std::string bytes;  // constant wire bytes, or
  int leaf = -1;      // one of the node's leaves, or
  int child = -1;     // one of the node's children
};

// Orders map entries by key as deterministic serialization does: strings
// bytewise, integers by value.
struct KeyOrder {
  bool zigzag = false;
  bool is_signed = false;
  bool fixed32 = false;  // sfixed32 keys sign-extend from 32 bits
};

// A length-delimited field rendered from its own parts (a message, a packed
// field, a map entry), or, with number 0, parts inlined in the parent (a map's
// entries, sorted by their rendered keys when `sort_keys` is set).
struct Node {
  int number = 0;
  int repeat = 0;  // > 0: a generated repeated field, rendered this many times
  bool sort_keys = false;
  KeyOrder key_order;
  std::vector<Leaf> leaves;  // rendered before the parts; digests last, after their inputs
  std::vector<Part> parts;
  std::vector<Node> children;
};

bool IsNumericPiece(PieceKind kind) {
  return kind == PieceKind::kSeq || kind == PieceKind::kWorker || kind == PieceKind::kRandInt ||
         kind == PieceKind::kNowNs || kind == PieceKind::kNowMs || kind == PieceKind::kPick ||
         kind == PieceKind::kStream || kind == PieceKind::kMessage || kind == PieceKind::kItem ||
         kind == PieceKind::kData;
}

// Pieces that render text of their own rather than a number.
bool IsChoicePiece(PieceKind kind) { return kind == PieceKind::kPick || kind == PieceKind::kData; }

bool IsStringField(const pb::FieldDescriptor& field) {
  return field.type() == pb::FieldDescriptor::TYPE_STRING ||
         field.type() == pb::FieldDescriptor::TYPE_BYTES;
}

absl::StatusOr<int64_t> ParseInt(absl::string_view text, absl::string_view what) {
  int64_t value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size()) {
    return absl::InvalidArgumentError(absl::StrCat("'", text, "' is not an integer in ", what));
  }
  return value;
}

absl::StatusOr<Piece> ParseVariable(absl::string_view spec, const DataFile* data,
                                    const std::string& where) {
  Piece piece;
  if (absl::StartsWith(spec, "data.")) {
    if (data == nullptr) {
      return absl::InvalidArgumentError(absl::StrCat(
          "${", spec, "} needs a data file (the operation's data:, or --data-file) (", where, ")"));
    }
    auto column = data->Column(spec.substr(5));
    if (!column.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("${", spec, "}: ", column.status().message(), " (", where, ")"));
    }
    piece.kind = PieceKind::kData;
    piece.lo = *column;
    return piece;
  }
  const size_t colon = spec.find(':');
  const absl::string_view name = spec.substr(0, colon);
  const absl::string_view args = colon == absl::string_view::npos ? "" : spec.substr(colon + 1);
  const auto no_args = [&](PieceKind kind) -> absl::StatusOr<Piece> {
    if (!args.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("variable ${", name, "} takes no arguments (", where, ")"));
    }
    piece.kind = kind;
    return piece;
  };
  if (name == "seq") return no_args(PieceKind::kSeq);
  if (name == "worker") return no_args(PieceKind::kWorker);
  if (name == "uuid") return no_args(PieceKind::kUuid);
  if (name == "now_ns") return no_args(PieceKind::kNowNs);
  if (name == "now_ms") return no_args(PieceKind::kNowMs);
  if (name == "run") return no_args(PieceKind::kRun);
  if (name == "stream") return no_args(PieceKind::kStream);
  if (name == "msg") return no_args(PieceKind::kMessage);
  if (name == "item") return no_args(PieceKind::kItem);
  if (name == "rand_int") {
    const std::vector<absl::string_view> bounds = absl::StrSplit(args, ':');
    if (bounds.size() != 2) {
      return absl::InvalidArgumentError(
          absl::StrCat("${rand_int:LO:HI} needs two bounds (", where, ")"));
    }
    auto lo = ParseInt(bounds[0], where);
    auto hi = ParseInt(bounds[1], where);
    if (!lo.ok()) return lo.status();
    if (!hi.ok()) return hi.status();
    if (*lo > *hi)
      return absl::InvalidArgumentError(absl::StrCat("${rand_int}: LO > HI (", where, ")"));
    piece.kind = PieceKind::kRandInt;
    piece.lo = *lo;
    piece.hi = *hi;
    return piece;
  }
  if (name == "rand_string") {
    auto length = ParseInt(args, where);
    if (!length.ok()) return length.status();
    if (*length < 1 || *length > 1 << 20) {
      return absl::InvalidArgumentError(
          absl::StrCat("${rand_string:N}: N out of range (", where, ")"));
    }
    piece.kind = PieceKind::kRandString;
    piece.lo = *length;
    return piece;
  }
  if (name == "pick") {
    piece.kind = PieceKind::kPick;
    for (absl::string_view choice : absl::StrSplit(args, '|')) piece.choices.emplace_back(choice);
    if (args.empty())
      return absl::InvalidArgumentError(absl::StrCat("${pick:a|b} needs choices (", where, ")"));
    return piece;
  }
  return absl::InvalidArgumentError(
      absl::StrCat("unknown template variable ${", spec, "} (", where, ")"));
}

Piece Literal(absl::string_view text) {
  Piece piece;
  piece.literal = std::string(text);
  return piece;
}

// Splits "tx-${seq}-x" into literal and variable pieces.
absl::StatusOr<std::vector<Piece>> ParsePieces(absl::string_view text, const DataFile* data,
                                               const std::string& where) {
  std::vector<Piece> pieces;
  size_t pos = 0;
  while (pos < text.size()) {
    const size_t open = text.find("${", pos);
    if (open == absl::string_view::npos) {
      pieces.push_back(Literal(text.substr(pos)));
      break;
    }
    if (open > pos) pieces.push_back(Literal(text.substr(pos, open - pos)));
    const size_t close = text.find('}', open);
    if (close == absl::string_view::npos) {
      return absl::InvalidArgumentError(
          absl::StrCat("unterminated ${ in '", text, "' (", where, ")"));
    }
    auto piece = ParseVariable(text.substr(open + 2, close - open - 2), data, where);
    if (!piece.ok()) return piece.status();
    pieces.push_back(*std::move(piece));
    pos = close + 1;
  }
  return pieces;
}

Encoding EncodingOf(const pb::FieldDescriptor& field) {
  Encoding e;
  e.number = field.number();
  switch (field.type()) {
    case pb::FieldDescriptor::TYPE_STRING:
    case pb::FieldDescriptor::TYPE_BYTES:
    case pb::FieldDescriptor::TYPE_MESSAGE:
      e.wire_type = 2;
      break;
    case pb::FieldDescriptor::TYPE_FIXED32:
    case pb::FieldDescriptor::TYPE_SFIXED32:
    case pb::FieldDescriptor::TYPE_FLOAT:
      e.wire_type = 5;
      break;
    case pb::FieldDescriptor::TYPE_FIXED64:
    case pb::FieldDescriptor::TYPE_SFIXED64:
    case pb::FieldDescriptor::TYPE_DOUBLE:
      e.wire_type = 1;
      break;
    default:
      e.wire_type = 0;
  }
  e.zigzag = field.type() == pb::FieldDescriptor::TYPE_SINT32 ||
             field.type() == pb::FieldDescriptor::TYPE_SINT64;
  e.is_signed = field.cpp_type() == pb::FieldDescriptor::CPPTYPE_INT32 ||
                field.cpp_type() == pb::FieldDescriptor::CPPTYPE_INT64 ||
                field.cpp_type() == pb::FieldDescriptor::CPPTYPE_ENUM;
  return e;
}

// The largest non-negative integer the field holds.
uint64_t MaxOf(const pb::FieldDescriptor& field) {
  switch (field.cpp_type()) {
    case pb::FieldDescriptor::CPPTYPE_INT32:
    case pb::FieldDescriptor::CPPTYPE_ENUM:
      return std::numeric_limits<int32_t>::max();
    case pb::FieldDescriptor::CPPTYPE_INT64:
      return std::numeric_limits<int64_t>::max();
    case pb::FieldDescriptor::CPPTYPE_UINT32:
      return std::numeric_limits<uint32_t>::max();
    case pb::FieldDescriptor::CPPTYPE_BOOL:
      return 1;
    default:  // uint64, float, double
      return std::numeric_limits<uint64_t>::max();
  }
}

// Whether the integer (negative: `bits` is an int64_t below 0) is in the field's range.
bool Fits(const pb::FieldDescriptor& field, uint64_t bits, bool negative) {
  if (!negative) return bits <= MaxOf(field);
  switch (field.cpp_type()) {
    case pb::FieldDescriptor::CPPTYPE_INT32:
    case pb::FieldDescriptor::CPPTYPE_ENUM:
      return static_cast<int64_t>(bits) >= std::numeric_limits<int32_t>::min();
    case pb::FieldDescriptor::CPPTYPE_INT64:
    case pb::FieldDescriptor::CPPTYPE_FLOAT:
    case pb::FieldDescriptor::CPPTYPE_DOUBLE:
      return true;
    default:
      return false;
  }
}

// A field's value as the leaves hold it: integers as 64-bit two's complement,
// float and double as their IEEE bits. Integers become floating point as
// protobuf's JSON parser makes them, through double.
uint64_t FromDouble(const pb::FieldDescriptor& field, double value) {
  if (field.cpp_type() == pb::FieldDescriptor::CPPTYPE_FLOAT) {
    return std::bit_cast<uint32_t>(static_cast<float>(value));
  }
  return std::bit_cast<uint64_t>(value);
}
bool IsFloating(const pb::FieldDescriptor& field) {
  return field.cpp_type() == pb::FieldDescriptor::CPPTYPE_FLOAT ||
         field.cpp_type() == pb::FieldDescriptor::CPPTYPE_DOUBLE;
}
uint64_t FromSigned(const pb::FieldDescriptor& field, int64_t value) {
  return IsFloating(field) ? FromDouble(field, static_cast<double>(value))
                           : static_cast<uint64_t>(value);
}
uint64_t FromUnsigned(const pb::FieldDescriptor& field, uint64_t value) {
  return IsFloating(field) ? FromDouble(field, static_cast<double>(value)) : value;
}

absl::Status OutOfRange(absl::string_view value, const pb::FieldDescriptor& field,
                        const std::string& where) {
  return absl::InvalidArgumentError(
      absl::StrCat(value, " is out of range for ", where, " (", field.type_name(), ")"));
}

// A choice's text (a ${pick} choice, a data file's field) as the field's value.
absl::StatusOr<uint64_t> ParseValue(const pb::FieldDescriptor& field, const std::string& text,
                                    const std::string& where) {
  if (field.cpp_type() == pb::FieldDescriptor::CPPTYPE_ENUM) {
    if (const pb::EnumValueDescriptor* value = field.enum_type()->FindValueByName(text)) {
      return static_cast<uint64_t>(static_cast<int64_t>(value->number()));
    }
  }
  if (field.cpp_type() == pb::FieldDescriptor::CPPTYPE_BOOL &&
      (text == "true" || text == "false")) {
    return text == "true" ? 1 : 0;
  }
  const char* begin = text.data();
  const char* end = text.data() + text.size();
  if (IsFloating(field)) {
    double value = 0;
    if (text == "NaN" || text == "Infinity" || text == "-Infinity") {
      value = text == "NaN"        ? std::numeric_limits<double>::quiet_NaN()
              : text == "Infinity" ? std::numeric_limits<double>::infinity()
                                   : -std::numeric_limits<double>::infinity();
    } else {
      const auto [stop, ec] = std::from_chars(begin, end, value);
      if (ec == std::errc::result_out_of_range) return OutOfRange(text, field, where);
      if (ec != std::errc() || stop != end || text.empty()) {
        return absl::InvalidArgumentError(absl::StrCat("'", text, "' is not a number in ", where));
      }
    }
    if (field.cpp_type() == pb::FieldDescriptor::CPPTYPE_FLOAT && std::isfinite(value) &&
        std::abs(value) > std::numeric_limits<float>::max()) {
      return OutOfRange(text, field, where);
    }
    return FromDouble(field, value);
  }
  const bool negative = !text.empty() && text[0] == '-';
  uint64_t bits = 0;
  std::from_chars_result parsed;
  if (negative) {
    int64_t value = 0;
    parsed = std::from_chars(begin, end, value);
    bits = static_cast<uint64_t>(value);
  } else {
    parsed = std::from_chars(begin, end, bits);
  }
  if (parsed.ec == std::errc::result_out_of_range) return OutOfRange(text, field, where);
  if (parsed.ec != std::errc() || parsed.ptr != end) {
    if (field.cpp_type() == pb::FieldDescriptor::CPPTYPE_ENUM) {
      return NotAnEnumValue(text, *field.enum_type(), where);
    }
    return absl::InvalidArgumentError(absl::StrCat("'", text, "' is not an integer in ", where));
  }
  if (!Fits(field, bits, negative)) return OutOfRange(text, field, where);
  return bits;
}

std::string ConstantText(const nlohmann::json& value) {
  if (value.is_string()) return value.get<std::string>();
  return value.dump();
}

const pb::FieldDescriptor* FindField(const pb::Descriptor& type, const std::string& key) {
  const pb::FieldDescriptor* field = type.FindFieldByName(key);
  return field != nullptr ? field : type.FindFieldByCamelcaseName(key);
}

// Whether a template value holds variables (or generates items) anywhere, map keys included.
bool HasVariables(const nlohmann::json& value) {
  if (value.is_string()) return value.get_ref<const std::string&>().find("${") != std::string::npos;
  if (value.is_object()) {
    if (value.contains("$repeat")) return true;
    for (auto it = value.begin(); it != value.end(); ++it) {
      if (it.key().find("${") != std::string::npos || HasVariables(*it)) return true;
    }
  }
  if (value.is_array()) {
    for (const nlohmann::json& element : value) {
      if (HasVariables(element)) return true;
    }
  }
  return false;
}

void PutVarint(std::string& out, uint64_t value) {
  while (value >= 0x80) {
    out.push_back(static_cast<char>(value | 0x80));
    value >>= 7;
  }
  out.push_back(static_cast<char>(value));
}

void PutFixed(std::string& out, uint64_t value, int bytes) {
  for (int i = 0; i < bytes; ++i) out.push_back(static_cast<char>(value >> (8 * i)));
}

void PutTag(std::string& out, int number, int wire_type) {
  PutVarint(out, (static_cast<uint64_t>(number) << 3) | static_cast<uint64_t>(wire_type));
}

using wire::ReadVarint;

uint64_t ReadFixed(std::string_view& in, int bytes) {
  uint64_t value = 0;
  for (int i = bytes; i > 0; --i) value = (value << 8) | static_cast<uint8_t>(in[i - 1]);
  in.remove_prefix(bytes);
  return value;
}

// Moves `in` past its first field.
void SkipField(std::string_view& in) {
  uint64_t tag = 0, size = 0;
  ReadVarint(in, &tag);
  switch (tag & 7) {
    case 2:
      ReadVarint(in, &size);
      break;
    case 5:
      size = 4;
      break;
    case 1:
      size = 8;
      break;
    default:
      ReadVarint(in, &size);
      size = 0;
  }
  in.remove_prefix(std::min<uint64_t>(size, in.size()));
}

// A map entry's key, read from the entry's wire bytes (the key comes first).
struct MapKey {
  std::string_view text;  // string keys
  uint64_t number = 0;    // other keys, in an order that compares as unsigned
  bool operator<(const MapKey& other) const {
    return std::tie(text, number) < std::tie(other.text, other.number);
  }
  bool operator==(const MapKey& other) const {
    return text == other.text && number == other.number;
  }
};

MapKey KeyOf(std::string_view entry, const KeyOrder& order) {
  MapKey key;
  uint64_t tag = 0;
  ReadVarint(entry, &tag);
  uint64_t value = 0;
  switch (tag & 7) {
    case 2:
      ReadVarint(entry, &value);
      key.text = entry.substr(0, value);
      return key;
    case 5:
      value = ReadFixed(entry, 4);
      if (order.fixed32)
        value = static_cast<uint64_t>(static_cast<int64_t>(static_cast<int32_t>(value)));
      break;
    case 1:
      value = ReadFixed(entry, 8);
      break;
    default:
      ReadVarint(entry, &value);
      if (order.zigzag) value = (value >> 1) ^ (~(value & 1) + 1);
  }
  key.number = order.is_signed ? value ^ (uint64_t{1} << 63) : value;
  return key;
}

// Adds `child` to `node`, with a part for it.
void AddChild(Node& node, int number, Node child) {
  node.parts.push_back(Part{number, "", -1, static_cast<int>(node.children.size())});
  node.children.push_back(std::move(child));
}

constexpr int kMaxRepeat = 1'000'000;

// Protobuf's JSON parser refused `value` for `field`: why in plain words when
// the value's shape is wrong, else protobuf's own reason.
absl::Status Refused(const absl::Status& protobuf, const pb::FieldDescriptor& field,
                     const nlohmann::json& value, const std::string& where, bool element) {
  const absl::Status explained = ExplainMismatch(field, value, where, element);
  return explained.ok() ? protobuf : explained;
}

}  // namespace

// A piece of a JSON body (CompileJson): text with variables, or a generated
// array of `repeat` items, each rendered from `item`, comma-separated.
struct TextPart {
  std::vector<Piece> pieces;
  int64_t repeat = 0;
  std::vector<TextPart> item;
  // A member's value that a digest reads: `pieces` rendered as they are into
  // capture `capture` (a leaf_text slot), then written JSON-escaped (in
  // quotes when the value is a string).
  int capture = -1;
  bool quoted = false;
  // A ${sha256:...} value: the quoted hex digest of its inputs' captures.
  std::vector<ShaInput> sha_inputs;
  bool is_sha = false;
  bool plain() const { return repeat == 0 && capture < 0 && !is_sha; }
};

class CompiledTemplate {
 public:
  std::vector<Node> roots;  // one per message of the template; a request renders one
  // A JSON body's template instead (CompileJson): one per object of the
  // template, none for a request without a body.
  bool json = false;
  std::vector<std::vector<TextPart>> json_roots;
  bool http_pseudo_headers = false;
  MessageOrder order = MessageOrder::kAcrossRequests;
  int leaf_count = 0;
  bool uses_sha = false;
  int64_t max_request_bytes = kDefaultMaxRequestBytes;
  std::shared_ptr<const DataFile> data;
  std::vector<HeaderTemplate> headers;

  absl::Status CompileMessage(const pb::Descriptor& type, const nlohmann::json& object, Node& node,
                              const std::string& path);
  absl::Status CompileHeader(const std::string& name, const std::string& value);

 private:
  absl::Status CompileField(const pb::Descriptor& type, const pb::FieldDescriptor& field,
                            const std::string& key, const nlohmann::json& value, Node& node,
                            const std::string& where);
  absl::Status CompileRepeat(const pb::FieldDescriptor& field, const nlohmann::json& value,
                             Node& node, const std::string& where);
  absl::Status CompileRepeated(const pb::Descriptor& type, const pb::FieldDescriptor& field,
                               const std::string& key, const nlohmann::json& array, Node& node,
                               const std::string& where);
  absl::Status CompileMap(const pb::Descriptor& type, const pb::FieldDescriptor& field,
                          const std::string& key, const nlohmann::json& object, Node& node,
                          const std::string& where);
  // Adds message field `field` to `node`, written as field `number`.
  absl::Status AddMessage(const pb::FieldDescriptor& field, int number,
                          const nlohmann::json& object, Node& node, const std::string& where);
  // Adds a leaf for `text` to `node` and a part for it.
  absl::Status AddLeaf(const pb::FieldDescriptor& field, const std::string& text, bool emit_default,
                       Node& node, const std::string& where);
  absl::Status CompileLeaf(const pb::FieldDescriptor& field, const std::string& text, Leaf& leaf,
                           const std::string& where);
  // The wire bytes of `type` with only field `key` set to `value`, deterministic.
  absl::StatusOr<std::string> Serialize(const pb::Descriptor& type, const std::string& key,
                                        const nlohmann::json& value);
  // One field of an entry of map `key` (1: the key, 2: the value), the other at a stand-in.
  absl::StatusOr<std::string> EntryField(const pb::Descriptor& type, const std::string& key,
                                         const std::string& entry_key,
                                         const nlohmann::json& entry_value, int which);

  pb::DynamicMessageFactory factory_;
};

// Header names are case-insensitive (HTTP/2 sends them in lower case): a name
// in capitals is sent lower-cased, and is the same header as its lower case.
absl::Status CompiledTemplate::CompileHeader(const std::string& name, const std::string& value) {
  const std::string where = absl::StrCat("metadata '", name, "'");
  const bool pseudo = http_pseudo_headers && (name == ":method" || name == ":path");
  const bool valid_name =
      pseudo || (!name.empty() && std::all_of(name.begin(), name.end(), [](char c) {
        return absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' ||
               c == '.';
      }));
  if (!valid_name) {
    return absl::InvalidArgumentError(
        absl::StrCat(where, ": a header name is letters, digits, '-', '_' or '.'"));
  }
  const std::string key = absl::AsciiStrToLower(name);
  if (absl::StartsWith(key, "grpc-")) {
    return absl::InvalidArgumentError(absl::StrCat(where, ": grpc- headers are reserved"));
  }
  for (const HeaderTemplate& other : headers) {
    if (other.key == key) return absl::InvalidArgumentError(absl::StrCat(where, ": given twice"));
  }
  auto pieces = ParsePieces(value, data.get(), where);
  if (!pieces.ok()) return pieces.status();
  if (!absl::EndsWith(key, "-bin")) {
    // Text values are printable ASCII; check every text a variable can yield.
    const auto printable = [](absl::string_view text) {
      return std::all_of(text.begin(), text.end(), [](char c) { return c >= 0x20 && c < 0x7f; });
    };
    for (const Piece& piece : *pieces) {
      bool ok = printable(piece.literal);
      for (const std::string& choice : piece.choices) ok = ok && printable(choice);
      for (size_t r = 0; ok && piece.kind == PieceKind::kData && r < data->records(); ++r) {
        ok = printable(data->Text(r, static_cast<int>(piece.lo)));
      }
      if (!ok) {
        return absl::InvalidArgumentError(absl::StrCat(
            where, ": text values must be printable ASCII (name binary headers ...-bin)"));
      }
    }
  }
  headers.push_back(HeaderTemplate{key, *std::move(pieces)});
  return absl::OkStatus();
}

absl::StatusOr<std::string> CompiledTemplate::Serialize(const pb::Descriptor& type,
                                                        const std::string& key,
                                                        const nlohmann::json& value) {
  nlohmann::json object = nlohmann::json::object();
  object[key] = value;
  std::unique_ptr<pb::Message> message(factory_.GetPrototype(&type)->New());
  const auto parsed = pb::util::JsonStringToMessage(object.dump(), message.get());
  if (!parsed.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("request does not match ", type.full_name(),
                                                   ": ", std::string(parsed.message())));
  }
  std::string out;
  {
    pb::io::StringOutputStream stream(&out);
    pb::io::CodedOutputStream coded(&stream);
    coded.SetSerializationDeterministic(true);
    message->SerializeToCodedStream(&coded);
  }
  return out;
}

absl::StatusOr<std::string> CompiledTemplate::EntryField(const pb::Descriptor& type,
                                                         const std::string& key,
                                                         const std::string& entry_key,
                                                         const nlohmann::json& entry_value,
                                                         int which) {
  nlohmann::json entry = nlohmann::json::object();
  entry[entry_key] = entry_value;
  auto bytes = Serialize(type, key, entry);
  if (!bytes.ok()) return bytes.status();
  // A map entry is written whole, key then value, defaults included.
  std::string_view key_field(*bytes);
  uint64_t ignored = 0;
  ReadVarint(key_field, &ignored);  // the entry's tag
  ReadVarint(key_field, &ignored);  // and length
  std::string_view value_field = key_field;
  SkipField(value_field);
  key_field.remove_suffix(value_field.size());
  return std::string(which == 1 ? key_field : value_field);
}

absl::Status CompiledTemplate::CompileLeaf(const pb::FieldDescriptor& field,
                                           const std::string& text, Leaf& leaf,
                                           const std::string& where) {
  leaf.field = &field;
  leaf.encoding = EncodingOf(field);
  leaf.index = leaf_count++;
  if (field.cpp_type() == pb::FieldDescriptor::CPPTYPE_MESSAGE) {
    return absl::InvalidArgumentError(
        absl::StrCat("field ", where, " is a message: its template is a JSON object"));
  }
  if (text.rfind("${sha256:", 0) == 0 && text.back() == '}' && text.find('}') == text.size() - 1) {
    if (field.type() != pb::FieldDescriptor::TYPE_STRING || field.is_repeated() ||
        field.containing_type()->map_key() != nullptr) {
      return absl::InvalidArgumentError(
          absl::StrCat("${sha256:...} needs a singular string field (", where, ")"));
    }
    leaf.is_sha = true;
    uses_sha = true;
    return absl::OkStatus();
  }
  auto pieces = ParsePieces(text, data.get(), where);
  if (!pieces.ok()) return pieces.status();
  leaf.pieces = *std::move(pieces);
  if (IsStringField(field)) return absl::OkStatus();

  // Numeric, bool and enum fields take exactly one numeric-valued variable,
  // whose values must all be in the field's range.
  if (leaf.pieces.size() != 1 || !IsNumericPiece(leaf.pieces[0].kind)) {
    return absl::InvalidArgumentError(absl::StrCat("field ", where, " is ", field.type_name(),
                                                   ": its template must be one numeric variable"));
  }
  leaf.numeric = true;
  leaf.counter_max = MaxOf(field);
  Piece& piece = leaf.pieces[0];
  if (piece.kind == PieceKind::kData) {
    // Parsed once here, so rendering a record's value is an array lookup.
    for (size_t r = 0; r < data->records(); ++r) {
      piece.choices.push_back(data->Text(r, static_cast<int>(piece.lo)));
    }
  }
  if (IsChoicePiece(piece.kind)) {
    for (const std::string& choice : piece.choices) {
      auto value = ParseValue(field, choice, where);
      if (!value.ok()) return value.status();
      piece.numeric_choices.push_back(*value);
    }
    piece.choices.clear();
  }
  if (piece.kind == PieceKind::kRandInt) {
    for (const int64_t bound : {piece.lo, piece.hi}) {
      if (!Fits(field, static_cast<uint64_t>(bound), bound < 0)) {
        return OutOfRange(absl::StrCat("${rand_int:", piece.lo, ":", piece.hi, "}"), field, where);
      }
    }
  }
  if (piece.kind == PieceKind::kNowNs || piece.kind == PieceKind::kNowMs) {
    const int64_t now = UnixNanosNow() / (piece.kind == PieceKind::kNowMs ? 1'000'000 : 1);
    if (static_cast<uint64_t>(now) > leaf.counter_max) {
      return OutOfRange(piece.kind == PieceKind::kNowMs ? "${now_ms}" : "${now_ns}", field, where);
    }
  }
  return absl::OkStatus();
}

absl::Status CompiledTemplate::AddLeaf(const pb::FieldDescriptor& field, const std::string& text,
                                       bool emit_default, Node& node, const std::string& where) {
  Leaf leaf;
  if (auto status = CompileLeaf(field, text, leaf, where); !status.ok()) return status;
  leaf.emit_default = emit_default;
  leaf.packed = field.is_packed();
  node.parts.push_back(Part{field.number(), "", static_cast<int>(node.leaves.size()), -1});
  node.leaves.push_back(std::move(leaf));
  return absl::OkStatus();
}

absl::Status CompiledTemplate::CompileRepeat(const pb::FieldDescriptor& field,
                                             const nlohmann::json& value, Node& node,
                                             const std::string& where) {
  if (!field.is_repeated() || field.type() != pb::FieldDescriptor::TYPE_MESSAGE || field.is_map()) {
    return absl::InvalidArgumentError(
        absl::StrCat("$repeat needs a repeated message field; ", where, " is not one"));
  }
  const nlohmann::json& count = value["$repeat"];
  if (!count.is_number_integer() || count.get<int64_t>() < 1 || count.get<int64_t>() > kMaxRepeat ||
      !value.contains("$item") || !value["$item"].is_object() || value.size() != 2) {
    return absl::InvalidArgumentError(
        absl::StrCat(where, ": expected {\"$repeat\": N (1..", kMaxRepeat, "), \"$item\": {...}}"));
  }
  Node item;
  item.number = field.number();
  item.repeat = count.get<int>();
  if (auto status = CompileMessage(*field.message_type(), value["$item"], item, where);
      !status.ok()) {
    return status;
  }
  AddChild(node, field.number(), std::move(item));
  return absl::OkStatus();
}

absl::Status CompiledTemplate::CompileRepeated(const pb::Descriptor& type,
                                               const pb::FieldDescriptor& field,
                                               const std::string& key, const nlohmann::json& array,
                                               Node& node, const std::string& where) {
  if (!array.is_array()) {
    return absl::InvalidArgumentError(
        absl::StrCat("field ", where, " is repeated: its template is a JSON array"));
  }
  // A packed field is one length-delimited run of values; otherwise each element is a field.
  Node packed;
  packed.number = field.number();
  Node& target = field.is_packed() ? packed : node;
  for (size_t i = 0; i < array.size(); ++i) {
    const nlohmann::json& element = array[i];
    const std::string element_where = absl::StrCat(where, "[", i, "]");
    if (!HasVariables(element)) {
      auto bytes = Serialize(type, key, nlohmann::json::array({element}));
      if (!bytes.ok()) return Refused(bytes.status(), field, element, element_where, true);
      std::string_view payload(*bytes);
      if (field.is_packed()) {  // the element's value alone, without the run's tag and length
        uint64_t ignored = 0;
        ReadVarint(payload, &ignored);
        ReadVarint(payload, &ignored);
      }
      target.parts.push_back(Part{field.number(), std::string(payload), -1, -1});
    } else if (field.type() == pb::FieldDescriptor::TYPE_MESSAGE) {
      if (auto status = AddMessage(field, field.number(), element, node, element_where);
          !status.ok()) {
        return status;
      }
    } else if (element.is_string()) {
      if (auto status = AddLeaf(field, element.get<std::string>(), /*emit_default=*/true, target,
                                element_where);
          !status.ok()) {
        return status;
      }
    } else {
      return absl::InvalidArgumentError(
          absl::StrCat("field ", element_where, " is ", field.type_name(), ": not an array"));
    }
  }
  if (field.is_packed() && !packed.parts.empty()) AddChild(node, field.number(), std::move(packed));
  return absl::OkStatus();
}

absl::Status CompiledTemplate::CompileMap(const pb::Descriptor& type,
                                          const pb::FieldDescriptor& field, const std::string& key,
                                          const nlohmann::json& object, Node& node,
                                          const std::string& where) {
  if (!object.is_object()) {
    return absl::InvalidArgumentError(
        absl::StrCat("field ", where, " is a map: its template is a JSON object"));
  }
  const pb::FieldDescriptor& key_field = *field.message_type()->map_key();
  const pb::FieldDescriptor& value_field = *field.message_type()->map_value();
  // Stand-ins for the half of an entry that is templated.
  const std::string stand_in_key = key_field.type() == pb::FieldDescriptor::TYPE_STRING ? "k"
                                   : key_field.type() == pb::FieldDescriptor::TYPE_BOOL ? "false"
                                                                                        : "0";
  const nlohmann::json stand_in_value =
      value_field.type() == pb::FieldDescriptor::TYPE_MESSAGE ? nlohmann::json::object()
      : IsStringField(value_field)                            ? nlohmann::json("")
      : value_field.type() == pb::FieldDescriptor::TYPE_BOOL  ? nlohmann::json(false)
                                                              : nlohmann::json(0);
  Node entries;  // inlined: its parts are the entries
  const Encoding key_encoding = EncodingOf(key_field);
  entries.key_order.zigzag = key_encoding.zigzag;
  entries.key_order.is_signed = key_encoding.is_signed;
  entries.key_order.fixed32 = key_field.type() == pb::FieldDescriptor::TYPE_SFIXED32;
  for (auto it = object.begin(); it != object.end(); ++it) {
    const std::string entry_where = absl::StrCat(where, "[", it.key(), "]");
    const bool key_varies = it.key().find("${") != std::string::npos;
    if (!key_varies && !HasVariables(*it)) {
      auto bytes = Serialize(type, key, nlohmann::json::object({{it.key(), *it}}));
      if (!bytes.ok()) return Refused(bytes.status(), value_field, *it, entry_where, true);
      entries.parts.push_back(Part{field.number(), *std::move(bytes), -1, -1});
      continue;
    }
    Node entry;
    entry.number = field.number();
    if (key_varies) {
      entries.sort_keys = true;
      if (auto status = AddLeaf(key_field, it.key(), /*emit_default=*/true, entry, entry_where);
          !status.ok()) {
        return status;
      }
    } else {
      auto bytes = EntryField(type, key, it.key(), stand_in_value, 1);
      if (!bytes.ok()) return bytes.status();
      entry.parts.push_back(Part{1, *std::move(bytes), -1, -1});
    }
    if (!HasVariables(*it)) {
      auto bytes = EntryField(type, key, stand_in_key, *it, 2);
      if (!bytes.ok()) return Refused(bytes.status(), value_field, *it, entry_where, true);
      entry.parts.push_back(Part{2, *std::move(bytes), -1, -1});
    } else if (value_field.type() == pb::FieldDescriptor::TYPE_MESSAGE) {
      if (auto status = AddMessage(value_field, 2, *it, entry, entry_where); !status.ok()) {
        return status;
      }
    } else if (it->is_string()) {
      if (auto status = AddLeaf(value_field, it->get<std::string>(), /*emit_default=*/true, entry,
                                entry_where);
          !status.ok()) {
        return status;
      }
    } else {
      return absl::InvalidArgumentError(absl::StrCat("field ", entry_where, " is ",
                                                     value_field.type_name(), ": not a container"));
    }
    AddChild(entries, field.number(), std::move(entry));
  }
  if (!entries.sort_keys) {
    // Every key is constant: the order is known now.
    const auto key_of = [&](const Part& part) {
      if (part.child >= 0)
        return KeyOf(entries.children[part.child].parts[0].bytes, entries.key_order);
      std::string_view entry(part.bytes);
      uint64_t ignored = 0;
      ReadVarint(entry, &ignored);
      ReadVarint(entry, &ignored);
      return KeyOf(entry, entries.key_order);
    };
    std::stable_sort(entries.parts.begin(), entries.parts.end(),
                     [&](const Part& a, const Part& b) { return key_of(a) < key_of(b); });
    for (size_t i = 1; i < entries.parts.size(); ++i) {
      if (key_of(entries.parts[i - 1]) == key_of(entries.parts[i])) {
        return absl::InvalidArgumentError(absl::StrCat("map ", where, " has a key twice"));
      }
    }
  }
  AddChild(node, field.number(), std::move(entries));
  return absl::OkStatus();
}

absl::Status CompiledTemplate::AddMessage(const pb::FieldDescriptor& field, int number,
                                          const nlohmann::json& object, Node& node,
                                          const std::string& where) {
  if (!object.is_object()) {
    return absl::InvalidArgumentError(
        absl::StrCat("field ", where, " is a message: its template is a JSON object"));
  }
  Node child;
  child.number = number;
  if (auto status = CompileMessage(*field.message_type(), object, child, where); !status.ok()) {
    return status;
  }
  AddChild(node, number, std::move(child));
  return absl::OkStatus();
}

absl::Status CompiledTemplate::CompileField(const pb::Descriptor& type,
                                            const pb::FieldDescriptor& field,
                                            const std::string& key, const nlohmann::json& value,
                                            Node& node, const std::string& where) {
  if (!HasVariables(value)) {
    auto bytes = Serialize(type, key, value);
    if (!bytes.ok()) return Refused(bytes.status(), field, value, where, false);
    if (!bytes->empty()) node.parts.push_back(Part{field.number(), *std::move(bytes), -1, -1});
    return absl::OkStatus();
  }
  if (value.is_object() && value.contains("$repeat"))
    return CompileRepeat(field, value, node, where);
  if (field.is_map()) return CompileMap(type, field, key, value, node, where);
  if (field.is_repeated()) return CompileRepeated(type, field, key, value, node, where);
  if (field.type() == pb::FieldDescriptor::TYPE_MESSAGE) {
    return AddMessage(field, field.number(), value, node, where);
  }
  if (!value.is_string()) {
    return absl::InvalidArgumentError(
        absl::StrCat("field ", where, " is ", field.type_name(), ": not a container"));
  }
  return AddLeaf(field, value.get<std::string>(), field.has_presence(), node, where);
}

absl::Status CompiledTemplate::CompileMessage(const pb::Descriptor& type,
                                              const nlohmann::json& object, Node& node,
                                              const std::string& path) {
  std::vector<const pb::FieldDescriptor*> given;
  std::vector<std::pair<const pb::FieldDescriptor*, std::string>> digests;  // field, "f1,f2"
  for (auto it = object.begin(); it != object.end(); ++it) {
    const std::string where = path.empty() ? it.key() : absl::StrCat(path, ".", it.key());
    const pb::FieldDescriptor* field = FindField(type, it.key());
    if (field == nullptr) {
      return absl::InvalidArgumentError(
          absl::StrCat("unknown field '", where, "' in message ", type.full_name()));
    }
    for (const pb::FieldDescriptor* other : given) {
      if (other == field) {
        return absl::InvalidArgumentError(absl::StrCat("field ", where, " is given twice"));
      }
      if (field->real_containing_oneof() != nullptr &&
          other->real_containing_oneof() == field->real_containing_oneof()) {
        return absl::InvalidArgumentError(absl::StrCat("field ", where, " and ", other->name(),
                                                       " are in the same oneof: give one"));
      }
    }
    given.push_back(field);
    if (it->is_string() && absl::StartsWith(it->get<std::string>(), "${sha256:")) {
      digests.emplace_back(field, it->get<std::string>());  // after the fields it reads
      continue;
    }
    if (auto status = CompileField(type, *field, it.key(), *it, node, where); !status.ok()) {
      return status;
    }
  }
  for (const auto& [field, text] : digests) {
    const std::string where = path.empty() ? field->name() : absl::StrCat(path, ".", field->name());
    const size_t first = node.leaves.size();
    if (auto status = AddLeaf(*field, text, field->has_presence(), node, where); !status.ok()) {
      return status;
    }
    Leaf& leaf = node.leaves[first];
    const std::string spec = text.substr(9, text.size() - 10);
    for (absl::string_view name : absl::StrSplit(spec, ',')) {
      ShaInput input;
      const std::string key(name);
      const auto variable =
          std::find_if(node.leaves.begin(), node.leaves.end(), [&](const Leaf& l) {
            return !l.field->is_repeated() && !l.is_sha &&
                   (l.field->name() == key || l.field->json_name() == key);
          });
      if (variable != node.leaves.end()) {
        input.leaf = variable->index;
        variable->text_needed = true;
      } else if (object.contains(key) && !object[key].is_object() && !object[key].is_array()) {
        input.constant = ConstantText(object[key]);
      } else if (const pb::FieldDescriptor* f = FindField(type, key)) {
        // An absent field has its default, rendered empty or 0.
        input.constant = f->cpp_type() == pb::FieldDescriptor::CPPTYPE_STRING ? "" : "0";
      } else {
        return absl::InvalidArgumentError(absl::StrCat("${sha256:", spec, "}: unknown field '", key,
                                                       "' in message ", type.full_name()));
      }
      leaf.sha_inputs.push_back(std::move(input));
    }
  }
  // Field-number order, as protobuf writes; a repeated field's elements keep theirs.
  std::stable_sort(node.parts.begin(), node.parts.end(),
                   [](const Part& a, const Part& b) { return a.number < b.number; });
  std::vector<Part> merged;
  for (Part& part : node.parts) {
    const bool constant = part.leaf < 0 && part.child < 0;
    if (constant && !merged.empty() && merged.back().leaf < 0 && merged.back().child < 0) {
      merged.back().bytes += part.bytes;
    } else {
      merged.push_back(std::move(part));
    }
  }
  node.parts = std::move(merged);
  return absl::OkStatus();
}

RequestTemplate::RequestTemplate(std::unique_ptr<CompiledTemplate> compiled)
    : compiled_(std::move(compiled)) {}
RequestTemplate::~RequestTemplate() = default;
RequestTemplate::RequestTemplate(RequestTemplate&&) noexcept = default;
RequestTemplate& RequestTemplate::operator=(RequestTemplate&&) noexcept = default;

namespace {

absl::Status CompileHeaders(const TemplateInputs& inputs, CompiledTemplate& compiled) {
  compiled.http_pseudo_headers = inputs.http_pseudo_headers;
  for (const auto& [key, value] : inputs.metadata) {
    if (auto status = compiled.CompileHeader(key, value); !status.ok()) return status;
  }
  return absl::OkStatus();
}

}  // namespace

// The most bytes a leaf's value renders to, with its tag and length (a
// data-file value counts as empty: the renderer checks those as they come).
double MaxLeafBytes(const Leaf& leaf) {
  constexpr double kTagAndLength = 16;  // a tag and a length varint, at most
  if (leaf.is_sha) return kTagAndLength + 64;
  double bytes = kTagAndLength;
  for (const Piece& piece : leaf.pieces) {
    switch (piece.kind) {
      case PieceKind::kLiteral:
        bytes += static_cast<double>(piece.literal.size());
        break;
      case PieceKind::kRandString:
        bytes += static_cast<double>(piece.lo);
        break;
      case PieceKind::kPick:
        for (const std::string& choice : piece.choices) {
          bytes = std::max(bytes, kTagAndLength + static_cast<double>(choice.size()));
        }
        break;
      case PieceKind::kData:
        break;
      default:  // numbers, uuids, run ids
        bytes += 40;
    }
  }
  return bytes;
}

// The most bytes `node` renders to (in doubles: a hostile $repeat overflows integers).
double MaxNodeBytes(const Node& node) {
  double bytes = 0;
  for (const Leaf& leaf : node.leaves) bytes += MaxLeafBytes(leaf);
  for (const Part& part : node.parts) bytes += static_cast<double>(part.bytes.size());
  for (const Node& child : node.children) {
    bytes += (16 + MaxNodeBytes(child)) * std::max(child.repeat, 1);
  }
  return bytes;
}

absl::StatusOr<RequestTemplate> RequestTemplate::Compile(const pb::Descriptor& type,
                                                         absl::string_view json,
                                                         const TemplateInputs& inputs) {
  nlohmann::json value = nlohmann::json::parse(json, nullptr, /*allow_exceptions=*/false);
  const bool is_array = value.is_array();
  if (!is_array) value = nlohmann::json::array({std::move(value)});
  if (value.empty() || !std::all_of(value.begin(), value.end(),
                                    [](const nlohmann::json& m) { return m.is_object(); })) {
    return absl::InvalidArgumentError(
        absl::StrCat("request template for ", type.full_name(),
                     " is not a JSON object or a non-empty array of them"));
  }
  if (auto checked = CheckUntrustedJson(value); !checked.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("request template for ", type.full_name(), ": ", checked.message()));
  }
  auto compiled = std::make_unique<CompiledTemplate>();
  compiled->data = inputs.data;
  compiled->order = inputs.order;
  compiled->max_request_bytes = inputs.max_request_bytes;
  compiled->roots.resize(value.size());
  for (size_t i = 0; i < value.size(); ++i) {
    if (auto status = compiled->CompileMessage(type, value[i], compiled->roots[i], "");
        !status.ok()) {
      if (!is_array) return status;
      return absl::Status(status.code(),
                          absl::StrCat("message ", i, " of the request array: ", status.message()));
    }
    if (const double most = MaxNodeBytes(compiled->roots[i]);
        most > static_cast<double>(inputs.max_request_bytes)) {
      return absl::InvalidArgumentError(absl::StrCat(
          is_array ? absl::StrCat("message ", i, " of the request array: ") : "",
          "a request can render to ", FormatBytes(static_cast<int64_t>(std::min(most, 9e18))),
          ", more than max_request_size (", FormatBytes(inputs.max_request_bytes),
          "): shrink its $repeat counts or ${rand_string} lengths, or raise max_request_size"));
    }
  }
  if (auto status = CompileHeaders(inputs, *compiled); !status.ok()) return status;
  return RequestTemplate(std::move(compiled));
}

absl::StatusOr<RequestTemplate> RequestTemplate::FromBinary(const pb::Descriptor& type,
                                                            std::string bytes,
                                                            const TemplateInputs& inputs) {
  pb::DynamicMessageFactory factory;
  std::unique_ptr<pb::Message> message(factory.GetPrototype(&type)->New());
  if (!message->ParseFromString(bytes)) {
    return absl::InvalidArgumentError(
        absl::StrCat("not a serialized ", type.full_name(), " message"));
  }
  // Bytes of another message type often parse, as fields this one does not
  // have (or has with another wire type).
  const pb::UnknownFieldSet& unknown = message->GetReflection()->GetUnknownFields(*message);
  if (!unknown.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("not a serialized ", type.full_name(), " message (its field ",
                     unknown.field(0).number(), " is not one of ", type.full_name(), "'s)"));
  }
  auto compiled = std::make_unique<CompiledTemplate>();
  compiled->data = inputs.data;
  compiled->roots.emplace_back().parts.push_back(Part{0, std::move(bytes)});
  if (auto status = CompileHeaders(inputs, *compiled); !status.ok()) return status;
  return RequestTemplate(std::move(compiled));
}

namespace {

// Appends `text` to the last part of `parts` (a new one after a $repeat).
void AppendText(absl::string_view text, const DataFile* data, const std::string& where,
                std::vector<TextPart>& parts, absl::Status& status) {
  if (!status.ok()) return;
  auto pieces = ParsePieces(text, data, where);
  if (!pieces.ok()) {
    status = pieces.status();
    return;
  }
  if (parts.empty() || !parts.back().plain()) parts.emplace_back();
  std::vector<Piece>& into = parts.back().pieces;
  for (Piece& piece : *pieces) {
    if (piece.kind == PieceKind::kLiteral && !into.empty() &&
        into.back().kind == PieceKind::kLiteral) {
      into.back().literal += piece.literal;
    } else {
      into.push_back(std::move(piece));
    }
  }
}

// What a JSON body's template compiles with: its data file, and the count of
// captures (values digests read) so far.
struct JsonCompiler {
  const DataFile* data = nullptr;
  int captures = 0;
  bool uses_sha = false;
};

void CompileJsonValue(const nlohmann::json& value, JsonCompiler& compiler, const std::string& where,
                      std::vector<TextPart>& parts, absl::Status& status);

// The members of object `value`, those holding ${sha256:f1,f2...} last, after
// the sibling members they digest (member order means nothing in JSON).
void CompileJsonObject(const nlohmann::json& value, JsonCompiler& compiler,
                       const std::string& where, std::vector<TextPart>& parts,
                       absl::Status& status) {
  const auto text = [&](absl::string_view t) {
    AppendText(t, compiler.data, where, parts, status);
  };
  const auto is_digest = [](const nlohmann::json& member) {
    return member.is_string() &&
           absl::StartsWith(member.get_ref<const std::string&>(), "${sha256:");
  };
  const auto inputs_of = [](const std::string& spec) -> std::vector<std::string> {
    return absl::StrSplit(spec.substr(9, spec.size() - 10), ',');
  };
  // Every member a digest reads, by name, and the capture it gets.
  std::map<std::string, int> read;
  for (auto it = value.begin(); it != value.end(); ++it) {
    if (!is_digest(*it)) continue;
    const std::string& spec = it->get_ref<const std::string&>();
    if (spec.back() != '}' || spec.find('}') != spec.size() - 1) {
      status = absl::InvalidArgumentError(
          absl::StrCat("${sha256:...} is the whole value (", where, ".", it.key(), ")"));
      return;
    }
    for (const std::string& key : inputs_of(spec)) {
      if (!value.contains(key) || is_digest(value[key]) ||
          !(value[key].is_string() || value[key].is_number())) {
        status = absl::InvalidArgumentError(absl::StrCat("${sha256:...}: '", key,
                                                         "' is not a string or number sibling (",
                                                         where, ".", it.key(), ")"));
        return;
      }
      read.emplace(key, -1);
    }
  }
  bool first = true;
  const auto member_key = [&](const std::string& key) {
    if (!first) text(",");
    first = false;
    text(nlohmann::json(key).dump());
    text(":");
  };
  for (auto it = value.begin(); it != value.end(); ++it) {
    if (is_digest(*it)) continue;
    member_key(it.key());
    const std::string inner = absl::StrCat(where, where.empty() ? "" : ".", it.key());
    const auto captured = read.find(it.key());
    if (captured == read.end()) {
      CompileJsonValue(*it, compiler, inner, parts, status);
      continue;
    }
    auto pieces =
        ParsePieces(it->is_string() ? it->get<std::string>() : it->dump(), compiler.data, inner);
    if (!pieces.ok()) {
      status = pieces.status();
      return;
    }
    TextPart part;
    part.capture = captured->second = compiler.captures++;
    part.quoted = it->is_string();
    part.pieces = *std::move(pieces);
    parts.push_back(std::move(part));
  }
  for (auto it = value.begin(); it != value.end(); ++it) {
    if (!is_digest(*it)) continue;
    member_key(it.key());
    TextPart part;
    part.is_sha = true;
    for (const std::string& key : inputs_of(it->get<std::string>())) {
      ShaInput input;
      input.leaf = read.at(key);
      part.sha_inputs.push_back(std::move(input));
    }
    compiler.uses_sha = true;
    parts.push_back(std::move(part));
  }
}

// `value` as compact JSON text: strings (and keys) escaped by the JSON
// library, so variables stand inside them as written.
void CompileJsonValue(const nlohmann::json& value, JsonCompiler& compiler, const std::string& where,
                      std::vector<TextPart>& parts, absl::Status& status) {
  const DataFile* data = compiler.data;
  const auto text = [&](absl::string_view t) { AppendText(t, data, where, parts, status); };

  if (value.is_object() && value.contains("$repeat")) {
    const nlohmann::json& count = value["$repeat"];
    if (!count.is_number_integer() || count.get<int64_t>() < 1 ||
        count.get<int64_t>() > kMaxRepeat || !value.contains("$item") || value.size() != 2) {
      status = absl::InvalidArgumentError(
          absl::StrCat(where, ": expected {\"$repeat\": N (1..", kMaxRepeat, "), \"$item\": ...}"));
      return;
    }
    text("[");
    TextPart repeated;
    repeated.repeat = count.get<int64_t>();
    CompileJsonValue(value["$item"], compiler, where, repeated.item, status);
    parts.push_back(std::move(repeated));
    text("]");
    return;
  }
  if (value.is_object()) {
    text("{");
    CompileJsonObject(value, compiler, where, parts, status);
    text("}");
    return;
  }
  if (value.is_array()) {
    text("[");
    for (size_t i = 0; i < value.size(); ++i) {
      if (i > 0) text(",");
      CompileJsonValue(value[i], compiler, absl::StrCat(where, "[", i, "]"), parts, status);
    }
    text("]");
    return;
  }
  text(value.dump());
}

// The most bytes `parts` render to (a data-file value counts as empty, as in MaxLeafBytes).
double MaxTextBytes(const std::vector<TextPart>& parts) {
  double bytes = 0;
  for (const TextPart& part : parts) {
    if (part.repeat > 0) {
      bytes += (1 + MaxTextBytes(part.item)) * static_cast<double>(part.repeat);
      continue;
    }
    if (part.is_sha) bytes += 66;
    // A captured value may grow sixfold, escaped (\u00XX).
    const double escaping = part.capture >= 0 ? 6 : 1;
    for (const Piece& piece : part.pieces) {
      switch (piece.kind) {
        case PieceKind::kLiteral:
          bytes += escaping * static_cast<double>(piece.literal.size());
          break;
        case PieceKind::kRandString:
          bytes += static_cast<double>(piece.lo);
          break;
        case PieceKind::kPick: {
          size_t longest = 0;
          for (const std::string& choice : piece.choices) {
            longest = std::max(longest, choice.size());
          }
          bytes += escaping * static_cast<double>(longest);
          break;
        }
        case PieceKind::kData:
          break;
        default:  // numbers, uuids, run ids
          bytes += 40;
      }
    }
  }
  return bytes;
}

}  // namespace

absl::StatusOr<RequestTemplate> RequestTemplate::CompileJson(absl::string_view json,
                                                             const TemplateInputs& inputs) {
  auto compiled = std::make_unique<CompiledTemplate>();
  compiled->json = true;
  compiled->data = inputs.data;
  compiled->order = inputs.order;
  compiled->max_request_bytes = inputs.max_request_bytes;
  if (!json.empty()) {
    nlohmann::json value = nlohmann::json::parse(json, nullptr, /*allow_exceptions=*/false);
    const bool is_array = value.is_array();
    if (!is_array) value = nlohmann::json::array({std::move(value)});
    if (value.empty() || !std::all_of(value.begin(), value.end(),
                                      [](const nlohmann::json& m) { return m.is_object(); })) {
      return absl::InvalidArgumentError(
          "request body template is not a JSON object or a non-empty array of them");
    }
    if (auto checked = CheckUntrustedJson(value); !checked.ok()) {
      return absl::InvalidArgumentError(absl::StrCat("request body template: ", checked.message()));
    }
    for (size_t i = 0; i < value.size(); ++i) {
      const std::string where =
          is_array ? absl::StrCat("message ", i, " of the request array") : std::string("request");
      absl::Status status;
      std::vector<TextPart>& parts = compiled->json_roots.emplace_back();
      JsonCompiler compiler{inputs.data.get(), compiled->leaf_count, false};
      CompileJsonValue(value[i], compiler, "", parts, status);
      compiled->leaf_count = compiler.captures;
      compiled->uses_sha = compiled->uses_sha || compiler.uses_sha;
      if (!status.ok()) {
        return absl::Status(status.code(), absl::StrCat(where, ": ", status.message()));
      }
      if (const double most = MaxTextBytes(parts);
          most > static_cast<double>(inputs.max_request_bytes)) {
        return absl::InvalidArgumentError(absl::StrCat(
            where, ": a body can render to ",
            FormatBytes(static_cast<int64_t>(std::min(most, 9e18))),
            ", more than max_request_size (", FormatBytes(inputs.max_request_bytes),
            "): shrink its $repeat counts or ${rand_string} lengths, or raise max_request_size"));
      }
    }
  }
  if (auto status = CompileHeaders(inputs, *compiled); !status.ok()) return status;
  return RequestTemplate(std::move(compiled));
}

namespace {

// What variables render from; one per worker.
struct VariableState {
  uint32_t worker = 0;
  uint64_t seed = 0;
  std::string run_id;
  std::mt19937_64 rng;
  std::mt19937_64 uuid_rng;
};

// Where a request is: what ${seq}, ${stream}, ${msg}, ${item} and ${data.*} read.
struct Position {
  const RequestContext& context;
  uint64_t item = 0;
  size_t record = 0;
  const DataFile* data = nullptr;
};

}  // namespace

struct TemplateRequestSource::Scratch {
  VariableState vars;
  std::string out;
  int64_t max_request_bytes = kDefaultMaxRequestBytes;
  std::vector<std::string> leaf_text;
  std::vector<uint64_t> leaf_value;  // numeric leaves: the field's value (FromSigned...)
  // Sorting a map's entries: each entry's place in `out`, and a copy of them.
  struct Entry {
    size_t offset;
    size_t size;
    MapKey key;
  };
  std::vector<Entry> entries;
  std::string entry_bytes;
  std::string length;  // a long nested message's length, before it is moved into place
  std::vector<std::string> header_values;
  std::vector<Header> headers;
  EVP_MD* sha256 = nullptr;
  EVP_MD_CTX* digest = nullptr;
  ~Scratch() {
    EVP_MD_CTX_free(digest);
    EVP_MD_free(sha256);
  }
};

namespace {

void AppendDecimal(std::string& out, uint64_t value, bool is_signed) {
  char buf[24];
  const auto [end, ec] = is_signed
                             ? std::to_chars(buf, buf + sizeof buf, static_cast<int64_t>(value))
                             : std::to_chars(buf, buf + sizeof buf, value);
  out.append(buf, end);
}

// A numeric leaf's value as text, for a digest: what the field holds, in decimal.
void AppendValueText(std::string& out, const Leaf& leaf, uint64_t value) {
  char buf[32];
  std::to_chars_result written;
  if (leaf.field->cpp_type() == pb::FieldDescriptor::CPPTYPE_FLOAT) {
    written =
        std::to_chars(buf, buf + sizeof buf, std::bit_cast<float>(static_cast<uint32_t>(value)));
  } else if (leaf.field->cpp_type() == pb::FieldDescriptor::CPPTYPE_DOUBLE) {
    written = std::to_chars(buf, buf + sizeof buf, std::bit_cast<double>(value));
  } else {
    return AppendDecimal(out, value, leaf.encoding.is_signed);
  }
  out.append(buf, written.ptr);
}

constexpr char kAlphanumeric[] = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
constexpr char kHex[] = "0123456789abcdef";

// The value of a counter variable: ${seq}, ${worker}, ${stream}, ${msg}, ${item}, ${now_*}.
uint64_t CounterValue(PieceKind kind, const Position& at, const VariableState& vars) {
  switch (kind) {
    case PieceKind::kSeq:
      return at.context.sequence;
    case PieceKind::kStream:
      return at.context.stream;
    case PieceKind::kMessage:
      return at.context.message;
    case PieceKind::kItem:
      return at.item;
    case PieceKind::kWorker:
      return vars.worker;
    case PieceKind::kNowNs:
      return static_cast<uint64_t>(UnixNanosNow());
    default:
      return static_cast<uint64_t>(UnixNanosNow() / 1'000'000);
  }
}

// Appends `value` to `text` as it stands inside a JSON string.
void AppendJsonEscaped(std::string& text, std::string_view value) {
  for (const char c : value) {
    if (c == '"' || c == '\\') {
      text.push_back('\\');
      text.push_back(c);
    } else if (static_cast<unsigned char>(c) < 0x20) {
      text += "\\u00";
      text.push_back(kHex[(c >> 4) & 15]);
      text.push_back(kHex[c & 15]);
    } else {
      text.push_back(c);
    }
  }
}

// Appends the text of `pieces` to `text`; `json_escape`: data-file values
// escaped for a JSON string (a template's own text was escaped when compiled).
void RenderText(const std::vector<Piece>& pieces, const Position& at, VariableState& vars,
                std::string& text, bool json_escape = false) {
  for (const Piece& piece : pieces) {
    switch (piece.kind) {
      case PieceKind::kLiteral:
        text += piece.literal;
        break;
      case PieceKind::kRun:
        text += vars.run_id;
        break;
      case PieceKind::kRandInt:
        AppendDecimal(text,
                      static_cast<uint64_t>(
                          std::uniform_int_distribution<int64_t>(piece.lo, piece.hi)(vars.rng)),
                      /*is_signed=*/true);
        break;
      case PieceKind::kRandString:
        for (int64_t i = 0; i < piece.lo; ++i) text.push_back(kAlphanumeric[vars.rng() % 62]);
        break;
      case PieceKind::kUuid: {
        uint64_t hi = vars.uuid_rng(), lo = vars.uuid_rng();
        hi = (hi & ~0xF000ULL) | 0x4000ULL;        // version 4
        lo = (lo & ~(3ULL << 62)) | (2ULL << 62);  // RFC 4122 variant
        char buf[37];
        int k = 0;
        for (int i = 0; i < 32; ++i) {
          if (i == 8 || i == 12 || i == 16 || i == 20) buf[k++] = '-';
          const uint64_t word = i < 16 ? hi : lo;
          buf[k++] = kHex[(word >> (60 - 4 * (i % 16))) & 15];
        }
        text.append(buf, 36);
        break;
      }
      case PieceKind::kPick:
        text += piece.choices[vars.rng() % piece.choices.size()];
        break;
      case PieceKind::kData:
        if (json_escape) {
          AppendJsonEscaped(text, at.data->Text(at.record, static_cast<int>(piece.lo)));
        } else {
          text += at.data->Text(at.record, static_cast<int>(piece.lo));
        }
        break;
      default:
        AppendDecimal(text, CounterValue(piece.kind, at, vars), /*is_signed=*/false);
    }
  }
}

// The value of a numeric leaf; false when it is out of the field's range.
bool RenderNumber(const Leaf& leaf, const Position& at, VariableState& vars, uint64_t* value) {
  const Piece& piece = leaf.pieces[0];
  switch (piece.kind) {
    case PieceKind::kRandInt:
      *value = FromSigned(*leaf.field,
                          std::uniform_int_distribution<int64_t>(piece.lo, piece.hi)(vars.rng));
      return true;
    case PieceKind::kPick:
      *value = piece.numeric_choices[vars.rng() % piece.numeric_choices.size()];
      return true;
    case PieceKind::kData:
      *value = piece.numeric_choices[at.record];
      return true;
    default: {
      const uint64_t counter = CounterValue(piece.kind, at, vars);
      *value = FromUnsigned(*leaf.field, counter);
      return counter <= leaf.counter_max;
    }
  }
}

}  // namespace

TemplateRequestSource::TemplateRequestSource(const RequestTemplate& request_template,
                                             uint32_t worker, uint64_t seed, std::string run_id)
    : compiled_(*request_template.compiled_), scratch_(std::make_unique<Scratch>()) {
  VariableState& vars = scratch_->vars;
  vars.worker = worker;
  vars.seed = seed;
  vars.run_id = std::move(run_id);
  scratch_->max_request_bytes = compiled_.max_request_bytes;
  vars.rng.seed(seed * 0x9E3779B97F4A7C15ULL + worker);
  vars.uuid_rng.seed((static_cast<uint64_t>(std::random_device{}()) << 32) ^
                     std::random_device{}() ^ static_cast<uint64_t>(UnixNanosNow()));
  scratch_->header_values.resize(compiled_.headers.size());
  scratch_->headers.resize(compiled_.headers.size());
  for (size_t i = 0; i < compiled_.headers.size(); ++i) {
    scratch_->headers[i].key = compiled_.headers[i].key;
  }
  scratch_->leaf_text.resize(compiled_.leaf_count);
  scratch_->leaf_value.resize(compiled_.leaf_count);
  scratch_->out.reserve(256);
  if (compiled_.uses_sha) {
    scratch_->sha256 = EVP_MD_fetch(nullptr, "SHA256", nullptr);
    scratch_->digest = EVP_MD_CTX_new();
  }
}

TemplateRequestSource::~TemplateRequestSource() = default;

// Renders a request into scratch.out, nodes depth first; false when a value is
// out of its field's range or two map keys render the same.
class TemplateRequestSource::Renderer {
 public:
  Renderer(Scratch& s, Position& at) : s_(s), at_(at) {}

  bool Render(const Node& node) {
    for (const Leaf& leaf : node.leaves) {
      if (!RenderLeaf(leaf)) return false;
    }
    const size_t start = s_.out.size();
    for (const Part& part : node.parts) {
      if (part.leaf >= 0) {
        PutLeaf(node.leaves[part.leaf]);
      } else if (part.child >= 0) {
        if (!Child(node.children[part.child])) return false;
      } else {
        s_.out += part.bytes;
      }
    }
    return !node.sort_keys || SortEntries(start, node.key_order);
  }

 private:
  bool Child(const Node& child) {
    const uint64_t outer_item = at_.item;
    for (int i = 0; i < std::max(child.repeat, 1); ++i) {
      // A long data-file value may take the request past its bound: stop
      // growing it (the build fails) rather than fill memory.
      if (s_.out.size() > static_cast<size_t>(s_.max_request_bytes)) return false;
      if (child.repeat > 0) at_.item = static_cast<uint64_t>(i);
      if (child.number == 0) {
        if (!Render(child)) return false;
        continue;
      }
      // The length goes before the content: one byte is kept for it, and
      // the content moved up in the rare case it needs more.
      PutTag(s_.out, child.number, 2);
      const size_t length_at = s_.out.size();
      s_.out.push_back(0);
      if (!Render(child)) return false;
      const size_t length = s_.out.size() - length_at - 1;
      if (length < 0x80) {
        s_.out[length_at] = static_cast<char>(length);
      } else {
        std::string& varint = s_.length;
        varint.clear();
        PutVarint(varint, length);
        s_.out.insert(length_at + 1, varint.size() - 1, '\0');
        std::memcpy(s_.out.data() + length_at, varint.data(), varint.size());
      }
    }
    at_.item = outer_item;
    return true;
  }

 public:
  // Appends a JSON body's `parts` to the request, $repeat items numbered by ${item}.
  void RenderJson(const std::vector<TextPart>& parts) {
    std::string& out = s_.out;
    for (const TextPart& part : parts) {
      if (part.is_sha) {
        out.push_back('"');
        AppendDigestHex(part.sha_inputs, out);
        out.push_back('"');
      } else if (part.capture >= 0) {
        std::string& captured = s_.leaf_text[part.capture];
        captured.clear();
        RenderText(part.pieces, at_, s_.vars, captured);
        if (part.quoted) out.push_back('"');
        AppendJsonEscaped(out, captured);
        if (part.quoted) out.push_back('"');
      } else if (part.repeat == 0) {
        RenderText(part.pieces, at_, s_.vars, out, /*json_escape=*/true);
      } else {
        const uint64_t outer_item = at_.item;
        for (int64_t i = 0; i < part.repeat; ++i) {
          if (i > 0) out.push_back(',');
          at_.item = static_cast<uint64_t>(i);
          RenderJson(part.item);
        }
        at_.item = outer_item;
      }
    }
  }

 private:
  // Appends the lower-case hex SHA-256 of `inputs` (leaf texts or constants)
  // joined with "\n" to `out`.
  void AppendDigestHex(const std::vector<ShaInput>& inputs, std::string& out) {
    unsigned char digest[32];
    unsigned int length = 0;
    EVP_DigestInit_ex(s_.digest, s_.sha256, nullptr);
    bool first = true;
    for (const ShaInput& input : inputs) {
      if (!first) EVP_DigestUpdate(s_.digest, "\n", 1);
      first = false;
      const std::string& value = input.leaf >= 0 ? s_.leaf_text[input.leaf] : input.constant;
      EVP_DigestUpdate(s_.digest, value.data(), value.size());
    }
    EVP_DigestFinal_ex(s_.digest, digest, &length);
    for (unsigned int i = 0; i < length; ++i) {
      out.push_back(kHex[digest[i] >> 4]);
      out.push_back(kHex[digest[i] & 15]);
    }
  }

  bool RenderLeaf(const Leaf& leaf) {
    std::string& text = s_.leaf_text[leaf.index];
    text.clear();
    if (leaf.is_sha) {
      AppendDigestHex(leaf.sha_inputs, text);
      return true;
    }
    if (!leaf.numeric) {
      RenderText(leaf.pieces, at_, s_.vars, text);
      return true;
    }
    uint64_t& value = s_.leaf_value[leaf.index];
    if (!RenderNumber(leaf, at_, s_.vars, &value)) return false;
    if (leaf.text_needed) AppendValueText(text, leaf, value);
    return true;
  }

  void PutLeaf(const Leaf& leaf) {
    std::string& out = s_.out;
    const Encoding& e = leaf.encoding;
    if (e.wire_type == 2) {
      const std::string& text = s_.leaf_text[leaf.index];
      if (text.empty() && !leaf.emit_default) return;
      PutTag(out, e.number, 2);
      PutVarint(out, text.size());
      out += text;
      return;
    }
    const uint64_t value = s_.leaf_value[leaf.index];
    if (value == 0 && !leaf.emit_default) return;
    if (!leaf.packed) PutTag(out, e.number, e.wire_type);
    if (e.wire_type == 5) {
      PutFixed(out, value, 4);
    } else if (e.wire_type == 1) {
      PutFixed(out, value, 8);
    } else if (e.zigzag) {
      PutVarint(out, (value << 1) ^ static_cast<uint64_t>(static_cast<int64_t>(value) >> 63));
    } else {
      PutVarint(out, value);
    }
  }

  // Orders the map entries rendered from `start` by key, as deterministic
  // serialization does; false when two keys are the same.
  bool SortEntries(size_t start, const KeyOrder& order) {
    std::string& out = s_.out;
    s_.entries.clear();
    std::string_view rest(out.data() + start, out.size() - start);
    while (!rest.empty()) {
      const char* entry = rest.data();
      uint64_t tag = 0, length = 0;
      ReadVarint(rest, &tag);
      ReadVarint(rest, &length);
      const MapKey key = KeyOf(rest.substr(0, length), order);
      rest.remove_prefix(length);
      s_.entries.push_back(
          {static_cast<size_t>(entry - out.data()), static_cast<size_t>(rest.data() - entry), key});
    }
    const auto by_key = [](const Scratch::Entry& a, const Scratch::Entry& b) {
      return a.key < b.key;
    };
    const bool sorted = std::is_sorted(s_.entries.begin(), s_.entries.end(), by_key);
    if (!sorted) std::sort(s_.entries.begin(), s_.entries.end(), by_key);
    for (size_t i = 1; i < s_.entries.size(); ++i) {
      if (s_.entries[i - 1].key == s_.entries[i].key) return false;
    }
    if (sorted) return true;
    s_.entry_bytes.assign(out, start);
    size_t to = start;
    for (const Scratch::Entry& entry : s_.entries) {
      std::memcpy(out.data() + to, s_.entry_bytes.data() + (entry.offset - start), entry.size);
      to += entry.size;
    }
    return true;
  }

  Scratch& s_;
  Position& at_;
};

std::string_view TemplateRequestSource::Build(const RequestContext& context) {
  Scratch& s = *scratch_;
  const DataFile* data = compiled_.data.get();
  Position at{context, 0, data != nullptr ? data->RecordFor(context.sequence, s.vars.seed) : 0,
              data};
  s.out.clear();
  const uint64_t position =
      compiled_.order == MessageOrder::kWithinStream ? context.message : context.sequence;
  if (compiled_.json) {
    const auto& roots = compiled_.json_roots;
    // A request without a body is an empty view that is not null.
    if (roots.empty()) return std::string_view(s.out.data(), 0);
    Renderer(s, at).RenderJson(roots[position % roots.size()]);
    if (s.out.size() > static_cast<size_t>(compiled_.max_request_bytes)) return {};
    return s.out;
  }
  const std::vector<Node>& roots = compiled_.roots;
  if (!Renderer(s, at).Render(roots.size() == 1 ? roots[0] : roots[position % roots.size()]) ||
      s.out.size() > static_cast<size_t>(compiled_.max_request_bytes)) {
    return {};
  }
  return s.out;
}

std::span<const Header> TemplateRequestSource::BuildHeaders(const RequestContext& context) {
  Scratch& s = *scratch_;
  const DataFile* data = compiled_.data.get();
  const Position at{context, 0,
                    data != nullptr ? data->RecordFor(context.sequence, s.vars.seed) : 0, data};
  for (size_t i = 0; i < compiled_.headers.size(); ++i) {
    std::string& value = s.header_values[i];
    value.clear();
    RenderText(compiled_.headers[i].pieces, at, s.vars, value);
    s.headers[i].value = value;
  }
  return s.headers;
}

}  // namespace aurigraph::loadgen
