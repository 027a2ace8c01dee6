#include "loadgen/histogram/histogram_codec.h"

#include <zlib.h>

#include <algorithm>
#include <cstring>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "loadgen/histogram/histogram_wire.h"

namespace aurigraph::loadgen {
namespace {

// Cookies carry the word size (0x10 = 8-byte LEB128 words) in their low bits.
constexpr uint32_t kEncodingCookie = 0x1c849303 | 0x10;
constexpr uint32_t kCompressedCookie = 0x1c849304 | 0x10;
constexpr size_t kHeaderSize = 40;
// The most bytes one count takes in the payload (a 9-byte LEB128 word).
constexpr size_t kMaxEntryBytes = 9;
// A decoded histogram's largest counts array: every configuration of up to 4
// significant digits fits (3 digits over the whole 63-bit range needs 55,296),
// and a few hundred bytes of input cannot claim more than 8 MiB of memory.
constexpr int64_t kMaxCountsLength = int64_t{1} << 20;

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
        v2::PutZigZag(&payload, zeros > 1 ? -zeros : 0);
      } else {
        v2::PutZigZag(&payload, count);
      }
    }
  }
  std::string out;
  out.reserve(kHeaderSize + payload.size());
  v2::PutHeader(&out, static_cast<uint32_t>(payload.size()), h.significant_digits(),
                h.lowest_discernible(), h.highest_trackable());
  out += payload;
  return out;
}

// The configuration and payload length an uncompressed encoding declares, checked.
struct Header {
  int digits = 0;
  int64_t lowest = 0;
  int64_t highest = 0;
  int64_t counts_length = 0;
  size_t payload_length = 0;
};

absl::StatusOr<Header> ReadHeader(absl::string_view bytes) {
  const auto* p = reinterpret_cast<const unsigned char*>(bytes.data());
  if (bytes.size() < kHeaderSize) return absl::DataLossError("histogram header truncated");
  if (GetU32(p) != kEncodingCookie) return absl::DataLossError("not a V2 histogram encoding");
  Header h;
  h.payload_length = GetU32(p + 4);
  const uint32_t digits = GetU32(p + 12);
  h.lowest = static_cast<int64_t>(GetU64(p + 16));
  h.highest = static_cast<int64_t>(GetU64(p + 24));
  if (digits > 5 ||
      !Histogram::IsValidConfiguration(h.lowest, h.highest, static_cast<int>(digits))) {
    return absl::DataLossError(
        absl::StrCat("histogram header has an invalid configuration (lowest ", h.lowest,
                     ", highest ", h.highest, ", ", digits, " significant digits)"));
  }
  h.digits = static_cast<int>(digits);
  h.counts_length = Histogram::CountsLengthFor(h.lowest, h.highest, h.digits);
  if (h.counts_length > kMaxCountsLength) {
    return absl::DataLossError(absl::StrCat("histogram configuration needs ", h.counts_length,
                                            " buckets, more than the ", kMaxCountsLength,
                                            " a decoded histogram may have"));
  }
  if (h.payload_length > static_cast<size_t>(h.counts_length) * kMaxEntryBytes) {
    return absl::DataLossError("histogram payload is longer than its configuration allows");
  }
  return h;
}

absl::StatusOr<std::unique_ptr<Histogram>> DecodeUncompressed(absl::string_view bytes) {
  auto header = ReadHeader(bytes);
  if (!header.ok()) return header.status();
  if (bytes.size() < kHeaderSize + header->payload_length) {
    return absl::DataLossError("histogram payload truncated");
  }
  auto histogram = std::make_unique<Histogram>(header->lowest, header->highest, header->digits);
  const auto* cursor = reinterpret_cast<const unsigned char*>(bytes.data()) + kHeaderSize;
  const unsigned char* end = cursor + header->payload_length;
  // 64-bit, and every step checked against the bucket count: the input is untrusted.
  const int64_t length = histogram->counts_length();
  int64_t index = 0;
  while (cursor < end) {
    int64_t value = 0;
    if (!GetZigZag(cursor, end, &value)) return absl::DataLossError("histogram counts truncated");
    if (value < 0) {
      // A run of -value empty buckets (INT64_MIN has no negation and is too long anyway).
      if (value == INT64_MIN || -value > length - index) {
        return absl::DataLossError("histogram zero run goes beyond its configured range");
      }
      index += -value;
      continue;
    }
    if (index >= length) {
      return absl::DataLossError("histogram counts exceed its configured range");
    }
    if (!histogram->SetCountAtIndex(index++, value)) {
      return absl::DataLossError("histogram total count overflows 64 bits");
    }
  }
  return histogram;
}

