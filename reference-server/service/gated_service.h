// The reference server's services take every request through two checks
// before their implementation sees it: the request is decoded by the server
// itself, within the message limit (decoding/decoded_request.h), and a unary
// call must be admitted by the call gate (admission/call_gate.h). A request
// that fails either ends its call with the status saying why.
//
// GatedService sits between a generated callback service and its
// implementation, and re-registers the implementation's methods with handlers
// whose request type is Decoded<Request> (ArenaDecoded<Request> for unary
// calls, decoded onto the call's arena); the implementation names each method
// once in its constructor:
//
//   Unary("SubmitApprovalRequest", &Impl::SubmitApprovalRequest);
//
// Unary and server-streaming implementations keep the generated signatures
// (a server stream may write grpc::ByteBuffer instead of its response type:
// messages serialized beforehand);
// client-streaming and bidi reactors read Decoded<Request> and end their call
// with its error when it is set.
#pragma once

#include <google/protobuf/descriptor.h>
#include <grpcpp/grpcpp.h>
#include <grpcpp/impl/codegen/server_callback_handlers.h>

#include <cstdlib>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "reference-server/decoding/decoded_request.h"
#include "reference-server/service/responder.h"

namespace aurigraph::refserver {

// A reactor that only ends its call with `status`.
template <typename Reactor>
class Refusal final : public Reactor {
 public:
  explicit Refusal(const grpc::Status& status) { this->Finish(status); }
  void OnDone() override { delete this; }
};

// A unary call's messages: the request on an arena of its own, the response
// on the heap as gRPC's own holder keeps it (services move their outcome into
// it, which across arenas would be a copy). Freed when gRPC releases the call.
template <typename Request, typename Response>
class ArenaRequests final : public grpc::MessageAllocator<ArenaDecoded<Request>, Response> {
 public:
  grpc::MessageHolder<ArenaDecoded<Request>, Response>* AllocateMessages() override {
    return new Holder;
  }

 private:
  class Holder final : public grpc::MessageHolder<ArenaDecoded<Request>, Response> {
   public:
    Holder() {
      decoded_.message = google::protobuf::Arena::CreateMessage<Request>(&arena_);
      this->set_request(&decoded_);
      this->set_response(&response_);
    }
    void Release() override { delete this; }

   private:
    google::protobuf::Arena arena_;
    ArenaDecoded<Request> decoded_;
    Response response_;
  };
};

template <typename Generated>
class GatedService : public Generated {
 protected:
  // `service` is the service's full name, e.g. "aurigraph.approval.v1.ApprovalService".
  GatedService(const std::string& service, const Responder& responder)
      : descriptor_(google::protobuf::DescriptorPool::generated_pool()->FindServiceByName(service)),
        responder_(responder) {}

  template <typename Impl, typename Request, typename Response>
  void Unary(const std::string& method,
             grpc::ServerUnaryReactor* (Impl::*handler)(grpc::CallbackServerContext*,
                                                        const Request*, Response*)) {
    RegisterUnary(method, handler, /*gated=*/true);
  }
  // Decoded like Unary, but never refused by the call gate: a method other
  // nodes call, which clients overloading this node must not cut off.
  template <typename Impl, typename Request, typename Response>
  void NodeToNodeUnary(const std::string& method,
                       grpc::ServerUnaryReactor* (Impl::*handler)(grpc::CallbackServerContext*,
                                                                  const Request*, Response*)) {
    RegisterUnary(method, handler, /*gated=*/false);
  }

  template <typename Impl, typename Request, typename Response>
  void ServerStreaming(const std::string& method,
                       grpc::ServerWriteReactor<Response>* (Impl::*handler)(
                           grpc::CallbackServerContext*, const Request*)) {
    Impl* impl = static_cast<Impl*>(this);
    this->MarkMethodCallback(
        IndexOf(method),
        new grpc::internal::CallbackServerStreamingHandler<Decoded<Request>, Response>(
            [impl, handler](grpc::CallbackServerContext* context, const Decoded<Request>* request)
                -> grpc::ServerWriteReactor<Response>* {
              if (!request->error.ok()) {
                return new Refusal<grpc::ServerWriteReactor<Response>>(request->error);
              }
              return (impl->*handler)(context, &request->message);
            }));
  }

  template <typename Impl, typename Request, typename Response>
  void ClientStreaming(const std::string& method,
                       grpc::ServerReadReactor<Decoded<Request>>* (Impl::*handler)(
                           grpc::CallbackServerContext*, Response*)) {
    Impl* impl = static_cast<Impl*>(this);
    this->MarkMethodCallback(
        IndexOf(method),
        new grpc::internal::CallbackClientStreamingHandler<Decoded<Request>, Response>(
            [impl, handler](grpc::CallbackServerContext* context, Response* response) {
              return (impl->*handler)(context, response);
            }));
  }

  template <typename Impl, typename Request, typename Response>
  void Bidi(const std::string& method, grpc::ServerBidiReactor<Decoded<Request>, Response>* (
                                           Impl::*handler)(grpc::CallbackServerContext*)) {
    Impl* impl = static_cast<Impl*>(this);
    this->MarkMethodCallback(IndexOf(method),
                             new grpc::internal::CallbackBidiHandler<Decoded<Request>, Response>(
                                 [impl, handler](grpc::CallbackServerContext* context) {
                                   return (impl->*handler)(context);
                                 }));
  }

 private:
  template <typename Impl, typename Request, typename Response>
  void RegisterUnary(const std::string& method,
                     grpc::ServerUnaryReactor* (Impl::*handler)(grpc::CallbackServerContext*,
                                                                const Request*, Response*),
                     bool gated) {
    Impl* impl = static_cast<Impl*>(this);
    const Responder& responder = responder_;
    auto* unary = new grpc::internal::CallbackUnaryHandler<ArenaDecoded<Request>, Response>(
        [impl, handler, &responder, gated](grpc::CallbackServerContext* context,
                                           const ArenaDecoded<Request>* request,
                                           Response* response) -> grpc::ServerUnaryReactor* {
          if (!request->error.ok()) return responder.Refuse(context, request->error);
          if (gated && !responder.Admit(context))
            return responder.Refuse(context, responder.Overloaded());
          return (impl->*handler)(context, request->message, response);
        });
    auto allocator = std::make_shared<ArenaRequests<Request, Response>>();
    unary->SetMessageAllocator(allocator.get());
    allocators_.push_back(std::move(allocator));
    this->MarkMethodCallback(IndexOf(method), unary);
  }

  // gRPC numbers a service's methods in the order the .proto declares them.
  int IndexOf(const std::string& method) const {
    const google::protobuf::MethodDescriptor* found =
        descriptor_ == nullptr ? nullptr : descriptor_->FindMethodByName(method);
    if (found == nullptr) {
      std::cerr << "aurigraph-refserver: no method " << method << " to register\n";
      std::abort();  // a programming error: the names are the .proto's
    }
    return found->index();
  }

  const google::protobuf::ServiceDescriptor* descriptor_;
  const Responder& responder_;
  std::vector<std::shared_ptr<void>> allocators_;  // the unary methods' ArenaRequests
};

}  // namespace aurigraph::refserver
