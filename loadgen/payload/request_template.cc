#include "loadgen/payload/request_template.h"

#include <google/protobuf/descriptor.h>
#include <google/protobuf/dynamic_message.h>
#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/zero_copy_stream_impl_lite.h>
#include <google/protobuf/util/json_util.h>
#include <openssl/evp.h>

#include <algorithm>
#include <charconv>
#include <cstring>
#include <nlohmann/json.hpp>
#include <random>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "common/clock/clock.h"
#include "common/input/json_check.h"

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
  std::vector<int64_t> numeric_choices;  // kPick: per choice; kData: per record
};

struct HeaderTemplate {
  std::string key;
  std::vector<Piece> pieces;
};

struct ShaInput {
  int leaf = -1;         // index of a variable sibling leaf, or
  std::string constant;  // the sibling's constant value
};

struct Leaf {
  const pb::FieldDescriptor* field = nullptr;
  int index = 0;  // global, into the scratch arrays
  bool numeric = false;
  std::vector<Piece> pieces;
  bool is_sha = false;
  std::vector<ShaInput> sha_inputs;
};

struct Node {
  const pb::FieldDescriptor* field = nullptr;  // null for the root message
  int index = 0;
  int repeat = 0;            // > 0: a generated repeated field, rendered this many times
  std::string constant;      // repeated items: each item's constant part
  std::vector<Leaf> leaves;  // digests last, so their inputs are rendered first
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

std::string ConstantText(const nlohmann::json& value) {
  if (value.is_string()) return value.get<std::string>();
  return value.dump();
}

const pb::FieldDescriptor* FindField(const pb::Descriptor& type, const std::string& key) {
  const pb::FieldDescriptor* field = type.FindFieldByName(key);
  return field != nullptr ? field : type.FindFieldByCamelcaseName(key);
}

// Serializes a JSON object (no variables left) as `type`, deterministically.
absl::Status SerializeJson(const pb::Descriptor& type, const nlohmann::json& object,
                           std::string* out) {
  pb::DynamicMessageFactory factory;
  std::unique_ptr<pb::Message> message(factory.GetPrototype(&type)->New());
  const auto parsed = pb::util::JsonStringToMessage(object.dump(), message.get());
  if (!parsed.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("request does not match ", type.full_name(),
                                                   ": ", std::string(parsed.message())));
  }
  pb::io::StringOutputStream stream(out);
  pb::io::CodedOutputStream coded(&stream);
  coded.SetSerializationDeterministic(true);
  message->SerializeToCodedStream(&coded);
  return absl::OkStatus();
}

constexpr int kMaxRepeat = 1'000'000;

}  // namespace

class CompiledTemplate {
 public:
  std::string constant;
  Node root;
  int leaf_count = 0;
  int node_count = 1;
  bool uses_sha = false;
  std::shared_ptr<const DataFile> data;
  std::vector<HeaderTemplate> headers;

  absl::Status CompileNode(const pb::Descriptor& type, nlohmann::json& object, Node& node,
                           const std::string& path);
  absl::Status CompileLeaf(const pb::FieldDescriptor& field, const std::string& text, Leaf& leaf,
                           const std::string& where);
  absl::Status CompileHeader(const std::string& key, const std::string& value);
};

absl::Status CompiledTemplate::CompileHeader(const std::string& key, const std::string& value) {
  const std::string where = absl::StrCat("metadata '", key, "'");
  const bool valid_name = !key.empty() && std::all_of(key.begin(), key.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.';
  });
  if (!valid_name) {
    return absl::InvalidArgumentError(
        absl::StrCat(where, ": a header name is lower-case letters, digits, '-', '_' or '.'"));
  }
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

