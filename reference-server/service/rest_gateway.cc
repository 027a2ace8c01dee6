#include "reference-server/service/rest_gateway.h"

#include <google/protobuf/util/json_util.h>

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/status_codes/status_codes.h"
#include "reference-server/service/json_mapping.h"

namespace aurigraph::refserver {

namespace av1 = approval::v1;
namespace tv1 = transaction::v1;

int HttpStatusFor(absl::StatusCode code) {
  switch (code) {
    case absl::StatusCode::kOk:
      return 200;
    case absl::StatusCode::kCancelled:
      return 499;
    case absl::StatusCode::kInvalidArgument:
    case absl::StatusCode::kFailedPrecondition:
    case absl::StatusCode::kOutOfRange:
      return 400;
    case absl::StatusCode::kDeadlineExceeded:
      return 504;
    case absl::StatusCode::kNotFound:
      return 404;
    case absl::StatusCode::kAlreadyExists:
    case absl::StatusCode::kAborted:
      return 409;
    case absl::StatusCode::kPermissionDenied:
      return 403;
    case absl::StatusCode::kResourceExhausted:
      return 429;
    case absl::StatusCode::kUnimplemented:
      return 501;
    case absl::StatusCode::kUnavailable:
      return 503;
    case absl::StatusCode::kUnauthenticated:
      return 401;
    default:
      return 500;
  }
}

namespace {

// RFC 9457 problem details, with the gRPC code's name beside the HTTP status.
http::Response Problem(int status, std::string_view code, std::string_view detail) {
  http::Response response;
  response.status = status;
  response.content_type = "application/problem+json";
  response.body = nlohmann::json{
      {"type", "about:blank"},
      {"title", http::ReasonPhrase(status)},
      {"status", status},
      {"code", code},
      {"detail",
       detail}}.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  return response;
}

http::Response Problem(const absl::Status& status) {
  return Problem(HttpStatusFor(status.code()), StatusCodeName(static_cast<int>(status.code())),
                 std::string_view(status.message().data(), status.message().size()));
}

bool IsJson(std::string_view content_type) {
  const std::string_view media = content_type.substr(0, content_type.find(';'));
  return absl::EqualsIgnoreCase(
      absl::StripAsciiWhitespace(absl::string_view(media.data(), media.size())),
      "application/json");
}

// %XX decoded; nullopt for a broken escape.
std::optional<std::string> PercentDecoded(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '%') {
      out.push_back(text[i]);
      continue;
    }
    if (i + 2 >= text.size() || !absl::ascii_isxdigit(static_cast<unsigned char>(text[i + 1])) ||
        !absl::ascii_isxdigit(static_cast<unsigned char>(text[i + 2]))) {
      return std::nullopt;
    }
    out.push_back(static_cast<char>(std::stoi(std::string(text.substr(i + 1, 2)), nullptr, 16)));
    i += 2;
  }
  return out;
}

// The path's segments after "/v1/", each percent-decoded; nullopt when the
// path is not under /v1/ or holds a broken escape.
std::optional<std::vector<std::string>> Segments(std::string_view path) {
  constexpr std::string_view kPrefix = "/v1/";
  if (path.substr(0, kPrefix.size()) != kPrefix) return std::nullopt;
  path.remove_prefix(kPrefix.size());
  std::vector<std::string> out;
  for (;;) {
    const size_t slash = path.find('/');
    auto segment = PercentDecoded(path.substr(0, slash));
    if (!segment || segment->empty()) return std::nullopt;
    out.push_back(*std::move(segment));
    if (slash == std::string_view::npos) return out;
    path.remove_prefix(slash + 1);
  }
}

// Whether the query sets `name` (or its lowerCamelCase form) to true or 1.
bool QueryFlag(std::string_view query, std::string_view name, std::string_view camel) {
  for (std::string_view rest = query; !rest.empty();) {
    const size_t amp = rest.find('&');
    const std::string_view pair = rest.substr(0, amp);
    const size_t eq = pair.find('=');
    const std::string_view key = pair.substr(0, eq);
    const std::string_view value = eq == std::string_view::npos ? "" : pair.substr(eq + 1);
    if ((key == name || key == camel) && (value == "true" || value == "1")) return true;
    if (amp == std::string_view::npos) break;
    rest.remove_prefix(amp + 1);
  }
  return false;
}

}  // namespace

