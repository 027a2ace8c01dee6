#include "loadgen/payload/message_fields.h"

#include <google/protobuf/descriptor.h>

#include <charconv>
#include <tuple>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "loadgen/payload/value_errors.h"
#include "loadgen/payload/wire.h"

namespace aurigraph::loadgen {
namespace {

namespace pb = google::protobuf;

using wire::ReadVarint;

// Calls `visit(payload, wire_type)` for every occurrence of field `number` at
// the top level of `message`, in order: the varint/fixed bytes, or the
// length-delimited contents. False when the message is malformed.
template <typename Visit>
bool ForEachField(std::string_view message, int number, Visit&& visit) {
  while (!message.empty()) {
    uint64_t tag = 0;
    if (!ReadVarint(message, &tag)) return false;
    const int type = static_cast<int>(tag & 7);
    const auto field = static_cast<int>(tag >> 3);
    const char* start = message.data();
    size_t size = 0;
    switch (type) {
      case 0: {
        uint64_t ignored;
        if (!ReadVarint(message, &ignored)) return false;
        size = static_cast<size_t>(message.data() - start);
        break;
      }
      case 1:
        size = 8;
        break;
      case 5:
        size = 4;
        break;
      case 2: {
        uint64_t length = 0;
        if (!ReadVarint(message, &length) || length > message.size()) return false;
        start = message.data();
        size = static_cast<size_t>(length);
        break;
      }
      default:
        return false;  // groups are not used by proto3
    }
    if (type != 0) {
      if (size > static_cast<size_t>(message.data() + message.size() - start)) return false;
      message = std::string_view(start + size, message.data() + message.size() - (start + size));
    }
    if (field == number) visit(std::string_view(start, size), type);
  }
  return true;
}

// The last occurrence of field `number` (see ForEachField); a null view when
// there is none or the message is malformed.
std::string_view FindField(std::string_view message, int number, int* wire_type) {
  std::string_view found(nullptr, 0);
  const bool well_formed = ForEachField(message, number, [&](std::string_view payload, int type) {
    found = payload;
    *wire_type = type;
  });
  return well_formed ? found : std::string_view(nullptr, 0);
}

// A string or bytes value as a 64-bit key (FNV-1a).
uint64_t HashKey(std::string_view bytes) {
  uint64_t hash = 0xcbf29ce484222325ULL;
  for (const char c : bytes) {
    hash ^= static_cast<uint8_t>(c);
    hash *= 0x100000001b3ULL;
  }
  return hash;
}

}  // namespace

absl::StatusOr<FieldPath> FieldPath::Resolve(const pb::Descriptor& type, absl::string_view path) {
  FieldPath resolved;
  const pb::Descriptor* current = &type;
  const std::vector<absl::string_view> parts = absl::StrSplit(path, '.');
  for (size_t i = 0; i < parts.size(); ++i) {
    const std::string name(parts[i]);
    const pb::FieldDescriptor* field = current->FindFieldByName(name);
    if (field == nullptr) field = current->FindFieldByCamelcaseName(name);
    if (field == nullptr) {
      return absl::InvalidArgumentError(
          absl::StrCat("field path '", path, "': no field '", name, "' in ", current->full_name()));
    }
    if (field->is_repeated()) {
      return absl::InvalidArgumentError(
          absl::StrCat("field path '", path, "': '", name, "' is repeated"));
    }
    resolved.numbers_.push_back(field->number());
    const bool last = i + 1 == parts.size();
    if (!last) {
      if (field->type() != pb::FieldDescriptor::TYPE_MESSAGE) {
        return absl::InvalidArgumentError(
            absl::StrCat("field path '", path, "': '", name, "' is not a message"));
      }
      current = field->message_type();
      continue;
    }
    if (field->type() == pb::FieldDescriptor::TYPE_MESSAGE) {
      return absl::InvalidArgumentError(
          absl::StrCat("field path '", path, "' ends at a message, not a value"));
    }
    resolved.zigzag_ = field->type() == pb::FieldDescriptor::TYPE_SINT32 ||
                       field->type() == pb::FieldDescriptor::TYPE_SINT64;
    resolved.length_delimited_ = field->type() == pb::FieldDescriptor::TYPE_STRING ||
                                 field->type() == pb::FieldDescriptor::TYPE_BYTES;
    if (field->type() == pb::FieldDescriptor::TYPE_ENUM) resolved.enum_type_ = field->enum_type();
  }
  return resolved;
}

std::string_view FieldPath::Locate(std::string_view message, int* wire_type) const {
  for (size_t i = 0; i < numbers_.size(); ++i) {
    message = FindField(message, numbers_[i], wire_type);
    if (message.data() == nullptr) return message;
    if (i + 1 < numbers_.size() && *wire_type != 2) return std::string_view(nullptr, 0);
  }
  return message;
}

std::optional<int64_t> FieldPath::ReadInt(std::string_view message) const {
  int wire_type = -1;
  std::string_view payload = Locate(message, &wire_type);
  if (payload.data() == nullptr) return std::nullopt;
  uint64_t value = 0;
  if (wire_type == 0) {
    if (!ReadVarint(payload, &value)) return std::nullopt;
    if (zigzag_) return static_cast<int64_t>((value >> 1) ^ (~(value & 1) + 1));
    return static_cast<int64_t>(value);
  }
  if (wire_type == 1 || wire_type == 5) {
    for (size_t i = payload.size(); i > 0; --i) {
      value = (value << 8) | static_cast<uint8_t>(payload[i - 1]);
    }
    if (wire_type == 5) return static_cast<int64_t>(static_cast<int32_t>(value));
    return static_cast<int64_t>(value);
  }
  return std::nullopt;
}

uint64_t FieldPath::ReadKey(std::string_view message) const {
  // proto3 leaves a field at its default (0, "") off the wire: absent reads as the default.
  if (!length_delimited_) return static_cast<uint64_t>(ReadInt(message).value_or(0));
  int wire_type = -1;
  std::string_view payload = Locate(message, &wire_type);
  if (payload.data() == nullptr || wire_type != 2) payload = {};
  return HashKey(payload);
}

absl::StatusOr<int64_t> FieldPath::ValueOf(absl::string_view text) const {
  if (enum_type_ != nullptr) {
    const auto* value =
        static_cast<const pb::EnumDescriptor*>(enum_type_)->FindValueByName(std::string(text));
    if (value != nullptr) return value->number();
  }
  int64_t number = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), number);
  if (ec != std::errc() || end != text.data() + text.size()) {
    if (enum_type_ != nullptr) {
      return NotAnEnumValue(text, *static_cast<const pb::EnumDescriptor*>(enum_type_), "");
    }
    return absl::InvalidArgumentError(absl::StrCat("'", text, "' is not a value of this field"));
  }
  return number;
}