absl::Status CompiledTemplate::CompileLeaf(const pb::FieldDescriptor& field,
                                           const std::string& text, Leaf& leaf,
                                           const std::string& where) {
  leaf.field = &field;
  leaf.index = leaf_count++;
  if (field.is_repeated()) {
    return absl::InvalidArgumentError(
        absl::StrCat("variables are not supported in repeated field ", where));
  }
  if (text.rfind("${sha256:", 0) == 0 && text.back() == '}' && text.find('}') == text.size() - 1) {
    if (field.type() != pb::FieldDescriptor::TYPE_STRING) {
      return absl::InvalidArgumentError(
          absl::StrCat("${sha256:...} needs a string field (", where, ")"));
    }
    leaf.is_sha = true;
    uses_sha = true;
    return absl::OkStatus();
  }
  auto pieces = ParsePieces(text, data.get(), where);
  if (!pieces.ok()) return pieces.status();
  leaf.pieces = *std::move(pieces);
  if (IsStringField(field)) return absl::OkStatus();

  // Numeric, bool and enum fields take exactly one numeric-valued variable.
  if (leaf.pieces.size() != 1 || !IsNumericPiece(leaf.pieces[0].kind)) {
    return absl::InvalidArgumentError(absl::StrCat("field ", where, " is ", field.type_name(),
                                                   ": its template must be one numeric variable"));
  }
  leaf.numeric = true;
  Piece& piece = leaf.pieces[0];
  if (piece.kind == PieceKind::kData) {
    // Parsed once here, so rendering a record's value is an array lookup.
    for (size_t r = 0; r < data->records(); ++r) {
      piece.choices.push_back(data->Text(r, static_cast<int>(piece.lo)));
    }
  }
  if (IsChoicePiece(piece.kind)) {
    for (const std::string& choice : piece.choices) {
      if (field.type() == pb::FieldDescriptor::TYPE_ENUM) {
        const pb::EnumValueDescriptor* value = field.enum_type()->FindValueByName(choice);
        if (value != nullptr) {
          piece.numeric_choices.push_back(value->number());
          continue;
        }
      }
      if (field.type() == pb::FieldDescriptor::TYPE_BOOL &&
          (choice == "true" || choice == "false")) {
        piece.numeric_choices.push_back(choice == "true" ? 1 : 0);
        continue;
      }
      auto number = ParseInt(choice, where);
      if (!number.ok()) return number.status();
      piece.numeric_choices.push_back(*number);
    }
    if (piece.kind == PieceKind::kData) piece.choices.clear();
  }
  return absl::OkStatus();
}

