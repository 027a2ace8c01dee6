#include "reference-server/service/websocket_channel.h"

#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/input/json_check.h"
#include "common/status_codes/status_codes.h"
#include "reference-server/service/json_mapping.h"

namespace aurigraph::refserver {
namespace {

namespace av1 = approval::v1;
namespace tv1 = transaction::v1;

constexpr int kInvalidPayload = 1007;  // RFC 6455: a message inconsistent with its type
constexpr int kInternalError = 1011;

// Member `key` of `request` when it is a string; "" when it is absent.
absl::StatusOr<std::string> StringMember(const nlohmann::json& request, const char* key) {
  if (!request.contains(key)) return std::string();
  if (!request[key].is_string()) {
    return absl::InvalidArgumentError(absl::StrCat("\"", key, "\" must be a string"));
  }
  return request[key].get<std::string>();
}

std::string Quoted(const nlohmann::json& id) {
  return id.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

// {"type":TYPE,"id":ID,...}: `rest` is the members after the id, with their leading comma.
std::string Envelope(const char* type, const nlohmann::json& id, const std::string& rest) {
  return absl::StrCat(R"({"type":")", type, R"(","id":)", Quoted(id), rest, "}");
}

std::string ErrorMessage(const char* type, const nlohmann::json& id, const absl::Status& status) {
  return Envelope(
      type, id,
      absl::StrCat(R"(,"code":")", StatusCodeName(static_cast<int>(status.code())),
                   R"(","message":)",
                   nlohmann::json(std::string(status.message()))
                       .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace)));
}

// One subscription: events of one hub that pass its filter, sent on the connection.
template <typename Event>
class Subscription final : public EventHub<Event>::Subscriber {
 public:
  using Wants = std::function<bool(const Event&)>;
  using Render = std::function<std::string(const Event&)>;
  Subscription(EventHub<Event>& hub, std::shared_ptr<http::WebSocketConnection> connection,
               nlohmann::json id, Wants wants, Render render)
      : hub_(hub),
        connection_(std::move(connection)),
        prefix_(absl::StrCat(R"({"type":"event","id":)", Quoted(id), R"(,"event":)")),
        wants_(std::move(wants)),
        render_(std::move(render)) {}

  void Deliver(const std::shared_ptr<const Event>& event) override {
    if (!wants_(*event)) return;
    // Rendered when its turn to be written comes, as a gRPC stream's is.
    connection_->Publish([this_prefix = prefix_, render = render_, event] {
      return absl::StrCat(this_prefix, render(*event), "}");
    });
  }
  void Remove() { hub_.Remove(this); }

 private:
  EventHub<Event>& hub_;
  std::shared_ptr<http::WebSocketConnection> connection_;
  std::string prefix_;
  Wants wants_;
  Render render_;
};

}  // namespace

struct WebSocketChannels::Shared {
  Shared(Streaming& s, TransactionCommitter& c, const Responder& r)
      : streaming(s), committer(c), responder(r) {}
  Streaming& streaming;
  TransactionCommitter& committer;
  const Responder& responder;
  std::mutex mutex;
  std::vector<std::weak_ptr<http::WebSocketSession>> channels;
};

namespace {

class Channel final : public http::WebSocketSession {
 public:
  Channel(std::shared_ptr<WebSocketChannels::Shared> shared,
          std::shared_ptr<http::WebSocketConnection> connection, std::string peer)
      : shared_(std::move(shared)), connection_(std::move(connection)), peer_(std::move(peer)) {}

  // The JSON library throws on what it cannot convert: a request it throws on
  // is a bug here, answered with 1011, never one that ends the server.
  void OnText(std::string text) override {
    try {
      Serve(text);
    } catch (const std::exception& e) {
      connection_->Close(kInternalError, absl::StrCat("internal error: ", e.what()));
    }
  }

  void OnClosed() override { RemoveAll(); }

  void RemoveAll() {
    std::map<std::string, std::function<void()>> removers;
    {
      std::lock_guard lock(mutex_);
      removers.swap(removers_);
    }
    for (auto& [key, remove] : removers) remove();
  }

 private:
  void Serve(const std::string& text) {
    nlohmann::json request = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
    if (request.is_discarded()) {
      return connection_->Close(kInvalidPayload, "the message is not JSON");
    }
    if (absl::Status checked = CheckUntrustedJson(request); !checked.ok()) {
      return connection_->Close(kInvalidPayload, std::string(checked.message()));
    }
    const nlohmann::json id =
        request.is_object() && request.contains("id") ? request["id"] : nlohmann::json();
    if (!request.is_object() || !request.contains("op") || !request["op"].is_string()) {
      return Refuse(id, absl::InvalidArgumentError(R"(expected an object with an "op")"));
    }
    const std::string op = request["op"].get<std::string>();
    if (op == "subscribe") return Subscribe(request, id);
    if (op == "unsubscribe") return Unsubscribe(id);
    if (op == "submit") return Submit(request, id);
    Refuse(id, absl::InvalidArgumentError(absl::StrCat(
                   "unknown op '", op, "': expected subscribe, unsubscribe or submit")));
  }

  void Refuse(const nlohmann::json& id, const absl::Status& status) {
    connection_->Send([text = ErrorMessage("error", id, status)] { return text; });
  }

