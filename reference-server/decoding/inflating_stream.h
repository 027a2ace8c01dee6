// A zlib/gzip decompressor as a protobuf input stream that stops at a limit:
// it never produces more than `limit` bytes, however far the compressed input
// would inflate, so a request that inflates to a gigabyte costs the reader at
// most `limit` bytes of inflating and one small buffer of memory.
#pragma once

#include <google/protobuf/io/zero_copy_stream.h>
#include <zlib.h>

#include <cstdint>
#include <string>

namespace aurigraph::refserver {

class InflatingInputStream final : public google::protobuf::io::ZeroCopyInputStream {
 public:
  enum class Format { kGzip, kZlib };  // gRPC's "gzip" and "deflate" encodings

  InflatingInputStream(google::protobuf::io::ZeroCopyInputStream* compressed, Format format,
                       int64_t limit);
  ~InflatingInputStream() override;

  // Reads to the end of the input (or the limit), keeping nothing.
  void Consume();

  // The input would inflate to more than `limit` bytes; reading stopped there.
  bool exceeded_limit() const { return exceeded_limit_; }
  // The input is not valid compressed data (or ends early); a one-line reason.
  const std::string& error() const { return error_; }

  bool Next(const void** data, int* size) override;
  void BackUp(int count) override;
  bool Skip(int count) override;
  int64_t ByteCount() const override { return produced_ - backed_up_; }

 private:
  google::protobuf::io::ZeroCopyInputStream* compressed_;
  const int64_t limit_;
  z_stream zlib_{};
  bool ended_ = false;
  bool exceeded_limit_ = false;
  std::string error_;
  char buffer_[64 * 1024];
  int64_t produced_ = 0;   // bytes inflated so far
  int64_t backed_up_ = 0;  // of the last chunk, handed back by BackUp
  int last_size_ = 0;
};

}  // namespace aurigraph::refserver
