#include "common/units/units.h"

#include <charconv>
#include <cmath>
#include <cstdio>
#include <ctime>

#include "absl/strings/str_cat.h"

namespace aurigraph {
namespace {

bool ParseNumber(absl::string_view text, double* value, absl::string_view* rest) {
  size_t i = 0;
  while (i < text.size() &&
         (std::isdigit(static_cast<unsigned char>(text[i])) || text[i] == '.' || text[i] == '-' ||
          text[i] == '+' || text[i] == 'e' || text[i] == 'E')) {
    ++i;
  }
  if (i == 0) return false;
  const std::string number(text.substr(0, i));
  char* end = nullptr;
  *value = std::strtod(number.c_str(), &end);
  if (end != number.c_str() + number.size() || !std::isfinite(*value)) return false;
  *rest = text.substr(i);
  return true;
}

absl::string_view Trim(absl::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

}  // namespace

absl::StatusOr<int64_t> ParseDuration(absl::string_view text) {
  const absl::string_view trimmed = Trim(text);
  double value = 0;
  absl::string_view unit;
  if (!ParseNumber(trimmed, &value, &unit)) {
    return absl::InvalidArgumentError(absl::StrCat("invalid duration '", text, "'"));
  }
  unit = Trim(unit);
  double scale = 0;
  if (unit == "ns")
    scale = 1;
  else if (unit == "us" || unit == "µs")
    scale = 1e3;
  else if (unit == "ms")
    scale = 1e6;
  else if (unit == "s")
    scale = 1e9;
  else if (unit == "m")
    scale = 60e9;
  else if (unit == "h")
    scale = 3600e9;
  else {
    return absl::InvalidArgumentError(
        absl::StrCat("invalid duration '", text, "': expected a unit (ns, us, ms, s, m, h)"));
  }
  if (value < 0) {
    return absl::InvalidArgumentError(absl::StrCat("invalid duration '", text, "': negative"));
  }
  const double nanos = value * scale;
  if (nanos > 9.2e18) {
    return absl::InvalidArgumentError(absl::StrCat("invalid duration '", text, "': too large"));
  }
  return static_cast<int64_t>(std::llround(nanos));
}

absl::StatusOr<double> ParseRatio(absl::string_view text) {
  const absl::string_view trimmed = Trim(text);
  double value = 0;
  absl::string_view rest;
  if (!ParseNumber(trimmed, &value, &rest)) {
    return absl::InvalidArgumentError(absl::StrCat("invalid ratio '", text, "'"));
  }
  rest = Trim(rest);
  if (rest == "%") return value / 100.0;
  if (rest.empty()) {
    // "< 1" reads as 1% to some and as 100% to others: neither is guessed.
    return absl::InvalidArgumentError(absl::StrCat("ratio '", text,
                                                   "' has no unit: write it as a percentage, e.g. ",
                                                   value, "% or ", value * 100, "%"));
  }
  return absl::InvalidArgumentError(absl::StrCat("invalid ratio '", text, "'"));
}

absl::StatusOr<int64_t> ParseBytes(absl::string_view text) {
  const absl::string_view trimmed = Trim(text);
  double value = 0;
  absl::string_view rest;
  if (!ParseNumber(trimmed, &value, &rest) || value < 0) {
    return absl::InvalidArgumentError(absl::StrCat("invalid size '", text, "'"));
  }
  struct Unit {
    absl::string_view name;
    double bytes;
  };
  static constexpr Unit kUnits[] = {{"", 1},          {"B", 1},        {"KB", 1e3},
                                    {"MB", 1e6},      {"GB", 1e9},     {"KiB", 1024.0},
                                    {"MiB", 1 << 20}, {"GiB", 1 << 30}};
  rest = Trim(rest);
  for (const Unit& unit : kUnits) {
    if (rest != unit.name) continue;
    const double bytes = value * unit.bytes;
    if (!(bytes < 9.2e18)) {  // (the conversion of a larger double is undefined)
      return absl::InvalidArgumentError(absl::StrCat("invalid size '", text, "': too large"));
    }
    return static_cast<int64_t>(bytes);
  }
  return absl::InvalidArgumentError(
      absl::StrCat("invalid size '", text, "' (use B, KB, MB, GB, KiB, MiB or GiB)"));
}

std::string FormatBytes(int64_t bytes) {
  char buf[64];
  const double v = static_cast<double>(bytes);
  if (bytes >= (1LL << 30))
    std::snprintf(buf, sizeof buf, "%.4g GiB", v / (1 << 30));
  else if (bytes >= (1LL << 20))
    std::snprintf(buf, sizeof buf, "%.4g MiB", v / (1 << 20));
  else if (bytes >= 1024)
    std::snprintf(buf, sizeof buf, "%.4g KiB", v / 1024);
  else
    std::snprintf(buf, sizeof buf, "%lld B", static_cast<long long>(bytes));
  return buf;
}

std::string FormatDuration(int64_t nanos) {
  char buf[64];
  const double v = static_cast<double>(nanos);
  if (nanos >= 3600'000'000'000LL)
    std::snprintf(buf, sizeof buf, "%.3gh", v / 3600e9);
  else if (nanos >= 60'000'000'000LL)
    std::snprintf(buf, sizeof buf, "%.3gm", v / 60e9);
  else if (nanos >= 1'000'000'000)
    std::snprintf(buf, sizeof buf, "%.4gs", v / 1e9);
  else if (nanos >= 1'000'000)
    std::snprintf(buf, sizeof buf, "%.4gms", v / 1e6);
  else if (nanos >= 1'000)
    std::snprintf(buf, sizeof buf, "%.4gus", v / 1e3);
  else
    std::snprintf(buf, sizeof buf, "%lldns", static_cast<long long>(nanos));
  return buf;
}

std::string FormatRate(double per_second) {
  char buf[64];
  const double tenths = std::round(per_second * 10) / 10;
  std::snprintf(buf, sizeof buf, tenths == std::floor(tenths) ? "%.0f/s" : "%.1f/s", tenths);
  return buf;
}

std::string FormatUnixTime(int64_t unix_nanos) {
  const std::time_t seconds = unix_nanos / 1'000'000'000;
  std::tm tm{};
  gmtime_r(&seconds, &tm);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                static_cast<int>(unix_nanos / 1'000'000 % 1000));
  return buf;
}

}  // namespace aurigraph
