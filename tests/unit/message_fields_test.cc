#include "loadgen/payload/message_fields.h"

#include <gtest/gtest.h>

#include "aurigraph/approval/v1/approval.pb.h"
#include "aurigraph/transaction/v1/transaction.pb.h"

namespace aurigraph::loadgen {
namespace {

namespace av1 = approval::v1;

TEST(FieldPath, ReadsNestedValuesFromWireBytes) {
  av1::ApprovalEvent event;
  event.set_correlation_id(123456789);
  event.set_sent_at_unix_nanos(1'700'000'000'000'000'000);
  event.mutable_state()->set_status(av1::APPROVAL_STATUS_APPROVED);
  event.mutable_state()->set_created_at_unix_nanos(42);
  const std::string bytes = event.SerializeAsString();
  const auto& type = *av1::ApprovalEvent::descriptor();
  EXPECT_EQ(FieldPath::Resolve(type, "sent_at_unix_nanos")->ReadInt(bytes),
            1'700'000'000'000'000'000);
  EXPECT_EQ(FieldPath::Resolve(type, "state.created_at_unix_nanos")->ReadInt(bytes), 42);
  EXPECT_EQ(FieldPath::Resolve(type, "state.status")->ReadInt(bytes), 2);
  EXPECT_EQ(*FieldPath::Resolve(type, "state.status")->ValueOf("APPROVAL_STATUS_APPROVED"), 2);
  EXPECT_EQ(FieldPath::Resolve(type, "correlation_id")->ReadKey(bytes), 123456789u);
  // proto3 leaves zeros off the wire: absent reads as the default.
  EXPECT_EQ(FieldPath::Resolve(type, "code")->ReadInt(bytes), std::nullopt);
  EXPECT_EQ(FieldPath::Resolve(type, "code")->ReadKey(bytes), 0u);
}

TEST(FieldPath, StringKeysMatchBetweenRequestAndReply) {
  transaction::v1::Transaction tx;
  tx.set_id("tx-77");
  tx.set_memo("other");
  transaction::v1::TransactionResponse reply;
  reply.set_id("tx-77");
  reply.set_code(6);
  const auto request_key = FieldPath::Resolve(*tx.GetDescriptor(), "id");
  const auto reply_key = FieldPath::Resolve(*reply.GetDescriptor(), "id");
  EXPECT_EQ(request_key->ReadKey(tx.SerializeAsString()),
            reply_key->ReadKey(reply.SerializeAsString()));
  reply.set_id("tx-78");
  EXPECT_NE(request_key->ReadKey(tx.SerializeAsString()),
            reply_key->ReadKey(reply.SerializeAsString()));
}

TEST(FieldPath, BadPathsAreRejectedByName) {
  const auto& type = *av1::ApprovalEvent::descriptor();
  EXPECT_EQ(FieldPath::Resolve(type, "nope").status().message(),
            "field path 'nope': no field 'nope' in aurigraph.approval.v1.ApprovalEvent");
  EXPECT_EQ(FieldPath::Resolve(type, "state").status().message(),
            "field path 'state' ends at a message, not a value");
  EXPECT_EQ(FieldPath::Resolve(type, "state.votes.reason").status().message(),
            "field path 'state.votes.reason': 'votes' is repeated");
}

TEST(ResponseCounter, CountsTheAcceptedItemsOfABatch) {
  transaction::v1::BatchResponse response;
  response.set_accepted(9'999);
  response.set_rejected(1);
  auto counter = CompileResponseCounter(*response.GetDescriptor(), "accepted");
  ASSERT_TRUE(counter.ok());
  EXPECT_EQ((*counter)->Count(response.SerializeAsString()), 9'999);
}

TEST(Inspector, PhaseIsReadOnlyWhenItsConditionHolds) {
  InspectorSpec spec;
  spec.phase_from = "state.created_at_unix_nanos";
  spec.phase_when = "state.status";
  spec.phase_equals = "APPROVAL_STATUS_APPROVED";
  auto inspector = CompileInspector(*av1::ValidatorResponse::descriptor(),
                                    *av1::ApprovalEvent::descriptor(), spec);
  ASSERT_TRUE(inspector.ok()) << inspector.status();
  av1::ApprovalEvent event;
  event.mutable_state()->set_created_at_unix_nanos(5);
  event.mutable_state()->set_status(av1::APPROVAL_STATUS_PENDING);
  EXPECT_FALSE((*inspector)->Inspect(event.SerializeAsString()).phase_start_unix_nanos);
  event.mutable_state()->set_status(av1::APPROVAL_STATUS_APPROVED);
  EXPECT_EQ((*inspector)->Inspect(event.SerializeAsString()).phase_start_unix_nanos, 5);
  spec.phase_equals = "APPROVED_ISH";
  EXPECT_EQ(CompileInspector(*av1::ValidatorResponse::descriptor(),
                             *av1::ApprovalEvent::descriptor(), spec)
                .status()
                .message(),
            "phase.equals: 'APPROVED_ISH' is not a value of aurigraph.approval.v1.ApprovalStatus: "
            "expected one of APPROVAL_STATUS_UNSPECIFIED, APPROVAL_STATUS_PENDING, "
            "APPROVAL_STATUS_APPROVED, APPROVAL_STATUS_REJECTED, APPROVAL_STATUS_EXPIRED, or a "
            "number");
}

}  // namespace
}  // namespace aurigraph::loadgen
