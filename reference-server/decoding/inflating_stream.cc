#include "reference-server/decoding/inflating_stream.h"

#include <algorithm>

namespace aurigraph::refserver {

InflatingInputStream::InflatingInputStream(google::protobuf::io::ZeroCopyInputStream* compressed,
                                           Format format, int64_t limit)
    : compressed_(compressed), limit_(limit) {
  // 15: the largest window; +16: expect a gzip header and trailer instead of zlib's.
  if (inflateInit2(&zlib_, format == Format::kGzip ? 15 + 16 : 15) != Z_OK) {
    error_ = "cannot start zlib";
    ended_ = true;
  }
}

InflatingInputStream::~InflatingInputStream() { inflateEnd(&zlib_); }

bool InflatingInputStream::Next(const void** data, int* size) {
  if (backed_up_ > 0) {
    *data = buffer_ + last_size_ - backed_up_;
    *size = static_cast<int>(backed_up_);
    backed_up_ = 0;
    return true;
  }
  if (ended_) return false;
  // One byte beyond the limit is enough to learn that the input goes past it.
  const int64_t room = std::min<int64_t>(sizeof(buffer_), limit_ + 1 - produced_);
  zlib_.next_out = reinterpret_cast<Bytef*>(buffer_);
  zlib_.avail_out = static_cast<uInt>(room);
  while (zlib_.avail_out > 0 && !ended_) {
    if (zlib_.avail_in == 0) {
      const void* in = nullptr;
      int in_size = 0;
      if (!compressed_->Next(&in, &in_size)) {
        error_ = "compressed message ends early";
        ended_ = true;
        break;
      }
      zlib_.next_in = static_cast<Bytef*>(const_cast<void*>(in));
      zlib_.avail_in = static_cast<uInt>(in_size);
    }
    const int result = inflate(&zlib_, Z_NO_FLUSH);
    if (result == Z_STREAM_END) {
      ended_ = true;
    } else if (result != Z_OK && result != Z_BUF_ERROR) {
      error_ = zlib_.msg != nullptr ? zlib_.msg : "invalid compressed data";
      ended_ = true;
    }
  }
  const int64_t got = room - zlib_.avail_out;
  produced_ += got;
  if (produced_ > limit_) {
    exceeded_limit_ = true;
    ended_ = true;
    return false;
  }
  if (got == 0) return false;
  *data = buffer_;
  *size = last_size_ = static_cast<int>(got);
  return true;
}

void InflatingInputStream::BackUp(int count) { backed_up_ = count; }

bool InflatingInputStream::Skip(int count) {
  const void* data = nullptr;
  int size = 0;
  while (count > 0) {
    if (!Next(&data, &size)) return false;
    if (size > count) {
      BackUp(size - count);
      return true;
    }
    count -= size;
  }
  return true;
}

void InflatingInputStream::Consume() {
  const void* data = nullptr;
  int size = 0;
  while (Next(&data, &size)) {
  }
}

}  // namespace aurigraph::refserver