struct RestGateway::Routes {
  TransactionStore& store;
  TransactionCommitter& committer;
  ApprovalStore& approvals;
  const Responder& responder;

  void Handle(http::Request request, http::Respond respond) const {
    const size_t question = request.target.find('?');
    const std::string_view path = std::string_view(request.target).substr(0, question);
    const std::string_view query = question == std::string::npos
                                       ? std::string_view()
                                       : std::string_view(request.target).substr(question + 1);
    const auto segments = Segments(path);
    if (!segments) return respond(Problem(404, "NOT_FOUND", "no route for " + std::string(path)));
    const std::vector<std::string>& at = *segments;
    const std::string& method = request.method;
    // Each route: its segments, the one method it takes, and what it does.
    if (at.size() == 1 && at[0] == "health") {
      if (method != "GET") return respond(NotAllowed("GET"));
      return respond({200, "application/json", R"({"status":"SERVING"})", {}});
    }
    if (at.size() == 1 && at[0] == "transactions") {
      if (!Posted(request, respond)) return;
      return SubmitTransaction(std::move(request), std::move(respond));
    }
    if (at.size() == 1 && at[0] == "transactions:batch") {
      if (!Posted(request, respond)) return;
      return SubmitBatch(std::move(request), std::move(respond));
    }
    if (at.size() == 2 && at[0] == "transactions") {
      if (method != "GET") return respond(NotAllowed("GET"));
      if (!Admitted(request, respond)) return;
      return Answer(responder, request.peer, 200, store.Get(at[1]), std::move(respond));
    }
    if (at.size() == 1 && at[0] == "approvals") {
      if (!Posted(request, respond)) return;
      av1::ApprovalRequest submitted;
      if (!Decoded(request.body, &submitted, respond) || !Admitted(request, respond)) return;
      return Answer(responder, request.peer, 201, approvals.Submit(submitted), std::move(respond));
    }
    if (at.size() == 2 && at[0] == "approvals") {
      if (method != "GET") return respond(NotAllowed("GET"));
      if (!Admitted(request, respond)) return;
      const bool votes = QueryFlag(query, "include_votes", "includeVotes");
      return Answer(responder, request.peer, 200, approvals.Get(at[1], votes), std::move(respond));
    }
    if (at.size() == 3 && at[0] == "approvals" && at[2] == "votes") {
      if (!Posted(request, respond)) return;
      av1::ValidatorResponse vote;
      if (!Decoded(request.body, &vote, respond)) return;
      if (vote.approval_id().empty()) vote.set_approval_id(at[1]);
      if (vote.approval_id() != at[1]) {
        responder.Count(absl::StatusCode::kInvalidArgument);
        return respond(Problem(absl::InvalidArgumentError(absl::StrCat(
            "approvalId: '", vote.approval_id(), "' in the body, '", at[1], "' in the path"))));
      }
      if (!Admitted(request, respond)) return;
      return Answer(responder, request.peer, 200, approvals.Vote(vote), std::move(respond));
    }
    respond(Problem(404, "NOT_FOUND", "no route for " + std::string(path)));
  }

  // A POST with a JSON body, or its refusal.
  static bool Posted(const http::Request& request, const http::Respond& respond) {
    if (request.method != "POST") {
      respond(NotAllowed("POST"));
      return false;
    }
    if (!IsJson(request.content_type)) {
      respond(UnsupportedType(request.content_type));
      return false;
    }
    return true;
  }