namespace {

class FieldInspector final : public MessageInspector {
 public:
  std::optional<FieldPath> request_key, response_key, timestamp, status, phase_from, phase_when;
  int64_t phase_equals = 0;

  std::optional<uint64_t> RequestKey(std::string_view request) const override {
    if (!request_key) return std::nullopt;
    return request_key->ReadKey(request);
  }
  Reading Inspect(std::string_view response) const override {
    Reading reading;
    if (response_key) reading.key = response_key->ReadKey(response);
    if (timestamp) reading.sent_at_unix_nanos = timestamp->ReadInt(response);
    if (status) {
      // proto3 omits a zero: an absent code is OK.
      reading.status_code = static_cast<int>(status->ReadInt(response).value_or(0));
    }
    if (phase_from && phase_when && phase_when->ReadInt(response).value_or(0) == phase_equals) {
      reading.phase_start_unix_nanos = phase_from->ReadInt(response);
    }
    return reading;
  }
};

class FieldCounter final : public ResponseCounter {
 public:
  explicit FieldCounter(FieldPath field) : field_(std::move(field)) {}
  int64_t Count(std::string_view response) const override {
    return field_.ReadInt(response).value_or(0);
  }

 private:
  FieldPath field_;
};

absl::Status ResolveInto(const pb::Descriptor& type, const std::string& path, const char* what,
                         std::optional<FieldPath>* out) {
  if (path.empty()) return absl::OkStatus();
  auto resolved = FieldPath::Resolve(type, path);
  if (!resolved.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(what, ": ", resolved.status().message()));
  }
  *out = *std::move(resolved);
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::unique_ptr<MessageInspector>> CompileInspector(const pb::Descriptor& request,
                                                                   const pb::Descriptor& response,
                                                                   const InspectorSpec& spec) {
  auto inspector = std::make_unique<FieldInspector>();
  if (spec.request_key.empty() != spec.response_key.empty()) {
    return absl::InvalidArgumentError("match needs both a request and a response field");
  }
  if (spec.phase_from.empty() != spec.phase_when.empty()) {
    return absl::InvalidArgumentError("phase needs both 'from' and 'when'");
  }
  for (auto [type, path, what, out] :
       {std::tuple{&request, &spec.request_key, "match.request", &inspector->request_key},
        std::tuple{&response, &spec.response_key, "match.response", &inspector->response_key},
        std::tuple{&response, &spec.timestamp, "timestamp_field", &inspector->timestamp},
        std::tuple{&response, &spec.status, "status_field", &inspector->status},
        std::tuple{&response, &spec.phase_from, "phase.from", &inspector->phase_from},
        std::tuple{&response, &spec.phase_when, "phase.when", &inspector->phase_when}}) {
    if (auto status = ResolveInto(*type, *path, what, out); !status.ok()) return status;
  }
  if (inspector->phase_when) {
    auto value = inspector->phase_when->ValueOf(spec.phase_equals);
    if (!value.ok()) {
      return absl::InvalidArgumentError(absl::StrCat("phase.equals: ", value.status().message()));
    }
    inspector->phase_equals = *value;
  }
  return std::unique_ptr<MessageInspector>(std::move(inspector));
}

namespace {

// Keys through repeated messages: `hops` lead, every occurrence of a repeated
// one and the last of a singular one, to the messages `leaf` is read in.
class FieldKeyReader final : public KeyReader {
 public:
  struct Hop {
    int number = 0;
    bool repeated = false;
  };
  FieldKeyReader(std::vector<Hop> hops, FieldPath leaf)
      : hops_(std::move(hops)), leaf_(std::move(leaf)) {}

