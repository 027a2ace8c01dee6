// The result.json reader (report and compare read any file they are given).
// What it accepts must write back out, and a result of the current schema
// read again (older ones are written in the current schema, which may count
// differently: schema 4 histograms hold successful calls only).
#include <cstddef>
#include <cstdint>
#include <string>

#include "loadgen/result/run_result.h"

using aurigraph::loadgen::ResultFromJson;
using aurigraph::loadgen::ResultToJson;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  auto result = ResultFromJson(text, "fuzz.json");
  if (!result.ok()) return 0;
  const std::string rewritten = ResultToJson(*result);
  if (result->schema_version == aurigraph::loadgen::kResultSchemaVersion &&
      !ResultFromJson(rewritten, "rewritten.json").ok()) {
    __builtin_trap();
  }
  return 0;
}