  void Subscribe(const nlohmann::json& request, const nlohmann::json& id) {
    const std::string key = Quoted(id);
    const auto topic = StringMember(request, "topic");
    const auto account = StringMember(request, "account");
    const auto approval = StringMember(request, "approval_id");
    for (const auto* member : {&topic, &account, &approval}) {
      if (!member->ok()) return Refuse(id, member->status());
    }
    {
      std::lock_guard lock(mutex_);
      if (id.is_null() || removers_.count(key) > 0) {
        return Refuse(id, id.is_null() ? absl::InvalidArgumentError("a subscription needs an id")
                                       : absl::AlreadyExistsError("a subscription has that id"));
      }
    }
    Streaming& s = shared_->streaming;
    const Clock& wall = s.wall;
    if (*topic == "transactions") {
      auto subscription = std::make_shared<Subscription<CommittedEvent>>(
          s.transaction_events, connection_, id,
          [account = *account](const CommittedEvent& e) { return e.Concerns(account); },
          [&wall](const CommittedEvent& e) {
            tv1::CommittedTransaction event = e.Message();
            event.set_sent_at_unix_nanos(wall.NowNanos());
            return ToJson(event).value_or("null");
          });
      Added(key, id, s.transaction_events, subscription);
      return;
    }
    if (*topic == "approvals") {
      auto subscription = std::make_shared<Subscription<av1::ApprovalEvent>>(
          s.approval_events, connection_, id,
          [approval = *approval](const av1::ApprovalEvent& e) {
            return approval.empty() || e.state().approval_id() == approval;
          },
          [&wall](const av1::ApprovalEvent& e) {
            av1::ApprovalEvent event = e;
            event.set_sent_at_unix_nanos(wall.NowNanos());
            return ToJson(event).value_or("null");
          });
      Added(key, id, s.approval_events, subscription);
      return;
    }
    Refuse(id, absl::InvalidArgumentError(
                   absl::StrCat("topic '", *topic, "': expected transactions or approvals")));
  }

  // Confirms the subscription, then adds it to its hub (so nothing comes before the confirmation).
  template <typename Event>
  void Added(const std::string& key, const nlohmann::json& id, EventHub<Event>& hub,
             std::shared_ptr<Subscription<Event>> subscription) {
    connection_->Send([text = Envelope("subscribed", id, "")] { return text; });
    {
      std::lock_guard lock(mutex_);
      removers_[key] = [subscription] { subscription->Remove(); };
    }
    hub.Add(std::move(subscription));
  }

  void Unsubscribe(const nlohmann::json& id) {
    std::function<void()> remove;
    {
      std::lock_guard lock(mutex_);
      const auto it = removers_.find(Quoted(id));
      if (it != removers_.end()) {
        remove = std::move(it->second);
        removers_.erase(it);
      }
    }
    if (!remove) return Refuse(id, absl::NotFoundError("no subscription has that id"));
    remove();
    connection_->Send([text = Envelope("unsubscribed", id, "")] { return text; });
  }

  void Submit(const nlohmann::json& request, const nlohmann::json& id) {
    const Responder& responder = shared_->responder;
    tv1::Transaction tx;
    const absl::Status decoded =
        request.contains("transaction")
            ? FromJson(request["transaction"].dump(), &tx, "transaction")
            : absl::InvalidArgumentError(R"(submit needs a "transaction")");
    if (!decoded.ok()) {
      responder.Count(decoded.code());
      return Reply(id, decoded, "");
    }
    if (!responder.Admit(peer_)) {
      const absl::Status overloaded = responder.OverloadedStatus();
      responder.Count(overloaded.code());
      return Reply(id, overloaded, "");
    }
    shared_->committer.Submit(
        tx, "",
        [&responder, peer = peer_, connection = connection_,
         id](absl::StatusOr<tv1::TransactionResponse> outcome) {
          absl::StatusOr<std::string> body = outcome.ok() ? ToJson(*outcome) : outcome.status();
          const absl::Status status = body.status();
          responder.Conclude(
              peer, status, [connection, id, body = std::move(body)](const absl::Status& final) {
                connection->Send(
                    [text = final.ok()
                                ? Envelope("reply", id,
                                           absl::StrCat(R"(,"code":"OK","response":)", *body))
                                : ErrorMessage("reply", id, final)] { return text; });
              });
        });
  }

  void Reply(const nlohmann::json& id, const absl::Status& status, const std::string& response) {
    connection_->Send(
        [text = status.ok()
                    ? Envelope("reply", id, absl::StrCat(R"(,"code":"OK","response":)", response))
                    : ErrorMessage("reply", id, status)] { return text; });
  }

  std::shared_ptr<WebSocketChannels::Shared> shared_;
  std::shared_ptr<http::WebSocketConnection> connection_;
  std::string peer_;
  std::mutex mutex_;
  std::map<std::string, std::function<void()>> removers_;  // by the subscription's id, as JSON
};

}  // namespace

WebSocketChannels::WebSocketChannels(Streaming& streaming, TransactionCommitter& committer,
                                     const Responder& responder)
    : shared_(std::make_shared<Shared>(streaming, committer, responder)) {}

WebSocketChannels::~WebSocketChannels() { CloseAll(); }

std::shared_ptr<http::WebSocketSession> WebSocketChannels::Open(
    const http::Request& request, std::shared_ptr<http::WebSocketConnection> connection) {
  if (request.target != "/v1/ws") return nullptr;
  auto channel = std::make_shared<Channel>(shared_, std::move(connection), request.peer);
  std::lock_guard lock(shared_->mutex);
  // Forget channels that ended, so the list stays as long as the open ones.
  std::erase_if(shared_->channels, [](const auto& c) { return c.expired(); });
  shared_->channels.push_back(channel);
  return channel;
}

void WebSocketChannels::CloseAll() {
  std::vector<std::weak_ptr<http::WebSocketSession>> channels;
  {
    std::lock_guard lock(shared_->mutex);
    channels.swap(shared_->channels);
  }
  for (const auto& weak : channels) {
    if (const auto channel = weak.lock()) static_cast<Channel&>(*channel).RemoveAll();
  }
}

}  // namespace aurigraph::refserver
