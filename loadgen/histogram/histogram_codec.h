// HdrHistogram's V2 compressed encoding (the "HISTF..." base64 strings found in
// .hlog files), so results can be re-read and merged by any HdrHistogram tool.
#pragma once

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "loadgen/histogram/histogram.h"

namespace aurigraph::loadgen {

// Binary V2 compressed form (cookie, length, zlib-deflated V2 payload).
std::string EncodeCompressed(const Histogram& histogram);
absl::StatusOr<std::unique_ptr<Histogram>> DecodeCompressed(absl::string_view bytes);

// Base64 of the compressed form.
std::string EncodeBase64(const Histogram& histogram);
absl::StatusOr<std::unique_ptr<Histogram>> DecodeBase64(absl::string_view text);

}  // namespace aurigraph::loadgen
