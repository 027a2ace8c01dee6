// The REST/JSON gateway: HTTP/1.1 with keep-alive on a port of its own, in
// front of the same stores, validation, admission and fault injection as the
// gRPC services (a transaction submitted here is committed as one submitted
// over gRPC, through consensus on a cluster; an approval or a vote is
// published to watchers and webhooks as one over gRPC). Bodies are the protos'
// canonical JSON mapping (protobuf's JsonStringToMessage/MessageToJsonString:
// lowerCamelCase names out, either form in, 64-bit integers as strings); an
// error is application/problem+json with the HTTP status of its gRPC code
// (HttpStatusFor). Routes:
//   GET  /v1/health                 200 {"status":"SERVING"}
//   POST /v1/transactions           Transaction -> 201 TransactionResponse
//   POST /v1/transactions:batch     BatchRequest -> 200 BatchResponse
//   GET  /v1/transactions/{id}      200 Transaction
//   POST /v1/approvals              ApprovalRequest -> 201 ApprovalState
//   GET  /v1/approvals/{id}         200 ApprovalState (?include_votes=true: with votes)
//   POST /v1/approvals/{id}/votes   ValidatorResponse -> 200 ApprovalState
//   GET  /v1/ws                     upgraded to WebSocket (websocket_channel.h)
// Ids in a path are percent-encoded.
// A POST needs Content-Type application/json (415 otherwise); an unknown path
// is 404, a known one with another method 405 (with Allow).
#pragma once

#include <memory>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "reference-server/approval/approval_store.h"
#include "reference-server/http/http_server.h"
#include "reference-server/service/responder.h"
#include "reference-server/service/streaming.h"
#include "reference-server/service/transaction_committer.h"
#include "reference-server/service/websocket_channel.h"
#include "reference-server/transaction/transaction_store.h"

namespace aurigraph::refserver {

// google.rpc.Code's HTTP mapping (OK 200, INVALID_ARGUMENT 400, NOT_FOUND
// 404, ALREADY_EXISTS 409, RESOURCE_EXHAUSTED 429, UNAVAILABLE 503, ...).
int HttpStatusFor(absl::StatusCode code);

class RestGateway {
 public:
  // Also serves the WebSocket channel (websocket_channel.h) at GET /v1/ws.
  static absl::StatusOr<std::unique_ptr<RestGateway>> Start(
      const http::ServerOptions& options, TransactionStore& store, TransactionCommitter& committer,
      ApprovalStore& approvals, const Responder& responder, Streaming& streaming);
  ~RestGateway();
  // Stops serving (http::Server::Stop) and ends the WebSocket subscriptions;
  // counters stay readable.
  void Stop();
  int port() const { return server_->port(); }
  const http::Server& server() const { return *server_; }

  struct Routes;

 private:
  RestGateway(std::unique_ptr<Routes> routes, std::unique_ptr<WebSocketChannels> channels,
              std::unique_ptr<http::Server> server);
  std::unique_ptr<Routes> routes_;
  std::unique_ptr<WebSocketChannels> channels_;
  std::unique_ptr<http::Server> server_;  // last: stops before the routes go
};

}  // namespace aurigraph::refserver
