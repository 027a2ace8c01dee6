#include "loadgen/servermetrics/prometheus_histogram.h"

#include <cmath>
#include <cstdlib>
#include <limits>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace aurigraph::loadgen {
namespace {

// A line as an error message quotes it: the start of it.
std::string Quoted(absl::string_view line) {
  constexpr size_t kShown = 120;
  return absl::StrCat("'", line.substr(0, kShown), line.size() > kShown ? "...'" : "'");
}

struct Sample {
  std::string name;
  std::map<std::string, std::string> labels;
  double value = 0;
};

// A float as the format writes it: a Go ParseFloat number, or +Inf, -Inf, NaN.
bool ParseValue(absl::string_view text, double* out) {
  if (text == "+Inf" || text == "Inf") {
    *out = std::numeric_limits<double>::infinity();
    return true;
  }
  if (text == "-Inf") {
    *out = -std::numeric_limits<double>::infinity();
    return true;
  }
  if (text == "NaN") {
    *out = std::numeric_limits<double>::quiet_NaN();
    return true;
  }
  const std::string copy(text);
  char* end = nullptr;
  *out = std::strtod(copy.c_str(), &end);
  return !copy.empty() && end == copy.c_str() + copy.size();
}

// `name{label="value",...} value [timestamp]`; a label value escapes \\, \" and \n.
absl::StatusOr<Sample> ParseSample(absl::string_view line) {
  Sample sample;
  size_t i = 0;
  while (i < line.size() && line[i] != '{' && line[i] != ' ' && line[i] != '\t') ++i;
  sample.name = std::string(line.substr(0, i));
  if (sample.name.empty()) return absl::InvalidArgumentError("a sample without a name");
  if (i < line.size() && line[i] == '{') {
    ++i;
    while (true) {
      while (i < line.size() && (line[i] == ' ' || line[i] == ',')) ++i;
      if (i < line.size() && line[i] == '}') {
        ++i;
        break;
      }
      const size_t eq = line.find('=', i);
      if (eq == absl::string_view::npos || eq + 1 >= line.size() || line[eq + 1] != '"') {
        return absl::InvalidArgumentError(absl::StrCat("a bad label in ", Quoted(line)));
      }
      std::string label(absl::StripAsciiWhitespace(line.substr(i, eq - i)));
      std::string value;
      i = eq + 2;
      bool closed = false;
      for (; i < line.size(); ++i) {
        if (line[i] == '\\' && i + 1 < line.size()) {
          ++i;
          value.push_back(line[i] == 'n' ? '\n' : line[i]);
        } else if (line[i] == '"') {
          closed = true;
          ++i;
          break;
        } else {
          value.push_back(line[i]);
        }
      }
      if (!closed)
        return absl::InvalidArgumentError(
            absl::StrCat("an unclosed label value in ", Quoted(line)));
      sample.labels[std::move(label)] = std::move(value);
    }
  }
  std::vector<absl::string_view> rest =
      absl::StrSplit(line.substr(i), absl::ByAnyChar(" \t"), absl::SkipEmpty());
  if (rest.empty() || rest.size() > 2 || !ParseValue(rest[0], &sample.value)) {
    return absl::InvalidArgumentError(absl::StrCat("no value in ", Quoted(line)));
  }
  return sample;
}

bool HasLabels(const std::map<std::string, std::string>& series,
               const std::map<std::string, std::string>& wanted) {
  for (const auto& [label, value] : wanted) {
    const auto it = series.find(label);
    if (it == series.end() || it->second != value) return false;
  }
  return true;
}

}  // namespace

