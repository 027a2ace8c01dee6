// An event serialized once and sent to each subscriber with a field of its
// own appended: protobuf itself must read the appended value back, whatever
// the value (zero, negative, the extremes) and whether the field was already
// in the bytes (the last value wins), with every other field intact.
#include "reference-server/streams/encoded_event.h"

#include <gtest/gtest.h>

#include <limits>
#include <string>
#include <vector>

#include "aurigraph/transaction/v1/transaction.pb.h"

namespace aurigraph::refserver {
namespace {

namespace tv1 = transaction::v1;

tv1::CommittedTransaction Decode(const grpc::ByteBuffer& buffer) {
  std::vector<grpc::Slice> slices;
  EXPECT_TRUE(buffer.Dump(&slices).ok());
  std::string bytes;
  for (const grpc::Slice& slice : slices) {
    bytes.append(reinterpret_cast<const char*>(slice.begin()), slice.size());
  }
  tv1::CommittedTransaction decoded;
  EXPECT_TRUE(decoded.ParseFromString(bytes));
  return decoded;
}

TEST(EncodedEvent, AnAppendedFieldIsReadBackAndTheRestKept) {
  tv1::CommittedTransaction event;
  event.mutable_transaction()->set_id("tx-1");
  event.mutable_transaction()->set_amount(42);
  event.set_sequence(7);
  event.set_committed_at_unix_nanos(1'700'000'000'000'000'000);
  event.set_log_index(3);
  const grpc::Slice encoded(event.SerializeAsString());
  for (const int64_t value :
       {int64_t{0}, int64_t{1}, int64_t{-1}, int64_t{1'764'547'200'123'456'789},
        std::numeric_limits<int64_t>::max(), std::numeric_limits<int64_t>::min()}) {
    grpc::ByteBuffer sent;
    WithInt64Field(encoded, tv1::CommittedTransaction::kSentAtUnixNanosFieldNumber, value, &sent);
    tv1::CommittedTransaction expected = event;
    expected.set_sent_at_unix_nanos(value);
    EXPECT_EQ(Decode(sent).SerializeAsString(), expected.SerializeAsString()) << value;
    // A field already in the bytes: the appended value replaces it.
    WithInt64Field(encoded, tv1::CommittedTransaction::kCommittedAtUnixNanosFieldNumber, value,
                   &sent);
    EXPECT_EQ(Decode(sent).committed_at_unix_nanos(), value);
    EXPECT_EQ(Decode(sent).transaction().id(), "tx-1");
  }
}

}  // namespace
}  // namespace aurigraph::refserver
