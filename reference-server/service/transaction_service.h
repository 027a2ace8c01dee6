// TransactionService (aurigraph.transaction.v1): transactions submitted one
// at a time, in batches or by bidi stream, read back, and watched as they are
// committed; each accepted transaction is also published to webhooks.
#pragma once

#include <grpcpp/impl/service_type.h>

#include <memory>

#include "reference-server/service/responder.h"
#include "reference-server/service/streaming.h"
#include "reference-server/transaction/transaction_store.h"

namespace aurigraph::refserver {

std::unique_ptr<grpc::Service> MakeTransactionService(TransactionStore& store,
                                                      const Responder& responder,
                                                      const Streaming& streaming);

}  // namespace aurigraph::refserver
