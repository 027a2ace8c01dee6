#include "loadgen/payload/json_inspector.h"

#include <array>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/hash/hash.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/status_codes/status_codes.h"

namespace aurigraph::loadgen {
namespace {

using Json = nlohmann::json;
using MemberPath = std::vector<std::string>;

// A scalar found at a member path, as the message wrote it.
struct Scalar {
  enum class Kind { kAbsent, kInteger, kString, kOther };
  Kind kind = Kind::kAbsent;
  int64_t integer = 0;
  std::string text;  // a string's content; a scalar's JSON text, but an integer's (see TextOf)
};

// The deepest member path an inspector reads.
constexpr size_t kMaxDepth = 64;

// The fields an inspector reads, in this order.
enum Field { kRequestKey, kResponseKey, kTimestamp, kStatus, kPhaseFrom, kPhaseWhen, kFields };

// Reads the scalars at the wanted member paths in one pass over the text,
// building no document, and stops once it has them all.
class FieldFinder final : public nlohmann::json_sax<Json> {
 public:
  using Paths = std::array<std::optional<MemberPath>, kFields>;

  // False when the text turns out not to be JSON before every path is found.
  bool Find(const Paths& paths, std::string_view text, std::array<Scalar, kFields>& found) {
    paths_ = &paths;
    found_ = &found;
    for (Scalar& scalar : found) scalar.kind = Scalar::Kind::kAbsent;
    wanted_ = 0;
    for (const auto& path : paths) wanted_ += path ? 1 : 0;
    depth_ = 0;
    malformed_ = false;
    if (wanted_ == 0) return true;
    Json::sax_parse(text.begin(), text.end(), this, nlohmann::detail::input_format_t::json,
                    /*strict=*/true);
    return !malformed_;
  }

  bool null() override { return Other("null"); }
  bool boolean(bool value) override { return Other(value ? "true" : "false"); }
  bool number_integer(number_integer_t value) override { return Integer(value); }
  bool number_unsigned(number_unsigned_t value) override {
    return Integer(static_cast<int64_t>(value));
  }
  bool number_float(number_float_t, const string_t& text) override { return Other(text); }
  bool string(string_t& value) override {
    return Store([&](Scalar& scalar) {
      scalar.kind = Scalar::Kind::kString;
      scalar.text.assign(value);
    });
  }
  bool binary(binary_t&) override { return Other(""); }
  bool start_object(std::size_t) override { return Enter(false); }
  bool key(string_t& name) override {
    if (depth_ <= kMaxDepth) keys_[depth_ - 1].assign(name);
    return true;
  }
  bool end_object() override { return Leave(); }
  bool start_array(std::size_t) override { return Enter(true); }
  bool end_array() override { return Leave(); }
  bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception&) override {
    malformed_ = true;
    return false;
  }

 private:
  // Levels past kMaxDepth are counted, not kept: no wanted path is that deep
  // (SplitInto refuses one), and what follows them is still read.
  bool Enter(bool array) {
    if (depth_ < kMaxDepth) {
      keys_[depth_].clear();
      in_array_[depth_] = array;
    }
    ++depth_;
    return true;
  }
  bool Leave() {
    --depth_;
    return true;
  }
  // Whether the value just read sits at `path`: every level an object member.
  bool At(const MemberPath& path) const {
    if (path.size() != depth_ || depth_ > kMaxDepth) return false;
    for (size_t i = 0; i < depth_; ++i) {
      if (in_array_[i] || keys_[i] != path[i]) return false;
    }
    return true;
  }
  template <typename Set>
  bool Store(Set set) {
    const Paths& paths = *paths_;
    for (size_t f = 0; f < kFields; ++f) {
      if (!paths[f] || (*found_)[f].kind != Scalar::Kind::kAbsent || !At(*paths[f])) continue;
      set((*found_)[f]);
      if (--wanted_ == 0) return false;  // all found: stop reading
    }
    return true;
  }
  bool Integer(int64_t value) {
    return Store([&](Scalar& scalar) {
      scalar.kind = Scalar::Kind::kInteger;
      scalar.integer = value;
    });
  }
  bool Other(std::string_view text) {
    return Store([&](Scalar& scalar) {
      scalar.kind = Scalar::Kind::kOther;
      scalar.text.assign(text);
    });
  }

