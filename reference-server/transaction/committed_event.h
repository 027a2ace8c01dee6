// A committed transaction as its subscribers get it (StreamTransactions, the
// WebSocket channel): built once per commit whatever the number of
// subscribers, its CommittedTransaction serialized straight from the
// transaction (not copied into a message of its own first: the copy and its
// strings' allocations were most of an event's cost), with the accounts that
// subscriptions filter on beside it.
#pragma once

#include <grpcpp/support/slice.h>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "aurigraph/transaction/v1/transaction.pb.h"

namespace aurigraph::refserver {

struct CommittedEvent {
  std::string sender;
  std::string receiver;
  // A CommittedTransaction without sent_at_unix_nanos, which each write adds
  // (streams/encoded_event.h).
  grpc::Slice bytes;

  // Whether a subscription to `account` ("": every account) gets this event.
  bool Concerns(std::string_view account) const {
    return account.empty() || sender == account || receiver == account;
  }
  // The event as a message, for renderings other than its bytes.
  transaction::v1::CommittedTransaction Message() const;
};

// The bytes are exactly protobuf's serialization of the CommittedTransaction
// with these fields.
std::shared_ptr<const CommittedEvent> MakeCommittedEvent(const transaction::v1::Transaction& tx,
                                                         uint64_t sequence,
                                                         int64_t committed_at_unix_nanos,
                                                         uint64_t log_index);

}  // namespace aurigraph::refserver