  void ReadKeys(std::string_view message, std::vector<uint64_t>* keys) const override {
    Walk(message, 0, keys);
  }

 private:
  void Walk(std::string_view message, size_t hop, std::vector<uint64_t>* keys) const {
    if (hop == hops_.size()) {
      keys->push_back(leaf_.ReadKey(message));
      return;
    }
    if (hops_[hop].repeated) {
      // A message damaged past some elements gives none of them, as a singular hop does.
      const size_t before = keys->size();
      const bool well_formed =
          ForEachField(message, hops_[hop].number, [&](std::string_view element, int wire_type) {
            if (wire_type == 2) Walk(element, hop + 1, keys);
          });
      if (!well_formed) keys->resize(before);
      return;
    }
    int wire_type = -1;
    const std::string_view inner = FindField(message, hops_[hop].number, &wire_type);
    if (inner.data() != nullptr && wire_type == 2) Walk(inner, hop + 1, keys);
  }

  std::vector<Hop> hops_;
  FieldPath leaf_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<KeyReader>> CompileKeyReader(const pb::Descriptor& type,
                                                            absl::string_view path) {
  // The hops end at the last repeated message on the path; the rest is a FieldPath.
  const std::vector<absl::string_view> parts = absl::StrSplit(path, '.');
  std::vector<FieldKeyReader::Hop> hops;
  size_t leaf_from = 0;
  const pb::Descriptor* current = &type;
  const pb::Descriptor* leaf_type = &type;
  for (size_t i = 0; i + 1 < parts.size(); ++i) {
    const std::string name(parts[i]);
    const pb::FieldDescriptor* field = current->FindFieldByName(name);
    if (field == nullptr) field = current->FindFieldByCamelcaseName(name);
    if (field == nullptr || field->type() != pb::FieldDescriptor::TYPE_MESSAGE) break;
    hops.push_back({field->number(), field->is_repeated()});
    current = field->message_type();
    if (field->is_repeated()) {
      leaf_from = i + 1;
      leaf_type = current;
    }
  }
  hops.resize(leaf_from);
  const std::string leaf_path = absl::StrJoin(parts.begin() + leaf_from, parts.end(), ".");
  auto leaf = FieldPath::Resolve(*leaf_type, leaf_path);
  if (!leaf.ok()) {
    // Named by the whole path, not the part after the repeated message.
    absl::string_view why = leaf.status().message();
    absl::ConsumePrefix(&why, absl::StrCat("field path '", leaf_path, "': "));
    return absl::InvalidArgumentError(absl::StrCat("field path '", path, "': ", why));
  }
  return std::unique_ptr<KeyReader>(
      std::make_unique<FieldKeyReader>(std::move(hops), *std::move(leaf)));
}

absl::StatusOr<std::unique_ptr<ResponseCounter>> CompileResponseCounter(
    const pb::Descriptor& response, absl::string_view field) {
  auto resolved = FieldPath::Resolve(response, field);
  if (!resolved.ok()) return resolved.status();
  return std::unique_ptr<ResponseCounter>(std::make_unique<FieldCounter>(*std::move(resolved)));
}

}  // namespace aurigraph::loadgen
