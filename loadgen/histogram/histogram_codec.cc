#include "loadgen/histogram/histogram_codec.h"

#include <zlib.h>

#include <cstring>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"

namespace aurigraph::loadgen {
namespace {

// Cookies carry the word size (0x10 = 8-byte LEB128 words) in their low bits.
constexpr uint32_t kEncodingCookie = 0x1c849303 | 0x10;
constexpr uint32_t kCompressedCookie = 0x1c849304 | 0x10;
constexpr size_t kHeaderSize = 40;
constexpr int kMaxCountsLength = 1 << 24;

void PutU32(std::string* out, uint32_t v) {
  for (int shift = 24; shift >= 0; shift -= 8) out->push_back(static_cast<char>(v >> shift));
}
void PutU64(std::string* out, uint64_t v) {
  for (int shift = 56; shift >= 0; shift -= 8) out->push_back(static_cast<char>(v >> shift));
}
uint32_t GetU32(const unsigned char* p) {
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | p[3];
}
uint64_t GetU64(const unsigned char* p) { return (uint64_t{GetU32(p)} << 32) | GetU32(p + 4); }

// ZigZag LEB128 with at most 9 bytes: the 9th byte carries 8 full bits.
void PutZigZag(std::string* out, int64_t value) {
  uint64_t v = (static_cast<uint64_t>(value) << 1) ^ static_cast<uint64_t>(value >> 63);
  for (int i = 0; i < 8; ++i) {
    if (v < 0x80) {
      out->push_back(static_cast<char>(v));
      return;
    }
    out->push_back(static_cast<char>((v & 0x7f) | 0x80));
    v >>= 7;
  }
  out->push_back(static_cast<char>(v));
}

bool GetZigZag(const unsigned char*& p, const unsigned char* end, int64_t* value) {
  uint64_t v = 0;
  for (int i = 0; i < 9; ++i) {
    if (p == end) return false;
    const uint64_t byte = *p++;
    if (i == 8) {
      v |= byte << 56;
      break;
    }
    v |= (byte & 0x7f) << (7 * i);
    if ((byte & 0x80) == 0) break;
  }
  *value = static_cast<int64_t>(v >> 1) ^ -static_cast<int64_t>(v & 1);
  return true;
}

std::string EncodeUncompressed(const Histogram& h) {
  std::string payload;
  if (h.TotalCount() > 0) {
    const int32_t limit = h.IndexOf(h.Max()) + 1;
    for (int32_t i = 0; i < limit;) {
      const int64_t count = h.count_at_index(i++);
      if (count == 0) {
        int64_t zeros = 1;
        while (i < limit && h.count_at_index(i) == 0) {
          ++zeros;
          ++i;
        }
        PutZigZag(&payload, zeros > 1 ? -zeros : 0);
      } else {
        PutZigZag(&payload, count);
      }
    }
  }
  std::string out;
  out.reserve(kHeaderSize + payload.size());
  PutU32(&out, kEncodingCookie);
  PutU32(&out, static_cast<uint32_t>(payload.size()));
  PutU32(&out, 0);  // normalizing index offset
  PutU32(&out, static_cast<uint32_t>(h.significant_digits()));
  PutU64(&out, static_cast<uint64_t>(h.lowest_discernible()));
  PutU64(&out, static_cast<uint64_t>(h.highest_trackable()));
  double ratio = 1.0;
  uint64_t ratio_bits = 0;
  std::memcpy(&ratio_bits, &ratio, sizeof ratio);
  PutU64(&out, ratio_bits);
  out += payload;
  return out;
}

absl::StatusOr<std::unique_ptr<Histogram>> DecodeUncompressed(absl::string_view bytes) {
  const auto* p = reinterpret_cast<const unsigned char*>(bytes.data());
  if (bytes.size() < kHeaderSize) return absl::DataLossError("histogram header truncated");
  if (GetU32(p) != kEncodingCookie) return absl::DataLossError("not a V2 histogram encoding");
  const uint32_t payload_length = GetU32(p + 4);
  const auto digits = static_cast<int>(GetU32(p + 12));
  const auto lowest = static_cast<int64_t>(GetU64(p + 16));
  const auto highest = static_cast<int64_t>(GetU64(p + 24));
  if (bytes.size() < kHeaderSize + payload_length) {
    return absl::DataLossError("histogram payload truncated");
  }
  if (lowest < 1 || highest < 2 * lowest || digits < 1 || digits > 5) {
    return absl::DataLossError("histogram header has an invalid configuration");
  }
  auto histogram = std::make_unique<Histogram>(lowest, highest, digits);
  const unsigned char* cursor = p + kHeaderSize;
  const unsigned char* end = cursor + payload_length;
  int32_t index = 0;
  while (cursor < end) {
    int64_t value = 0;
    if (!GetZigZag(cursor, end, &value)) return absl::DataLossError("histogram counts truncated");
    if (value < 0) {
      if (-value > kMaxCountsLength) return absl::DataLossError("histogram zero run too long");
      index += static_cast<int32_t>(-value);
      continue;
    }
    if (index >= histogram->counts_length()) {
      return absl::DataLossError("histogram counts exceed its configured range");
    }
    histogram->SetCountAtIndex(index++, value);
  }
  return histogram;
}

}  // namespace

std::string EncodeCompressed(const Histogram& histogram) {
  const std::string raw = EncodeUncompressed(histogram);
  uLongf compressed_size = compressBound(raw.size());
  std::string out(8 + compressed_size, '\0');
  compress2(reinterpret_cast<Bytef*>(out.data() + 8), &compressed_size,
            reinterpret_cast<const Bytef*>(raw.data()), raw.size(), Z_DEFAULT_COMPRESSION);
  out.resize(8 + compressed_size);
  std::string header;
  PutU32(&header, kCompressedCookie);
  PutU32(&header, static_cast<uint32_t>(compressed_size));
  out.replace(0, 8, header);
  return out;
}

absl::StatusOr<std::unique_ptr<Histogram>> DecodeCompressed(absl::string_view bytes) {
  const auto* p = reinterpret_cast<const unsigned char*>(bytes.data());
  if (bytes.size() < 8) return absl::DataLossError("compressed histogram truncated");
  if (GetU32(p) != kCompressedCookie) {
    return absl::DataLossError("not a V2 compressed histogram (bad cookie)");
  }
  const uint32_t length = GetU32(p + 4);
  if (bytes.size() < 8 + static_cast<size_t>(length)) {
    return absl::DataLossError("compressed histogram truncated");
  }
  z_stream stream{};
  if (inflateInit(&stream) != Z_OK) return absl::InternalError("zlib init failed");
  stream.next_in = const_cast<Bytef*>(p + 8);
  stream.avail_in = length;
  std::string raw;
  char chunk[16384];
  int rc = Z_OK;
  while (rc == Z_OK) {
    stream.next_out = reinterpret_cast<Bytef*>(chunk);
    stream.avail_out = sizeof chunk;
    rc = inflate(&stream, Z_NO_FLUSH);
    raw.append(chunk, sizeof chunk - stream.avail_out);
    if (raw.size() > (size_t{kMaxCountsLength} * 9)) break;
  }
  inflateEnd(&stream);
  if (rc != Z_STREAM_END) return absl::DataLossError("compressed histogram is corrupt");
  return DecodeUncompressed(raw);
}

std::string EncodeBase64(const Histogram& histogram) {
  return absl::Base64Escape(EncodeCompressed(histogram));
}

absl::StatusOr<std::unique_ptr<Histogram>> DecodeBase64(absl::string_view text) {
  std::string bytes;
  if (!absl::Base64Unescape(text, &bytes)) return absl::DataLossError("histogram is not base64");
  return DecodeCompressed(bytes);
}

}  // namespace aurigraph::loadgen
