#include "reference-server/decoding/inflating_stream.h"

#include <google/protobuf/io/zero_copy_stream_impl_lite.h>
#include <gtest/gtest.h>
#include <zlib.h>

#include <string>

#include "aurigraph/transaction/v1/transaction.pb.h"

namespace aurigraph::refserver {
namespace {

using Format = InflatingInputStream::Format;

std::string Compress(const std::string& data, Format format) {
  z_stream z{};
  deflateInit2(&z, 6, Z_DEFLATED, format == Format::kGzip ? 15 + 16 : 15, 8, Z_DEFAULT_STRATEGY);
  std::string out(deflateBound(&z, data.size()) + 32, '\0');
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  z.avail_in = data.size();
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = out.size();
  deflate(&z, Z_FINISH);
  out.resize(out.size() - z.avail_out);
  deflateEnd(&z);
  return out;
}

// Reads everything `stream` yields.
std::string ReadAll(google::protobuf::io::ZeroCopyInputStream& stream) {
  std::string out;
  const void* data = nullptr;
  int size = 0;
  while (stream.Next(&data, &size)) out.append(static_cast<const char*>(data), size);
  return out;
}

TEST(InflatingInputStream, InflatesGzipAndZlibAsAProtobufInput) {
  transaction::v1::Transaction tx;
  tx.set_id("tx-1");
  tx.set_memo(std::string(100'000, 'm'));
  for (Format format : {Format::kGzip, Format::kZlib}) {
    const std::string compressed = Compress(tx.SerializeAsString(), format);
    ASSERT_LT(compressed.size(), 1000u);
    // Handed over in small pieces, as gRPC's slices arrive.
    google::protobuf::io::ArrayInputStream input(compressed.data(), compressed.size(), 7);
    InflatingInputStream inflated(&input, format, 1 << 20);
    transaction::v1::Transaction parsed;
    ASSERT_TRUE(parsed.ParseFromZeroCopyStream(&inflated));
    EXPECT_EQ(parsed.id(), "tx-1");
    EXPECT_EQ(parsed.memo(), tx.memo());
    EXPECT_FALSE(inflated.exceeded_limit());
    EXPECT_EQ(inflated.error(), "");
  }
}

// A bomb: 64 MiB of zeros in about 64 KiB. Reading stops one byte past the
// limit, whatever the input would inflate to.
TEST(InflatingInputStream, StopsAtTheLimit) {
  const std::string bomb = Compress(std::string(64 << 20, '\0'), Format::kGzip);
  ASSERT_LT(bomb.size(), 100'000u);
  google::protobuf::io::ArrayInputStream input(bomb.data(), bomb.size());
  InflatingInputStream inflated(&input, Format::kGzip, 1 << 20);
  inflated.Consume();
  EXPECT_TRUE(inflated.exceeded_limit());
  EXPECT_LE(inflated.ByteCount(), (1 << 20) + 1);
  // Exactly at the limit is within it.
  const std::string exact = Compress(std::string(1 << 20, 'x'), Format::kGzip);
  google::protobuf::io::ArrayInputStream exact_input(exact.data(), exact.size());
  InflatingInputStream at_limit(&exact_input, Format::kGzip, 1 << 20);
  EXPECT_EQ(ReadAll(at_limit).size(), 1u << 20);
  EXPECT_FALSE(at_limit.exceeded_limit());
  EXPECT_EQ(at_limit.error(), "");
}

TEST(InflatingInputStream, NamesCorruptAndTruncatedInput) {
  const std::string garbage = "this is not gzip";
  google::protobuf::io::ArrayInputStream input(garbage.data(), garbage.size());
  InflatingInputStream corrupt(&input, Format::kGzip, 1 << 20);
  corrupt.Consume();
  EXPECT_EQ(corrupt.error(), "incorrect header check");

  const std::string whole = Compress(std::string(10'000, 'a'), Format::kGzip);
  const std::string cut = whole.substr(0, whole.size() / 2);
  google::protobuf::io::ArrayInputStream cut_input(cut.data(), cut.size());
  InflatingInputStream truncated(&cut_input, Format::kGzip, 1 << 20);
  truncated.Consume();
  EXPECT_EQ(truncated.error(), "compressed message ends early");
  EXPECT_FALSE(truncated.exceeded_limit());
}

TEST(InflatingInputStream, BackUpAndSkip) {
  const std::string text = "0123456789abcdef";
  const std::string compressed = Compress(text, Format::kZlib);
  google::protobuf::io::ArrayInputStream input(compressed.data(), compressed.size());
  InflatingInputStream inflated(&input, Format::kZlib, 1 << 20);
  const void* data = nullptr;
  int size = 0;
  ASSERT_TRUE(inflated.Next(&data, &size));
  ASSERT_EQ(size, 16);
  inflated.BackUp(6);
  EXPECT_EQ(inflated.ByteCount(), 10);
  ASSERT_TRUE(inflated.Skip(2));
  ASSERT_TRUE(inflated.Next(&data, &size));
  EXPECT_EQ(std::string(static_cast<const char*>(data), size), "cdef");
  EXPECT_FALSE(inflated.Skip(1));
}

}  // namespace
}  // namespace aurigraph::refserver
