// TransactionService (aurigraph.transaction.v1): transactions submitted one
// at a time, in batches or by bidi stream, read back, and watched as they are
// committed; each accepted transaction is also published to webhooks. What
// commits a transaction (this node, or consensus) is the committer's affair.
#pragma once

#include <grpcpp/impl/service_type.h>

#include <memory>
#include <string_view>

#include "reference-server/service/responder.h"
#include "reference-server/service/streaming.h"
#include "reference-server/service/transaction_committer.h"
#include "reference-server/transaction/transaction_store.h"

namespace aurigraph::refserver {

// Headers: GetTransaction answers with the node and its applied index.
inline constexpr std::string_view kNodeHeader = "x-aurigraph-node";
inline constexpr std::string_view kAppliedIndexHeader = "x-aurigraph-applied-index";

std::unique_ptr<grpc::Service> MakeTransactionService(TransactionStore& store,
                                                      TransactionCommitter& committer,
                                                      const Responder& responder,
                                                      const Streaming& streaming);

}  // namespace aurigraph::refserver
