// The WebSocket channel of the REST gateway (GET /v1/ws, upgraded): JSON text
// messages both ways, for clients that subscribe over WebSocket (the seeds'
// existing clients) and to compare the wire with gRPC's streams.
//
// Client to server, each an object with an "op" and an "id" of the client's:
//   {"op":"subscribe","id":"s1","topic":"transactions","account":"acct-1"}
//       committed transactions (with "account": those it sends or receives)
//   {"op":"subscribe","id":"s2","topic":"approvals","approval_id":"a-1"}
//       approval updates (with "approval_id": that approval's only)
//   {"op":"unsubscribe","id":"s1"}
//   {"op":"submit","id":"c1","transaction":{...}}
//       a transaction, as SubmitTransactionStream takes one
// Server to client:
//   {"type":"subscribed","id":"s1"}
//   {"type":"event","id":"s1","event":{...}}  a CommittedTransaction or an
//       ApprovalEvent in the protos' JSON mapping, sentAtUnixNanos stamped
//       when it is written
//   {"type":"reply","id":"c1","code":"OK","response":{...}}  a TransactionResponse;
//       or "code" another google.rpc.Code name with "message"
//   {"type":"error","id":"...","code":"INVALID_ARGUMENT","message":"..."}
//       a request that cannot be served (the connection stays open)
// A message that is not JSON closes the connection with 1007, a binary one
// with 1003; a client that does not read its events is cut off as a gRPC
// subscriber is (the same queue bound; close 1008 instead of
// RESOURCE_EXHAUSTED). Submits go through the same admission, validation,
// fault injection and consensus as over gRPC.
#pragma once

#include <memory>

#include "reference-server/http/http_server.h"
#include "reference-server/service/responder.h"
#include "reference-server/service/streaming.h"
#include "reference-server/service/transaction_committer.h"

namespace aurigraph::refserver {

class WebSocketChannels {
 public:
  WebSocketChannels(Streaming& streaming, TransactionCommitter& committer,
                    const Responder& responder);
  ~WebSocketChannels();
  // A session for a connection upgraded at `request`'s path; null (404) for another path.
  std::shared_ptr<http::WebSocketSession> Open(
      const http::Request& request, std::shared_ptr<http::WebSocketConnection> connection);
  // Ends every subscription, so the hubs hold no connection after the gateway stops.
  void CloseAll();

  struct Shared;

 private:
  std::shared_ptr<Shared> shared_;
};

}  // namespace aurigraph::refserver