absl::Status CompiledTemplate::CompileNode(const pb::Descriptor& type, nlohmann::json& object,
                                           Node& node, const std::string& path) {
  std::vector<std::string> variable_keys;
  std::vector<std::pair<Leaf, std::string>> digests;  // leaf, its "f1,f2" spec
  for (auto it = object.begin(); it != object.end(); ++it) {
    const std::string where = path.empty() ? it.key() : absl::StrCat(path, ".", it.key());
    const pb::FieldDescriptor* field = FindField(type, it.key());
    if (field == nullptr) {
      return absl::InvalidArgumentError(
          absl::StrCat("unknown field '", where, "' in message ", type.full_name()));
    }
    if (it->is_string() && it->get<std::string>().find("${") != std::string::npos) {
      Leaf leaf;
      const std::string text = it->get<std::string>();
      if (auto status = CompileLeaf(*field, text, leaf, where); !status.ok()) return status;
      variable_keys.push_back(it.key());
      if (leaf.is_sha) {
        digests.emplace_back(std::move(leaf), text.substr(9, text.size() - 10));
      } else {
        node.leaves.push_back(std::move(leaf));
      }
      continue;
    }
    if (it->is_object() && field->type() == pb::FieldDescriptor::TYPE_MESSAGE && !field->is_map() &&
        !field->is_repeated()) {
      Node child;
      child.field = field;
      child.index = node_count++;
      if (auto status = CompileNode(*field->message_type(), *it, child, where); !status.ok()) {
        return status;
      }
      if (!child.leaves.empty() || !child.children.empty())
        node.children.push_back(std::move(child));
      continue;
    }
    if (it->is_object() && it->contains("$repeat")) {
      if (!field->is_repeated() || field->type() != pb::FieldDescriptor::TYPE_MESSAGE ||
          field->is_map()) {
        return absl::InvalidArgumentError(
            absl::StrCat("$repeat needs a repeated message field; ", where, " is not one"));
      }
      const nlohmann::json& count = (*it)["$repeat"];
      if (!count.is_number_integer() || count.get<int64_t>() < 1 ||
          count.get<int64_t>() > kMaxRepeat || !it->contains("$item") ||
          !(*it)["$item"].is_object() || it->size() != 2) {
        return absl::InvalidArgumentError(absl::StrCat(where, ": expected {\"$repeat\": N (1..",
                                                       kMaxRepeat, "), \"$item\": {...}}"));
      }
      Node child;
      child.field = field;
      child.index = node_count++;
      child.repeat = count.get<int>();
      nlohmann::json item = (*it)["$item"];
      if (auto status = CompileNode(*field->message_type(), item, child, where); !status.ok()) {
        return status;
      }
      if (auto status = SerializeJson(*field->message_type(), item, &child.constant);
          !status.ok()) {
        return absl::InvalidArgumentError(absl::StrCat(where, ": ", status.message()));
      }
      node.children.push_back(std::move(child));
      variable_keys.push_back(it.key());
      continue;
    }
    if (it->is_array() && it->dump().find("${") != std::string::npos) {
      return absl::InvalidArgumentError(
          absl::StrCat("variables are not supported in repeated field ", where));
    }
  }
  for (auto& [leaf, spec] : digests) {
    for (absl::string_view name : absl::StrSplit(spec, ',')) {
      ShaInput input;
      const std::string key(name);
      const auto variable = std::find_if(
          node.leaves.begin(), node.leaves.end(),
          [&](const Leaf& l) { return l.field->name() == key || l.field->json_name() == key; });
      if (variable != node.leaves.end()) {
        input.leaf = variable->index;
      } else if (object.contains(key) && !object[key].is_object() && !object[key].is_array()) {
        input.constant = ConstantText(object[key]);
      } else if (FindField(type, key) != nullptr) {
        input.constant = "";  // an absent field has its default, rendered empty
        const pb::FieldDescriptor* f = FindField(type, key);
        if (f->cpp_type() != pb::FieldDescriptor::CPPTYPE_STRING) input.constant = "0";
      } else {
        return absl::InvalidArgumentError(absl::StrCat("${sha256:", spec, "}: unknown field '", key,
                                                       "' in message ", type.full_name()));
      }
      leaf.sha_inputs.push_back(std::move(input));
    }
    node.leaves.push_back(std::move(leaf));
  }
  for (const std::string& key : variable_keys) object.erase(key);
  return absl::OkStatus();
}

RequestTemplate::RequestTemplate(std::unique_ptr<CompiledTemplate> compiled)
    : compiled_(std::move(compiled)) {}
RequestTemplate::~RequestTemplate() = default;
RequestTemplate::RequestTemplate(RequestTemplate&&) noexcept = default;
RequestTemplate& RequestTemplate::operator=(RequestTemplate&&) noexcept = default;

const std::string& RequestTemplate::constant_bytes() const { return compiled_->constant; }
bool RequestTemplate::has_variables() const {
  return !compiled_->root.leaves.empty() || !compiled_->root.children.empty();
}

absl::StatusOr<RequestTemplate> RequestTemplate::Compile(const pb::Descriptor& type,
                                                         absl::string_view json,
                                                         const TemplateInputs& inputs) {
  nlohmann::json object = nlohmann::json::parse(json, nullptr, /*allow_exceptions=*/false);
  if (object.is_discarded() || !object.is_object()) {
    return absl::InvalidArgumentError(
        absl::StrCat("request template for ", type.full_name(), " is not a JSON object"));
  }
  if (auto checked = CheckUntrustedJson(object); !checked.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("request template for ", type.full_name(), ": ", checked.message()));
  }
  auto compiled = std::make_unique<CompiledTemplate>();
  compiled->data = inputs.data;
  if (auto status = compiled->CompileNode(type, object, compiled->root, ""); !status.ok()) {
    return status;
  }
  for (const auto& [key, value] : inputs.metadata) {
    if (auto status = compiled->CompileHeader(key, value); !status.ok()) return status;
  }
  if (auto status = SerializeJson(type, object, &compiled->constant); !status.ok()) return status;
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
  std::vector<std::string> leaf_text;
  std::vector<uint64_t> leaf_number;
  std::vector<std::string> node_buffer;
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

