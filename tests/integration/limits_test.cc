// The reference server's limits over real gRPC on loopback: compressed
// requests are inflated by the server within the message limit; a request it
// cannot decode is answered with a status that says why, on every method; and
// unary calls beyond --max-in-flight are shed with RESOURCE_EXHAUSTED, the
// connection holding the most first.
#include <google/protobuf/descriptor.h>
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <chrono>
#include <future>
#include <thread>

#include "absl/strings/str_cat.h"
#include "aurigraph/approval/v1/approval.grpc.pb.h"
#include "aurigraph/contract/v1/contract.grpc.pb.h"
#include "aurigraph/crypto/v1/crypto.grpc.pb.h"
#include "aurigraph/network/v1/network.grpc.pb.h"
#include "aurigraph/storage/v1/storage.grpc.pb.h"
#include "aurigraph/traceability/v1/traceability.grpc.pb.h"
#include "aurigraph/transaction/v1/transaction.grpc.pb.h"
#include "aurigraph/webhook/v1/webhook.grpc.pb.h"
#include "tests/integration/harness.h"

namespace aurigraph {
namespace {

namespace av1 = approval::v1;
namespace tv1 = transaction::v1;

// A channel of its own (its own TCP connection).
std::shared_ptr<grpc::Channel> Connect(const std::string& address, int id) {
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  args.SetInt("limits_test.channel", id);
  return grpc::CreateCustomChannel(address, grpc::InsecureChannelCredentials(), args);
}

// Sends `bytes` as the one request message of `method` (any kind of method:
// the generic client half-closes after it) and returns the call's status.
grpc::Status SendRaw(grpc::Channel& channel, const std::string& method, const std::string& bytes) {
  class Call final : public grpc::ClientBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer> {
   public:
    explicit Call(const std::string& bytes) {
      grpc::Slice slice(bytes);
      request_ = grpc::ByteBuffer(&slice, 1);
    }
    void Start() {
      StartWrite(&request_);
      StartWritesDone();
      StartRead(&response_);
      StartCall();
    }
    void OnReadDone(bool ok) override {
      if (ok) StartRead(&response_);
    }
    void OnDone(const grpc::Status& status) override { done_.set_value(status); }
    grpc::ClientContext context;
    std::promise<grpc::Status> done_;

   private:
    grpc::ByteBuffer request_, response_;
  };
  grpc::GenericStub stub(channel.shared_from_this());
  Call call(bytes);
  call.context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  auto status = call.done_.get_future();
  stub.PrepareBidiStreamingCall(&call.context, method, grpc::StubOptions(), &call);
  call.Start();
  return status.get();
}

TEST(Limits, GzipRequestsAreServedAndABombIsRefusedAtTheLimit) {
  auto server = StartServer();
  auto stub = tv1::TransactionService::NewStub(Connect(server->address(), 1));
  tv1::Transaction tx;
  tx.set_id("gzip-1");
  tx.set_sender("alice");
  tx.set_receiver("bob");
  tx.set_amount(5);
  tx.set_memo(std::string(4096, 'm'));  // compressible, so gRPC really compresses it
  {
    grpc::ClientContext context;
    context.set_compression_algorithm(GRPC_COMPRESS_GZIP);
    tv1::TransactionResponse response;
    const grpc::Status status = stub->SubmitTransaction(&context, tx, &response);
    // The store checks content_hash: reaching that check means the request was inflated and parsed.
    EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << status.error_message();
    EXPECT_EQ(server->handled().by_code[grpc::StatusCode::INVALID_ARGUMENT].load(), 1);
  }
  {
    tx.set_memo(std::string(65 << 20, '\0'));  // inflates beyond the 64 MiB limit
    grpc::ClientContext context;
    context.set_compression_algorithm(GRPC_COMPRESS_DEFLATE);
    tv1::TransactionResponse response;
    const grpc::Status status = stub->SubmitTransaction(&context, tx, &response);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
    EXPECT_EQ(status.error_message(),
              "the deflate request inflates to more than 67108864 bytes, the message limit");
  }
}

// Every method of every service a single server serves decodes its request
// itself: bytes that are not the request message are INTERNAL, named, never
// gRPC's bare UNIMPLEMENTED.
TEST(Limits, EveryMethodNamesARequestItCannotParse) {
  auto server = StartServer();
  auto channel = Connect(server->address(), 1);
  const auto* pool = google::protobuf::DescriptorPool::generated_pool();
  int methods = 0;
  for (const char* name :
       {av1::ApprovalService::service_full_name(), tv1::TransactionService::service_full_name(),
        webhook::v1::WebhookService::service_full_name(),
        contract::v1::ContractService::service_full_name(),
        crypto::v1::CryptoService::service_full_name(),
        network::v1::NetworkService::service_full_name(),
        storage::v1::StorageService::service_full_name(),
        traceability::v1::TraceabilityService::service_full_name()}) {
    const auto* service = pool->FindServiceByName(name);
    ASSERT_NE(service, nullptr) << name;
    for (int i = 0; i < service->method_count(); ++i, ++methods) {
      const auto* method = service->method(i);
      const grpc::Status status =
          SendRaw(*channel, absl::StrCat("/", name, "/", method->name()), "\xff\xff\xff");
      EXPECT_EQ(status.error_code(), grpc::StatusCode::INTERNAL) << method->full_name();
      EXPECT_EQ(status.error_message(),
                absl::StrCat("the request is not a valid ", method->input_type()->full_name()))
          << method->full_name();
    }
  }
  EXPECT_EQ(methods, 8 + 5 + 10 + 4 + 4 + 5 + 5 + 5);
}

// With every response held 300 ms, a client keeping 60 calls in flight meets
// --max-in-flight 20: the excess is refused at once, while a call on another
// connection is still admitted; the server never holds more than the bound allows.
TEST(Limits, CallsBeyondMaxInFlightAreShedFairly) {
  refserver::ServerOptions options;
  ASSERT_TRUE(refserver::ParseLatencySpec("fixed:300ms", &options.faults).ok());
  options.max_in_flight = 20;
  auto server = StartServer(options);
  auto flood = av1::ApprovalService::NewStub(Connect(server->address(), 1));
  auto polite = av1::ApprovalService::NewStub(Connect(server->address(), 2));
  struct Call {
    grpc::ClientContext context;
    common::v1::HealthRequest request;
    common::v1::HealthResponse response;
    std::promise<grpc::Status> done;
    std::chrono::steady_clock::time_point answered;
  };
  std::vector<std::unique_ptr<Call>> calls;
  for (int i = 0; i < 60; ++i) {
    auto& call = *calls.emplace_back(std::make_unique<Call>());
    flood->async()->CheckHealth(&call.context, &call.request, &call.response,
                                [&call](grpc::Status status) {
                                  call.answered = std::chrono::steady_clock::now();
                                  call.done.set_value(status);
                                });
  }
  // Wait until the server holds the flood's admitted calls, then call from the other connection.
  for (int i = 0; i < 200 && server->call_gate().in_flight() < 20; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  ASSERT_EQ(server->call_gate().in_flight(), 20);
  {
    grpc::ClientContext context;
    common::v1::HealthResponse response;
    EXPECT_TRUE(polite->CheckHealth(&context, common::v1::HealthRequest(), &response).ok());
  }
  int ok = 0, shed = 0;
  auto first_ok = std::chrono::steady_clock::time_point::max();
  auto last_shed = std::chrono::steady_clock::time_point::min();
  for (auto& call : calls) {
    const grpc::Status status = call->done.get_future().get();
    if (status.ok()) {
      ++ok;
      first_ok = std::min(first_ok, call->answered);
    } else {
      ++shed;
      last_shed = std::max(last_shed, call->answered);
      EXPECT_EQ(status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
      EXPECT_EQ(status.error_message(),
                "server overloaded: 20 calls in flight (--max-in-flight); retry later");
    }
  }
  EXPECT_EQ(ok, 20);
  EXPECT_EQ(shed, 40);
  EXPECT_EQ(server->call_gate().refused(), 40);
  EXPECT_EQ(server->call_gate().in_flight(), 0);
  EXPECT_EQ(server->handled().by_code[grpc::StatusCode::RESOURCE_EXHAUSTED].load(), 40);
  // Shed calls were answered at once, before the admitted ones' 300 ms were up.
  EXPECT_LT(last_shed, first_ok);
}

}  // namespace
}  // namespace aurigraph