// Inflates a zlib stream, stopping as soon as the output would exceed what
// the V2 header it starts with allows (so a small input cannot inflate to gigabytes).
absl::StatusOr<std::string> Inflate(absl::string_view compressed) {
  z_stream stream{};
  if (inflateInit(&stream) != Z_OK) return absl::InternalError("zlib init failed");
  stream.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(compressed.data()));
  stream.avail_in = static_cast<uInt>(compressed.size());
  std::string raw;
  size_t limit = kHeaderSize;  // until the header is in
  bool header_read = false;
  char chunk[16384];
  int rc = Z_OK;
  while (rc == Z_OK) {
    stream.next_out = reinterpret_cast<Bytef*>(chunk);
    stream.avail_out = static_cast<uInt>(std::min(sizeof chunk, limit + 1 - raw.size()));
    rc = inflate(&stream, Z_NO_FLUSH);
    raw.append(chunk, static_cast<size_t>(reinterpret_cast<char*>(stream.next_out) - chunk));
    if (!header_read && raw.size() >= kHeaderSize) {
      auto header = ReadHeader(raw);
      if (!header.ok()) {
        inflateEnd(&stream);
        return header.status();
      }
      header_read = true;
      limit = kHeaderSize + header->payload_length;
    }
    if (raw.size() > limit) {
      inflateEnd(&stream);
      return absl::DataLossError("compressed histogram inflates beyond its declared length");
    }
  }
  inflateEnd(&stream);
  if (rc != Z_STREAM_END) return absl::DataLossError("compressed histogram is corrupt");
  return raw;
}

}  // namespace

namespace v2 {

void PutHeader(std::string* out, uint32_t payload_length, int significant_digits,
               int64_t lowest_discernible, int64_t highest_trackable) {
  PutU32(out, kEncodingCookie);
  PutU32(out, payload_length);
  PutU32(out, 0);  // normalizing index offset
  PutU32(out, static_cast<uint32_t>(significant_digits));
  PutU64(out, static_cast<uint64_t>(lowest_discernible));
  PutU64(out, static_cast<uint64_t>(highest_trackable));
  const double ratio = 1.0;  // integer to double conversion ratio
  uint64_t ratio_bits = 0;
  std::memcpy(&ratio_bits, &ratio, sizeof ratio);
  PutU64(out, ratio_bits);
}

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

std::string Compress(absl::string_view uncompressed) {
  uLongf compressed_size = compressBound(uncompressed.size());
  std::string out(8 + compressed_size, '\0');
  compress2(reinterpret_cast<Bytef*>(out.data() + 8), &compressed_size,
            reinterpret_cast<const Bytef*>(uncompressed.data()), uncompressed.size(),
            Z_DEFAULT_COMPRESSION);
  out.resize(8 + compressed_size);
  std::string header;
  PutU32(&header, kCompressedCookie);
  PutU32(&header, static_cast<uint32_t>(compressed_size));
  out.replace(0, 8, header);
  return out;
}

}  // namespace v2

std::string EncodeCompressed(const Histogram& histogram) {
  return v2::Compress(EncodeUncompressed(histogram));
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
  auto raw = Inflate(bytes.substr(8, length));
  if (!raw.ok()) return raw.status();
  return DecodeUncompressed(*raw);
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