  // Ends an admitted call with its outcome: the message as JSON with
  // `ok_status`, or its problem; faults as for gRPC. Static, holding nothing
  // of the gateway: an outcome may come after the gateway has stopped.
  template <typename Message>
  static void Answer(const Responder& responder, const std::string& peer, int ok_status,
                     const absl::StatusOr<Message>& outcome, http::Respond respond) {
    absl::StatusOr<std::string> body = outcome.ok() ? ToJson(*outcome) : outcome.status();
    const absl::Status status = body.status();  // before the body moves into the callback
    responder.Conclude(peer, status,
                       [ok_status, body = std::move(body),
                        respond = std::move(respond)](const absl::Status& final_status) {
                         if (!final_status.ok()) return respond(Problem(final_status));
                         respond({ok_status, "application/json", *body, {}});
                       });
  }

  void SubmitTransaction(http::Request request, http::Respond respond) const {
    tv1::Transaction tx;
    if (!Decoded(request.body, &tx, respond) || !Admitted(request, respond)) return;
    committer.Submit(tx, "",
                     [&responder = responder, peer = request.peer,
                      respond](absl::StatusOr<tv1::TransactionResponse> outcome) {
                       Answer(responder, peer, 201, outcome, respond);
                     });
  }

  void SubmitBatch(http::Request request, http::Respond respond) const {
    tv1::BatchRequest batch;
    if (!Decoded(request.body, &batch, respond) || !Admitted(request, respond)) return;
    committer.SubmitBatch(batch, "",
                          [&responder = responder, peer = request.peer,
                           respond](absl::StatusOr<tv1::BatchResponse> outcome) {
                            Answer(responder, peer, 200, outcome, respond);
                          });
  }

  template <typename Message>
  bool Decoded(const std::string& body, Message* message, const http::Respond& respond) const {
    const absl::Status decoded = FromJson(body, message);
    if (decoded.ok()) return true;
    responder.Count(decoded.code());
    respond(Problem(decoded));
    return false;
  }

  bool Admitted(const http::Request& request, const http::Respond& respond) const {
    if (responder.Admit(request.peer)) return true;
    const absl::Status overloaded = responder.OverloadedStatus();
    responder.Count(overloaded.code());
    respond(Problem(overloaded));
    return false;
  }

  static http::Response NotAllowed(const char* allowed) {
    http::Response response =
        Problem(405, "UNIMPLEMENTED", absl::StrCat("this path takes ", allowed, " only"));
    response.headers.emplace_back("Allow", allowed);
    return response;
  }

  static http::Response UnsupportedType(const std::string& content_type) {
    return Problem(
        415, "INVALID_ARGUMENT",
        absl::StrCat("Content-Type '", content_type, "': the body must be application/json"));
  }
};

RestGateway::RestGateway(std::unique_ptr<Routes> routes,
                         std::unique_ptr<WebSocketChannels> channels,
                         std::unique_ptr<http::Server> server)
    : routes_(std::move(routes)), channels_(std::move(channels)), server_(std::move(server)) {}

RestGateway::~RestGateway() { Stop(); }

void RestGateway::Stop() {
  server_->Stop();
  channels_->CloseAll();
}

absl::StatusOr<std::unique_ptr<RestGateway>> RestGateway::Start(
    const http::ServerOptions& options, TransactionStore& store, TransactionCommitter& committer,
    ApprovalStore& approvals, const Responder& responder, Streaming& streaming) {
  auto routes = std::make_unique<Routes>(Routes{store, committer, approvals, responder});
  auto channels = std::make_unique<WebSocketChannels>(streaming, committer, responder);
  const Routes* handler = routes.get();
  WebSocketChannels* websockets = channels.get();
  http::ServerOptions with_streams = options;
  // A WebSocket subscriber is cut off as a gRPC one is.
  with_streams.websocket_queue_bound = streaming.options.stream_queue_bound;
  auto server = http::Server::Start(
      with_streams,
      [handler](http::Request request, http::Respond respond) {
        handler->Handle(std::move(request), std::move(respond));
      },
      [websockets](const http::Request& request,
                   std::shared_ptr<http::WebSocketConnection> connection) {
        return websockets->Open(request, std::move(connection));
      });
  if (!server.ok()) return server.status();
  return std::unique_ptr<RestGateway>(
      new RestGateway(std::move(routes), std::move(channels), *std::move(server)));
}

}  // namespace aurigraph::refserver
