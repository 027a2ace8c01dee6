#include "loadgen/report/format.h"

#include <cmath>
#include <cstdio>

#include "common/units/units.h"

namespace aurigraph::loadgen {

std::string Micros(int64_t us) { return FormatDuration(us * 1000); }

std::string Fixed(double value, int decimals) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, value);
  return buf;
}

std::string Grouped(double value) {
  const std::string digits = Fixed(std::fabs(value), 0);
  std::string out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return (value < 0 ? "-" : "") + out;
}

std::string Percent(double ratio) {
  return Fixed(ratio * 100, ratio != 0 && ratio < 0.001 ? 4 : 2) + "%";
}

}  // namespace aurigraph::loadgen
