// The YAML side of scenario parsing: a scenario tree checked before it is
// trusted (UTF-8, size, nesting), read with errors that name the file and the
// key, changed by --set overrides, and turned into JSON for the result. Used
// only by scenario.cc; kept apart so the scenario's own rules read on their own.
#pragma once

#include <yaml-cpp/yaml.h>

#include <cmath>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <type_traits>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "common/units/units.h"

namespace aurigraph::loadgen::scenario_yaml {

// The most values a scenario may hold, counting every use of a YAML alias
// (aliases can nest, so a few lines could otherwise expand to billions), and
// how deep they may nest (an alias inside its own anchor makes a cycle).
constexpr int64_t kMaxScenarioValues = 100'000;
constexpr int kMaxScenarioDepth = 100;

// Plain scalars get their natural JSON type; quoted ones stay strings.
nlohmann::json ToJson(const YAML::Node& node);

// Checks what the YAML parser does not: every key and scalar is UTF-8 (results
// and interval logs carry them as JSON), and the tree, aliases expanded, is of
// a sane size. `where` is the dotted path of `node`, `depth` its nesting.
absl::Status CheckTree(const YAML::Node& node, const std::string& where, int depth,
                       const std::string& source, int64_t* values);

// Sets KEY (dotted, list indexes as numbers) of `root` to VALUE (YAML) from
// "KEY=VALUE"; the error names the key and `source`.
absl::Status ApplyOverride(YAML::Node root, const std::string& assignment,
                           const std::string& source);

// Reads typed values from a scenario tree; every error names the file and key.
class Reader {
 public:
  explicit Reader(std::string source) : source_(std::move(source)) {}

  absl::Status CheckKeys(const YAML::Node& map, const std::string& where,
                         const std::set<std::string>& allowed) const {
    if (!map.IsMap()) return Error(where, "must be a mapping");
    for (const auto& entry : map) {
      const std::string key = entry.first.as<std::string>();
      if (allowed.count(key) == 0) {
        return Error(where.empty() ? key : absl::StrCat(where, ".", key), "unknown key");
      }
    }
    return absl::OkStatus();
  }

  absl::Status Error(const std::string& where, const std::string& what) const {
    return absl::InvalidArgumentError(absl::StrCat(source_, ": ", where, ": ", what));
  }

  template <typename T>
  absl::Status Number(const YAML::Node& node, const std::string& where, T* out, T min) const {
    T value{};
    if (!node.IsScalar() || !YAML::convert<T>::decode(node, value)) {
      return Error(where, absl::StrCat("expected a number, got '", Dump(node), "'"));
    }
    // NaN compares false with every bound, and infinity passes a lower one.
    if constexpr (std::is_floating_point_v<T>) {
      if (!std::isfinite(value)) return Error(where, "expected a finite number");
    }
    if (value < min) return Error(where, absl::StrCat("must be >= ", min));
    *out = value;
    return absl::OkStatus();
  }

  absl::Status Duration(const YAML::Node& node, const std::string& where, int64_t* out) const {
    if (!node.IsScalar()) return Error(where, "expected a duration such as 10s");
    auto nanos = ParseDuration(node.Scalar());
    if (!nanos.ok()) return Error(where, std::string(nanos.status().message()));
    *out = *nanos;
    return absl::OkStatus();
  }

  absl::Status String(const YAML::Node& node, const std::string& where, std::string* out) const {
    if (!node.IsScalar()) return Error(where, "expected a string");
    *out = node.Scalar();
    return absl::OkStatus();
  }

  // A string, or a list of strings.
  absl::Status Strings(const YAML::Node& node, const std::string& where,
                       std::vector<std::string>* out) const {
    if (node.IsScalar()) {
      out->push_back(node.Scalar());
      return absl::OkStatus();
    }
    if (!node.IsSequence()) return Error(where, "expected a string or a list of strings");
    for (size_t i = 0; i < node.size(); ++i) {
      std::string value;
      if (auto status = String(node[i], absl::StrCat(where, ".", i), &value); !status.ok()) {
        return status;
      }
      out->push_back(std::move(value));
    }
    return absl::OkStatus();
  }

  static std::string Dump(const YAML::Node& node) {
    YAML::Emitter emitter;
    emitter << YAML::Flow << node;
    return emitter.c_str();
  }

 private:
  std::string source_;
};

}  // namespace aurigraph::loadgen::scenario_yaml