void AppendDecimal(std::string& out, uint64_t value, bool is_signed) {
  char buf[24];
  const auto [end, ec] = is_signed
                             ? std::to_chars(buf, buf + sizeof buf, static_cast<int64_t>(value))
                             : std::to_chars(buf, buf + sizeof buf, value);
  out.append(buf, end);
}

constexpr char kAlphanumeric[] = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
constexpr char kHex[] = "0123456789abcdef";

// Appends the text of `pieces` to `text`; for a numeric leaf (one numeric
// variable) returns its number instead.
uint64_t RenderPieces(const std::vector<Piece>& pieces, bool numeric, const Position& at,
                      VariableState& vars, std::string& text) {
  uint64_t number = 0;
  for (const Piece& piece : pieces) {
    switch (piece.kind) {
      case PieceKind::kLiteral:
        text += piece.literal;
        break;
      case PieceKind::kSeq:
        number = at.context.sequence;
        break;
      case PieceKind::kStream:
        number = at.context.stream;
        break;
      case PieceKind::kMessage:
        number = at.context.message;
        break;
      case PieceKind::kItem:
        number = at.item;
        break;
      case PieceKind::kRun:
        text += vars.run_id;
        break;
      case PieceKind::kWorker:
        number = vars.worker;
        break;
      case PieceKind::kNowNs:
        number = static_cast<uint64_t>(UnixNanosNow());
        break;
      case PieceKind::kNowMs:
        number = static_cast<uint64_t>(UnixNanosNow() / 1'000'000);
        break;
      case PieceKind::kRandInt:
        number = static_cast<uint64_t>(
            std::uniform_int_distribution<int64_t>(piece.lo, piece.hi)(vars.rng));
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
      case PieceKind::kPick: {
        const size_t choice = vars.rng() % piece.choices.size();
        if (numeric)
          number = static_cast<uint64_t>(piece.numeric_choices[choice]);
        else
          text += piece.choices[choice];
        break;
      }
      case PieceKind::kData:
        if (numeric)
          number = static_cast<uint64_t>(piece.numeric_choices[at.record]);
        else
          text += at.data->Text(at.record, static_cast<int>(piece.lo));
        break;
    }
    if (!numeric && IsNumericPiece(piece.kind) && !IsChoicePiece(piece.kind)) {
      AppendDecimal(text, number, piece.kind == PieceKind::kRandInt);
    }
  }
  return number;
}

}  // namespace

TemplateRequestSource::TemplateRequestSource(const RequestTemplate& request_template,
                                             uint32_t worker, uint64_t seed, std::string run_id)
    : compiled_(*request_template.compiled_), scratch_(std::make_unique<Scratch>()) {
  VariableState& vars = scratch_->vars;
  vars.worker = worker;
  vars.seed = seed;
  vars.run_id = std::move(run_id);
  vars.rng.seed(seed * 0x9E3779B97F4A7C15ULL + worker);
  vars.uuid_rng.seed((static_cast<uint64_t>(std::random_device{}()) << 32) ^
                     std::random_device{}() ^ static_cast<uint64_t>(UnixNanosNow()));
  scratch_->header_values.resize(compiled_.headers.size());
  scratch_->headers.resize(compiled_.headers.size());
  for (size_t i = 0; i < compiled_.headers.size(); ++i) {
    scratch_->headers[i].key = compiled_.headers[i].key;
  }
  scratch_->leaf_text.resize(compiled_.leaf_count);
  scratch_->leaf_number.resize(compiled_.leaf_count);
  scratch_->node_buffer.resize(compiled_.node_count);
  scratch_->out.reserve(compiled_.constant.size() + 256);
  if (compiled_.uses_sha) {
    scratch_->sha256 = EVP_MD_fetch(nullptr, "SHA256", nullptr);
    scratch_->digest = EVP_MD_CTX_new();
  }
}

TemplateRequestSource::~TemplateRequestSource() = default;

