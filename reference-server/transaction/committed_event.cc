#include "reference-server/transaction/committed_event.h"

#include <google/protobuf/io/coded_stream.h>

namespace aurigraph::refserver {
namespace {

namespace tv1 = transaction::v1;
using google::protobuf::io::CodedOutputStream;

constexpr uint32_t Tag(int field_number, int wire_type) {
  return static_cast<uint32_t>(field_number) << 3 | static_cast<uint32_t>(wire_type);
}
constexpr int kVarint = 0;
constexpr int kLengthDelimited = 2;

// A varint field as protobuf writes it: absent when zero (proto3).
size_t VarintFieldSize(int field_number, uint64_t value) {
  if (value == 0) return 0;
  return CodedOutputStream::VarintSize32(Tag(field_number, kVarint)) +
         CodedOutputStream::VarintSize64(value);
}
uint8_t* WriteVarintField(int field_number, uint64_t value, uint8_t* out) {
  if (value == 0) return out;
  out = CodedOutputStream::WriteTagToArray(Tag(field_number, kVarint), out);
  return CodedOutputStream::WriteVarint64ToArray(value, out);
}

}  // namespace

tv1::CommittedTransaction CommittedEvent::Message() const {
  tv1::CommittedTransaction message;
  message.ParseFromArray(bytes.begin(), static_cast<int>(bytes.size()));
  return message;
}

std::shared_ptr<const CommittedEvent> MakeCommittedEvent(const tv1::Transaction& tx,
                                                         uint64_t sequence,
                                                         int64_t committed_at_unix_nanos,
                                                         uint64_t log_index) {
  auto event = std::make_shared<CommittedEvent>();
  event->sender = tx.sender();
  event->receiver = tx.receiver();
  // Fields in number order, as protobuf serializes them; the transaction is
  // written even when empty, as a message field that is set.
  const size_t tx_size = tx.ByteSizeLong();
  const auto committed_at = static_cast<uint64_t>(committed_at_unix_nanos);
  const size_t size =
      CodedOutputStream::VarintSize32(
          Tag(tv1::CommittedTransaction::kTransactionFieldNumber, kLengthDelimited)) +
      CodedOutputStream::VarintSize64(tx_size) + tx_size +
      VarintFieldSize(tv1::CommittedTransaction::kSequenceFieldNumber, sequence) +
      VarintFieldSize(tv1::CommittedTransaction::kCommittedAtUnixNanosFieldNumber, committed_at) +
      VarintFieldSize(tv1::CommittedTransaction::kLogIndexFieldNumber, log_index);
  event->bytes = grpc::Slice(size);
  auto* out = const_cast<uint8_t*>(event->bytes.begin());
  out = CodedOutputStream::WriteTagToArray(
      Tag(tv1::CommittedTransaction::kTransactionFieldNumber, kLengthDelimited), out);
  out = CodedOutputStream::WriteVarint64ToArray(tx_size, out);
  out = tx.SerializeWithCachedSizesToArray(out);
  out = WriteVarintField(tv1::CommittedTransaction::kSequenceFieldNumber, sequence, out);
  out = WriteVarintField(tv1::CommittedTransaction::kCommittedAtUnixNanosFieldNumber, committed_at,
                         out);
  WriteVarintField(tv1::CommittedTransaction::kLogIndexFieldNumber, log_index, out);
  return event;
}

}  // namespace aurigraph::refserver
