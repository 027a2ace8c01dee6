// The histogram decoders on untrusted bytes (result files and interval logs
// carry histograms). The first byte picks the form: 0 compressed, 1 base64,
// anything else the uncompressed V2 encoding (compressed here, so mutations
// reach the counts decoder rather than stopping at zlib's checksum).
#include <cstddef>
#include <cstdint>
#include <memory>

#include "absl/strings/string_view.h"
#include "loadgen/histogram/histogram.h"
#include "loadgen/histogram/histogram_codec.h"
#include "loadgen/histogram/histogram_wire.h"

using aurigraph::loadgen::DecodeBase64;
using aurigraph::loadgen::DecodeCompressed;
using aurigraph::loadgen::EncodeCompressed;
using aurigraph::loadgen::Histogram;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const absl::string_view bytes(reinterpret_cast<const char*>(data) + 1, size - 1);
  auto decoded = data[0] == 0   ? DecodeCompressed(bytes)
                 : data[0] == 1 ? DecodeBase64(bytes)
                                : DecodeCompressed(aurigraph::loadgen::v2::Compress(bytes));
  if (!decoded.ok()) return 0;
  // What decodes is a histogram like any other: every query works, and its
  // encoding decodes to the same counts.
  const Histogram& h = **decoded;
  h.Min();
  h.Max();
  h.Mean();
  h.StdDev();
  h.ValueAtPercentile(99.9);
  auto again = DecodeCompressed(EncodeCompressed(h));
  if (!again.ok() || !(*again)->SameConfiguration(h) || (*again)->TotalCount() != h.TotalCount()) {
    __builtin_trap();
  }
  for (int32_t i = 0; i < h.counts_length(); ++i) {
    if ((*again)->count_at_index(i) != h.count_at_index(i)) __builtin_trap();
  }
  return 0;
}