  const Paths* paths_ = nullptr;
  std::array<Scalar, kFields>* found_ = nullptr;
  std::array<std::string, kMaxDepth> keys_;
  std::array<bool, kMaxDepth> in_array_{};
  size_t depth_ = 0;
  int wanted_ = 0;
  bool malformed_ = false;
};

std::optional<uint64_t> KeyOf(const Scalar& value) {
  switch (value.kind) {
    case Scalar::Kind::kInteger:
      return static_cast<uint64_t>(value.integer);
    case Scalar::Kind::kString:
      return absl::Hash<std::string_view>{}(value.text);
    default:
      return std::nullopt;
  }
}

std::optional<int64_t> IntegerOf(const Scalar& value) {
  if (value.kind == Scalar::Kind::kInteger) return value.integer;
  int64_t number = 0;
  if (value.kind == Scalar::Kind::kString && absl::SimpleAtoi(value.text, &number)) return number;
  return std::nullopt;
}

// The scalar as text, for comparison: an integer's is made only when asked,
// not for every timestamp read.
std::string TextOf(const Scalar& value) {
  return value.kind == Scalar::Kind::kInteger ? std::to_string(value.integer) : value.text;
}

std::optional<int> StatusOf(const Scalar& value) {
  if (value.kind == Scalar::Kind::kInteger) {
    return value.integer >= 0 && value.integer < kStatusCodeCount ? static_cast<int>(value.integer)
                                                                  : status_code::kUnknown;
  }
  if (value.kind != Scalar::Kind::kString) return std::nullopt;
  auto code = ParseStatusCode(value.text);
  return code.ok() ? *code : status_code::kUnknown;
}

class JsonInspector final : public MessageInspector {
 public:
  FieldFinder::Paths request_paths;   // the request key's only
  FieldFinder::Paths response_paths;  // the others
  std::string phase_equals;

  std::optional<uint64_t> RequestKey(std::string_view request) const override {
    if (!request_paths[kRequestKey]) return std::nullopt;
    return KeyOf(Read(request_paths, request)[kRequestKey]);
  }
  Reading Inspect(std::string_view response) const override {
    const std::array<Scalar, kFields>& found = Read(response_paths, response);
    Reading reading;
    reading.key = KeyOf(found[kResponseKey]);
    reading.sent_at_unix_nanos = IntegerOf(found[kTimestamp]);
    reading.status_code = StatusOf(found[kStatus]);
    if (found[kPhaseWhen].kind != Scalar::Kind::kAbsent &&
        TextOf(found[kPhaseWhen]) == phase_equals) {
      reading.phase_start_unix_nanos = IntegerOf(found[kPhaseFrom]);
    }
    return reading;
  }

 private:
  // Workers share an inspector: each thread reads into buffers of its own,
  // reused from message to message. A message that is not JSON reads as nothing.
  static const std::array<Scalar, kFields>& Read(const FieldFinder::Paths& wanted,
                                                 std::string_view text) {
    thread_local FieldFinder finder;
    thread_local std::array<Scalar, kFields> found;
    if (!finder.Find(wanted, text, found)) {
      for (Scalar& scalar : found) scalar.kind = Scalar::Kind::kAbsent;
    }
    return found;
  }
};

absl::Status SplitInto(const std::string& path, const char* what, std::optional<MemberPath>* out) {
  if (path.empty()) return absl::OkStatus();
  MemberPath names = absl::StrSplit(path, '.');
  if (names.size() > kMaxDepth) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, ": '", path, "' is deeper than ", kMaxDepth, " members"));
  }
  for (const std::string& name : names) {
    if (name.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat(what, ": '", path, "' has an empty member name"));
    }
  }
  *out = std::move(names);
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::unique_ptr<MessageInspector>> CompileJsonInspector(const InspectorSpec& spec) {
  auto inspector = std::make_unique<JsonInspector>();
  if (spec.request_key.empty() != spec.response_key.empty()) {
    return absl::InvalidArgumentError("match needs both a request and a response field");
  }
  if (spec.phase_from.empty() != spec.phase_when.empty()) {
    return absl::InvalidArgumentError("phase needs both 'from' and 'when'");
  }
  for (auto [path, what, field] : {std::tuple{&spec.request_key, "match.request", kRequestKey},
                                   std::tuple{&spec.response_key, "match.response", kResponseKey},
                                   std::tuple{&spec.timestamp, "timestamp_field", kTimestamp},
                                   std::tuple{&spec.status, "status_field", kStatus},
                                   std::tuple{&spec.phase_from, "phase.from", kPhaseFrom},
                                   std::tuple{&spec.phase_when, "phase.when", kPhaseWhen}}) {
    FieldFinder::Paths& paths =
        field == kRequestKey ? inspector->request_paths : inspector->response_paths;
    if (auto status = SplitInto(*path, what, &paths[field]); !status.ok()) return status;
  }
  inspector->phase_equals = spec.phase_equals;
  return std::unique_ptr<MessageInspector>(std::move(inspector));
}

}  // namespace aurigraph::loadgen