absl::StatusOr<HistogramReading> ReadHistogram(absl::string_view exposition,
                                               const std::string& metric,
                                               const std::map<std::string, std::string>& labels) {
  // Series by their labels without le: each is one histogram.
  std::map<std::map<std::string, std::string>, HistogramReading> series;
  for (absl::string_view line : absl::StrSplit(exposition, '\n')) {
    line = absl::StripAsciiWhitespace(line);
    if (line.empty() || line[0] == '#') continue;
    if (!absl::StartsWith(line, metric)) continue;
    auto sample = ParseSample(line);
    if (!sample.ok()) return sample.status();
    absl::string_view suffix = sample->name;
    if (!absl::ConsumePrefix(&suffix, metric)) continue;
    if (suffix != "_bucket" && suffix != "_count" && suffix != "_sum") continue;
    std::map<std::string, std::string> key = sample->labels;
    std::string le;
    if (suffix == "_bucket") {
      const auto it = key.find("le");
      if (it == key.end()) {
        return absl::InvalidArgumentError(absl::StrCat(sample->name, " without an le label"));
      }
      le = it->second;
      key.erase(it);
    }
    if (!HasLabels(key, labels)) continue;
    // A NaN or an infinity (which result.json could not hold), or a negative
    // count, is no histogram this can read.
    if (!std::isfinite(sample->value) || (suffix != "_sum" && sample->value < 0)) {
      return absl::InvalidArgumentError(
          absl::StrCat(sample->name, " has the value ", sample->value, ": not a count"));
    }
    HistogramReading& reading = series[key];
    if (suffix == "_bucket") {
      double bound = 0;
      if (!ParseValue(le, &bound) || std::isnan(bound)) {
        return absl::InvalidArgumentError(
            absl::StrCat(sample->name, ": le=\"", le, "\" is not a bound"));
      }
      reading.cumulative[bound] = sample->value;
    } else if (suffix == "_count") {
      reading.count = sample->value;
    } else {
      reading.sum = sample->value;
    }
  }
  if (series.empty()) {
    std::string wanted;
    for (const auto& [label, value] : labels) {
      absl::StrAppend(&wanted, wanted.empty() ? "" : ",", label, "=\"", value, "\"");
    }
    return absl::NotFoundError(absl::StrCat("no histogram ", metric,
                                            wanted.empty() ? "" : absl::StrCat("{", wanted, "}")));
  }
  HistogramReading total;
  for (auto& [key, reading] : series) {
    if (reading.cumulative.empty() || !std::isinf(reading.cumulative.rbegin()->first)) {
      return absl::InvalidArgumentError(
          absl::StrCat(metric, " has a series without its le=\"+Inf\" bucket"));
    }
    double previous = 0;
    for (const auto& [bound, count] : reading.cumulative) {
      if (count < previous) {
        return absl::InvalidArgumentError(
            absl::StrCat(metric, ": bucket le=", bound, " holds fewer than the one below it"));
      }
      previous = count;
    }
    reading.count = reading.cumulative.rbegin()->second;  // the +Inf bucket counts every one
    reading.series = 1;
    if (absl::Status added = AddReading(total, reading); !added.ok()) return added;
  }
  return total;
}

HistogramReading ObservedBetween(const HistogramReading& before, const HistogramReading& after,
                                 bool* restarted) {
  if (before.series == 0) {  // nothing before: the series appeared meanwhile
    *restarted = false;
    return after;
  }
  *restarted = after.count < before.count || before.cumulative.size() != after.cumulative.size();
  for (const auto& [bound, count] : after.cumulative) {
    const auto it = before.cumulative.find(bound);
    // Other bounds, or a count that went down: another process since.
    if (it == before.cumulative.end() || count < it->second) *restarted = true;
  }
  if (*restarted) return after;
  HistogramReading observed = after;
  for (auto& [bound, count] : observed.cumulative) count -= before.cumulative.at(bound);
  observed.count -= before.count;
  observed.sum -= before.sum;
  return observed;
}

absl::Status AddReading(HistogramReading& total, const HistogramReading& more) {
  if (total.series == 0) {
    total = more;
    return absl::OkStatus();
  }
  if (total.cumulative.size() != more.cumulative.size()) {
    return absl::InvalidArgumentError("series with different bucket bounds cannot be added up");
  }
  for (const auto& [bound, count] : total.cumulative) {
    if (!more.cumulative.contains(bound)) {
      return absl::InvalidArgumentError("series with different bucket bounds cannot be added up");
    }
  }
  for (auto& [bound, count] : total.cumulative) count += more.cumulative.at(bound);
  total.count += more.count;
  total.sum += more.sum;
  total.series += more.series;
  return absl::OkStatus();
}

}  // namespace aurigraph::loadgen
