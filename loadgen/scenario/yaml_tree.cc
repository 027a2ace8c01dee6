#include "loadgen/scenario/yaml_tree.h"

#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "common/input/utf8.h"

namespace aurigraph::loadgen::scenario_yaml {

nlohmann::json ToJson(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Map: {
      nlohmann::json object = nlohmann::json::object();
      for (const auto& entry : node) object[entry.first.as<std::string>()] = ToJson(entry.second);
      return object;
    }
    case YAML::NodeType::Sequence: {
      nlohmann::json array = nlohmann::json::array();
      for (const auto& item : node) array.push_back(ToJson(item));
      return array;
    }
    case YAML::NodeType::Scalar: {
      const std::string text = node.Scalar();
      if (node.Tag() == "!") return text;
      if (text == "true" || text == "false") return text == "true";
      if (text == "null" || text == "~") return nullptr;
      int64_t i = 0;
      if (YAML::convert<int64_t>::decode(node, i) &&
          text.find_first_of(".eE") == std::string::npos) {
        return i;
      }
      double d = 0;
      if (YAML::convert<double>::decode(node, d) && !text.empty() &&
          (std::isdigit(static_cast<unsigned char>(text[0])) || text[0] == '-')) {
        return d;
      }
      return text;
    }
    default:
      return nullptr;
  }
}

absl::Status CheckTree(const YAML::Node& node, const std::string& where, int depth,
                       const std::string& source, int64_t* values) {
  if (++*values > kMaxScenarioValues) {
    return absl::InvalidArgumentError(absl::StrCat(source, ": more than ", kMaxScenarioValues,
                                                   " values (YAML aliases counted as expanded)"));
  }
  if (depth > kMaxScenarioDepth) {
    return absl::InvalidArgumentError(absl::StrCat(source, ": ", where, ": nested more than ",
                                                   kMaxScenarioDepth, " levels deep"));
  }
  const auto check_text = [&](const std::string& text, const std::string& what) {
    const size_t bad = FirstInvalidUtf8(text);
    if (bad == text.size()) return absl::OkStatus();
    return absl::InvalidArgumentError(
        absl::StrCat(source, ": ", what, ": not valid UTF-8 (at byte ", bad, ")"));
  };
  switch (node.Type()) {
    case YAML::NodeType::Scalar:
      return check_text(node.Scalar(), where);
    case YAML::NodeType::Sequence: {
      size_t index = 0;
      for (const auto& item : node) {
        const std::string at =
            where.empty() ? absl::StrCat(index) : absl::StrCat(where, ".", index);
        if (auto status = CheckTree(item, at, depth + 1, source, values); !status.ok()) {
          return status;
        }
        ++index;
      }
      return absl::OkStatus();
    }
    case YAML::NodeType::Map:
      for (const auto& entry : node) {
        // A key that is not a scalar is refused later, as a key of the wrong type.
        const std::string key = entry.first.IsScalar() ? entry.first.Scalar() : "?";
        if (auto status = check_text(key, where.empty() ? "a key" : "a key in " + where);
            !status.ok()) {
          return status;
        }
        const std::string at = where.empty() ? key : absl::StrCat(where, ".", key);
        if (auto status = CheckTree(entry.second, at, depth + 1, source, values); !status.ok()) {
          return status;
        }
      }
      return absl::OkStatus();
    default:
      return absl::OkStatus();
  }
}

absl::Status ApplyOverride(YAML::Node root, const std::string& assignment,
                           const std::string& source) {
  const size_t eq = assignment.find('=');
  if (eq == std::string::npos || eq == 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("--set ", assignment, ": expected key=value, e.g. --set duration=5s"));
  }
  const std::string key = assignment.substr(0, eq);
  YAML::Node value;
  try {
    value = YAML::Load(assignment.substr(eq + 1));
  } catch (const YAML::Exception& e) {
    return absl::InvalidArgumentError(absl::StrCat("--set ", key, ": ", e.msg));
  }
  std::vector<std::string> parts = absl::StrSplit(key, '.');
  YAML::Node node = root;
  for (size_t i = 0; i < parts.size(); ++i) {
    const std::string& part = parts[i];
    const bool last = i + 1 == parts.size();
    if (node.IsScalar()) {  // (the root is a mapping, so i > 0)
      return absl::InvalidArgumentError(
          absl::StrCat("--set ", key, ": '", parts[i - 1], "' is not a mapping in ", source));
    }
    if (node.IsSequence()) {
      size_t index = 0;
      if (!absl::SimpleAtoi(part, &index) || index >= node.size()) {
        return absl::InvalidArgumentError(
            absl::StrCat("--set ", key, ": '", part, "' is not an index of ", source));
      }
      if (last) {
        node[index] = value;
      } else {
        node.reset(node[index]);
      }
      continue;
    }
    if (last) {
      node[part] = value;
    } else {
      YAML::Node next = node[part];
      if (!next.IsDefined() || next.IsNull()) {
        node[part] = YAML::Node(YAML::NodeType::Map);
        next = node[part];
      }
      node.reset(next);
    }
  }
  return absl::OkStatus();
}

}  // namespace aurigraph::loadgen::scenario_yaml
