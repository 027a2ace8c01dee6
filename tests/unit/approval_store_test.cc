#include "reference-server/approval/approval_store.h"

#include <gtest/gtest.h>

namespace aurigraph::refserver {
namespace {

using namespace approval::v1;

constexpr int64_t kSecond = 1'000'000'000;

ApprovalRequest Request(const std::string& id, int total, int required) {
  ApprovalRequest r;
  r.set_approval_id(id);
  r.set_total_validators(total);
  r.set_required_approvals(required);
  r.set_ttl_ms(10'000);
  return r;
}

ValidatorResponse VoteOf(const std::string& id, const std::string& validator, ValidatorDecision d) {
  ValidatorResponse v;
  v.set_approval_id(id);
  v.set_validator_id(validator);
  v.set_decision(d);
  return v;
}

class ApprovalStoreTest : public ::testing::Test {
 protected:
  ManualClock clock{1'000 * kSecond};
  ApprovalStore store{clock, ApprovalStore::Options{60 * kSecond, 30 * kSecond}};
};

TEST_F(ApprovalStoreTest, QuorumOfApprovalsFinalizesAsApproved) {
  ASSERT_TRUE(store.Submit(Request("a", 5, 3)).ok());
  EXPECT_EQ(store.Vote(VoteOf("a", "v1", VALIDATOR_DECISION_APPROVE))->status(),
            APPROVAL_STATUS_PENDING);
  EXPECT_EQ(store.Vote(VoteOf("a", "v2", VALIDATOR_DECISION_REJECT))->status(),
            APPROVAL_STATUS_PENDING);
  EXPECT_EQ(store.Vote(VoteOf("a", "v3", VALIDATOR_DECISION_APPROVE))->status(),
            APPROVAL_STATUS_PENDING);
  auto final_state = store.Vote(VoteOf("a", "v4", VALIDATOR_DECISION_APPROVE));
  EXPECT_EQ(final_state->status(), APPROVAL_STATUS_APPROVED);
  EXPECT_EQ(final_state->approvals(), 3);
  EXPECT_EQ(final_state->rejections(), 1);
  EXPECT_EQ(store.Vote(VoteOf("a", "v5", VALIDATOR_DECISION_APPROVE)).status().code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(store.Get("a", true)->votes_size(), 4);
  EXPECT_EQ(store.counters().approved.load(), 1);
}

TEST_F(ApprovalStoreTest, RejectedAsSoonAsTheQuorumCannotBeReached) {
  ASSERT_TRUE(store.Submit(Request("b", 5, 4)).ok());
  EXPECT_EQ(store.Vote(VoteOf("b", "v1", VALIDATOR_DECISION_REJECT))->status(),
            APPROVAL_STATUS_PENDING);
  // 0 approvals + 3 remaining < 4 required.
  EXPECT_EQ(store.Vote(VoteOf("b", "v2", VALIDATOR_DECISION_ABSTAIN))->status(),
            APPROVAL_STATUS_REJECTED);
}

TEST_F(ApprovalStoreTest, ExpiresAtItsDeadline) {
  ASSERT_TRUE(store.Submit(Request("c", 3, 2)).ok());
  clock.Advance(9 * kSecond);
  EXPECT_EQ(store.Get("c", false)->status(), APPROVAL_STATUS_PENDING);
  clock.Advance(1 * kSecond);
  EXPECT_EQ(store.Get("c", false)->status(), APPROVAL_STATUS_EXPIRED);
  EXPECT_EQ(store.Vote(VoteOf("c", "v1", VALIDATOR_DECISION_APPROVE)).status().code(),
            absl::StatusCode::kFailedPrecondition);
}

TEST_F(ApprovalStoreTest, VotesAreValidated) {
  ApprovalRequest r = Request("d", 2, 2);
  r.add_validator_ids("alice");
  r.add_validator_ids("bob");
  ASSERT_TRUE(store.Submit(r).ok());
  EXPECT_EQ(store.Vote(VoteOf("d", "mallory", VALIDATOR_DECISION_APPROVE)).status().code(),
            absl::StatusCode::kPermissionDenied);
  ASSERT_TRUE(store.Vote(VoteOf("d", "alice", VALIDATOR_DECISION_APPROVE)).ok());
  EXPECT_EQ(store.Vote(VoteOf("d", "alice", VALIDATOR_DECISION_APPROVE)).status().code(),
            absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(store.Vote(VoteOf("d", "bob", VALIDATOR_DECISION_UNSPECIFIED)).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(store.Vote(VoteOf("zzz", "bob", VALIDATOR_DECISION_APPROVE)).status().code(),
            absl::StatusCode::kNotFound);
}

TEST_F(ApprovalStoreTest, SubmissionsAreValidated) {
  EXPECT_EQ(store.Submit(Request("e", 0, 0)).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(store.Submit(Request("e", 3, 4)).status().code(), absl::StatusCode::kInvalidArgument);
  ASSERT_TRUE(store.Submit(Request("e", 3, 2)).ok());
  EXPECT_EQ(store.Submit(Request("e", 3, 2)).status().code(), absl::StatusCode::kAlreadyExists);
  auto generated = store.Submit(Request("", 1, 1));
  ASSERT_TRUE(generated.ok());
  EXPECT_FALSE(generated->approval_id().empty());
}

TEST_F(ApprovalStoreTest, SweepForgetsOldFinalizedApprovalsOnly) {
  ASSERT_TRUE(store.Submit(Request("f", 1, 1)).ok());
  ASSERT_TRUE(store.Submit(Request("g", 3, 2)).ok());
  ASSERT_TRUE(store.Vote(VoteOf("f", "v", VALIDATOR_DECISION_APPROVE)).ok());
  clock.Advance(29 * kSecond);
  EXPECT_EQ(store.Sweep(), 0);  // g expired at 10 s, f finalized at 0 s: both younger than 30 s
  clock.Advance(2 * kSecond);
  EXPECT_EQ(store.Sweep(), 1);  // f is 31 s old; g expired 21 s ago
  EXPECT_EQ(store.size(), 1);
  clock.Advance(10 * kSecond);
  EXPECT_EQ(store.Sweep(), 1);
  EXPECT_EQ(store.size(), 0);
}

}  // namespace
}  // namespace aurigraph::refserver