std::string_view TemplateRequestSource::Build(const RequestContext& context) {
  Scratch& s = *scratch_;
  const DataFile* data = compiled_.data.get();
  Position at{context, 0, data != nullptr ? data->RecordFor(context.sequence, s.vars.seed) : 0,
              data};
  // Renders every leaf of `node` into `out`, children as nested length-delimited fields.
  const auto render = [&](const Node& node, std::string& out, const auto& self) -> void {
    for (const Leaf& leaf : node.leaves) {
      std::string& text = s.leaf_text[leaf.index];
      text.clear();
      uint64_t number = 0;
      if (leaf.is_sha) {
        unsigned char digest[32];
        unsigned int length = 0;
        EVP_DigestInit_ex(s.digest, s.sha256, nullptr);
        bool first = true;
        for (const ShaInput& input : leaf.sha_inputs) {
          if (!first) EVP_DigestUpdate(s.digest, "\n", 1);
          first = false;
          const std::string& value = input.leaf >= 0 ? s.leaf_text[input.leaf] : input.constant;
          EVP_DigestUpdate(s.digest, value.data(), value.size());
        }
        EVP_DigestFinal_ex(s.digest, digest, &length);
        for (unsigned int i = 0; i < length; ++i) {
          text.push_back(kHex[digest[i] >> 4]);
          text.push_back(kHex[digest[i] & 15]);
        }
      } else {
        number = RenderPieces(leaf.pieces, leaf.numeric, at, s.vars, text);
        if (leaf.numeric) {
          s.leaf_number[leaf.index] = number;
          AppendDecimal(text, number, true);
        }
      }
      const pb::FieldDescriptor& field = *leaf.field;
      switch (field.type()) {
        case pb::FieldDescriptor::TYPE_STRING:
        case pb::FieldDescriptor::TYPE_BYTES:
          PutTag(out, field.number(), 2);
          PutVarint(out, text.size());
          out += text;
          break;
        case pb::FieldDescriptor::TYPE_SINT32:
        case pb::FieldDescriptor::TYPE_SINT64: {
          const auto v = static_cast<int64_t>(number);
          PutTag(out, field.number(), 0);
          PutVarint(out, (static_cast<uint64_t>(v) << 1) ^ static_cast<uint64_t>(v >> 63));
          break;
        }
        case pb::FieldDescriptor::TYPE_FIXED32:
        case pb::FieldDescriptor::TYPE_SFIXED32:
          PutTag(out, field.number(), 5);
          PutFixed(out, number, 4);
          break;
        case pb::FieldDescriptor::TYPE_FIXED64:
        case pb::FieldDescriptor::TYPE_SFIXED64:
          PutTag(out, field.number(), 1);
          PutFixed(out, number, 8);
          break;
        case pb::FieldDescriptor::TYPE_FLOAT: {
          const auto f = static_cast<float>(static_cast<int64_t>(number));
          uint32_t bits;
          std::memcpy(&bits, &f, 4);
          PutTag(out, field.number(), 5);
          PutFixed(out, bits, 4);
          break;
        }
        case pb::FieldDescriptor::TYPE_DOUBLE: {
          const auto d = static_cast<double>(static_cast<int64_t>(number));
          uint64_t bits;
          std::memcpy(&bits, &d, 8);
          PutTag(out, field.number(), 1);
          PutFixed(out, bits, 8);
          break;
        }
        default:  // int32/64, uint32/64, bool, enum
          PutTag(out, field.number(), 0);
          PutVarint(out, number);
          break;
      }
    }
    for (const Node& child : node.children) {
      std::string& buffer = s.node_buffer[child.index];
      const uint64_t outer_item = at.item;
      for (int i = 0; i < std::max(child.repeat, 1); ++i) {
        if (child.repeat > 0) at.item = static_cast<uint64_t>(i);
        buffer.assign(child.constant);
        self(child, buffer, self);
        PutTag(out, child.field->number(), 2);
        PutVarint(out, buffer.size());
        out += buffer;
      }
      at.item = outer_item;
    }
  };
  s.out.assign(compiled_.constant);
  render(compiled_.root, s.out, render);
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
    RenderPieces(compiled_.headers[i].pieces, /*numeric=*/false, at, s.vars, value);
    s.headers[i].value = value;
  }
  return s.headers;
}

}  // namespace aurigraph::loadgen
