// The reference server's limits over real gRPC on loopback: compressed
// requests are inflated by the server within the message limit; a request it
// cannot decode is answered with a status that says why, on every method.
#include <google/protobuf/descriptor.h>
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <chrono>
#include <future>

#include "absl/strings/str_cat.h"
#include "aurigraph/approval/v1/approval.grpc.pb.h"
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

// Every method of the three services decodes its request itself: bytes that
// are not the request message are INTERNAL, named, never gRPC's bare UNIMPLEMENTED.
TEST(Limits, EveryMethodNamesARequestItCannotParse) {
  auto server = StartServer();
  auto channel = Connect(server->address(), 1);
  const auto* pool = google::protobuf::DescriptorPool::generated_pool();
  int methods = 0;
  for (const std::string& name :
       {av1::ApprovalService::service_full_name(), tv1::TransactionService::service_full_name(),
        webhook::v1::WebhookService::service_full_name()}) {
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
  EXPECT_EQ(methods, 8 + 5 + 10);
}

}  // namespace
}  // namespace aurigraph
