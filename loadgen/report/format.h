// Internal to the report component: how figures are written in every report.
#pragma once

#include <cstdint>
#include <string>

namespace aurigraph::loadgen {

// Microseconds with the largest readable unit ("1.5ms").
std::string Micros(int64_t us);
// `value` with `decimals` decimals.
std::string Fixed(double value, int decimals);
// 12345.6 -> "12,346": rates and counts read at a glance.
std::string Grouped(double value);
// 0.0123 -> "1.23%" (more decimals below 0.1%).
std::string Percent(double ratio);

}  // namespace aurigraph::loadgen
