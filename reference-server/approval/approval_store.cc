#include "reference-server/approval/approval_store.h"

#include <algorithm>
#include <functional>

#include "absl/strings/str_cat.h"

namespace aurigraph::refserver {

using approval::v1::ApprovalRequest;
using approval::v1::ApprovalState;
using approval::v1::ApprovalStatus;
using approval::v1::ValidatorDecision;
using approval::v1::ValidatorResponse;

namespace {
constexpr size_t kShards = 64;
constexpr size_t kMaxIdLength = 128;

const char* StatusName(ApprovalStatus status) {
  return approval::v1::ApprovalStatus_Name(status).c_str() + sizeof("APPROVAL_STATUS_") - 1;
}
}  // namespace

ApprovalStore::ApprovalStore(const Clock& clock, Options options)
    : clock_(clock), options_(options) {
  for (size_t i = 0; i < kShards; ++i) shards_.push_back(std::make_unique<Shard>());
}

ApprovalStore::Shard& ApprovalStore::ShardFor(const std::string& id) {
  return *shards_[std::hash<std::string>{}(id) % kShards];
}

void ApprovalStore::Notify(Change change, const ApprovalState& state) const {
  if (!observer_) return;
  if (state.votes_size() == 0) {
    observer_(change, state);
    return;
  }
  ApprovalState without_votes = state;
  without_votes.clear_votes();
  observer_(change, without_votes);
}

void ApprovalStore::ExpireIfDue(Entry& entry, int64_t now) {
  ApprovalState& s = entry.state;
  if (s.status() == approval::v1::APPROVAL_STATUS_PENDING && now >= s.deadline_unix_nanos()) {
    s.set_status(approval::v1::APPROVAL_STATUS_EXPIRED);
    s.set_updated_at_unix_nanos(now);
    s.set_finalized_at_unix_nanos(s.deadline_unix_nanos());
    counters_.expired.fetch_add(1, std::memory_order_relaxed);
    Notify(Change::kExpired, s);
  }
}

absl::StatusOr<ApprovalState> ApprovalStore::Submit(const ApprovalRequest& request) {
  if (request.total_validators() < 1) {
    return absl::InvalidArgumentError("total_validators must be >= 1");
  }
  if (request.required_approvals() < 1 ||
      request.required_approvals() > request.total_validators()) {
    return absl::InvalidArgumentError(
        absl::StrCat("required_approvals must be in 1..", request.total_validators()));
  }
  if (request.validator_ids_size() != 0 &&
      request.validator_ids_size() != request.total_validators()) {
    return absl::InvalidArgumentError("validator_ids must list exactly total_validators ids");
  }
  std::vector<std::string> allowed(request.validator_ids().begin(), request.validator_ids().end());
  std::sort(allowed.begin(), allowed.end());
  if (std::adjacent_find(allowed.begin(), allowed.end()) != allowed.end()) {
    return absl::InvalidArgumentError("validator_ids has duplicates");
  }
  if (request.ttl_ms() < 0) return absl::InvalidArgumentError("ttl_ms must be >= 0");
  if (request.approval_id().size() > kMaxIdLength) {
    return absl::InvalidArgumentError("approval_id longer than 128 bytes");
  }
  const int64_t now = clock_.NowNanos();
  const std::string id =
      request.approval_id().empty()
          ? absl::StrCat("apr-", next_id_.fetch_add(1, std::memory_order_relaxed))
          : request.approval_id();
  Entry entry;
  ApprovalState& s = entry.state;
  s.set_approval_id(id);
  s.set_status(approval::v1::APPROVAL_STATUS_PENDING);
  s.set_type(request.type());
  s.set_priority(request.priority());
  s.set_total_validators(request.total_validators());
  s.set_required_approvals(request.required_approvals());
  s.set_created_at_unix_nanos(now);
  s.set_updated_at_unix_nanos(now);
  s.set_deadline_unix_nanos(
      now + (request.ttl_ms() > 0 ? request.ttl_ms() * 1'000'000 : options_.default_ttl_nanos));
  entry.allowed_validators = std::move(allowed);
  Shard& shard = ShardFor(id);
  {
    std::lock_guard lock(shard.mutex);
    if (!shard.entries.try_emplace(id, entry).second) {
      return absl::AlreadyExistsError(absl::StrCat("approval ", id, " already exists"));
    }
    Notify(Change::kCreated, s);
  }
  counters_.submitted.fetch_add(1, std::memory_order_relaxed);
  return s;
}

absl::StatusOr<ApprovalState> ApprovalStore::Get(const std::string& approval_id,
                                                 bool include_votes) {
  Shard& shard = ShardFor(approval_id);
  std::lock_guard lock(shard.mutex);
  const auto it = shard.entries.find(approval_id);
  if (it == shard.entries.end()) {
    return absl::NotFoundError(absl::StrCat("approval ", approval_id, " not found"));
  }
  ExpireIfDue(it->second, clock_.NowNanos());
  ApprovalState state = it->second.state;
  if (!include_votes) state.clear_votes();
  return state;
}

absl::StatusOr<ApprovalState> ApprovalStore::Vote(const ValidatorResponse& vote) {
  if (vote.validator_id().empty()) return absl::InvalidArgumentError("validator_id is required");
  const ValidatorDecision decision = vote.decision();
  if (decision != approval::v1::VALIDATOR_DECISION_APPROVE &&
      decision != approval::v1::VALIDATOR_DECISION_REJECT &&
      decision != approval::v1::VALIDATOR_DECISION_ABSTAIN) {
    return absl::InvalidArgumentError("decision must be APPROVE, REJECT or ABSTAIN");
  }
  Shard& shard = ShardFor(vote.approval_id());
  std::lock_guard lock(shard.mutex);
  const auto it = shard.entries.find(vote.approval_id());
  if (it == shard.entries.end()) {
    return absl::NotFoundError(absl::StrCat("approval ", vote.approval_id(), " not found"));
  }
  Entry& entry = it->second;
  ApprovalState& s = entry.state;
  const int64_t now = clock_.NowNanos();
  ExpireIfDue(entry, now);
  if (s.status() != approval::v1::APPROVAL_STATUS_PENDING) {
    return absl::FailedPreconditionError(
        absl::StrCat("approval ", s.approval_id(), " is already ", StatusName(s.status())));
  }
  if (!entry.allowed_validators.empty() &&
      !std::binary_search(entry.allowed_validators.begin(), entry.allowed_validators.end(),
                          vote.validator_id())) {
    return absl::PermissionDeniedError(
        absl::StrCat("validator ", vote.validator_id(), " is not in the voting set"));
  }
  for (const auto& cast : s.votes()) {
    if (cast.validator_id() == vote.validator_id()) {
      return absl::AlreadyExistsError(
          absl::StrCat("validator ", vote.validator_id(), " already voted on ", s.approval_id()));
    }
  }
  auto* recorded = s.add_votes();
  recorded->set_validator_id(vote.validator_id());
  recorded->set_decision(decision);
  recorded->set_voted_at_unix_nanos(now);
  recorded->set_reason(vote.reason());
  if (decision == approval::v1::VALIDATOR_DECISION_APPROVE)
    s.set_approvals(s.approvals() + 1);
  else if (decision == approval::v1::VALIDATOR_DECISION_REJECT)
    s.set_rejections(s.rejections() + 1);
  else
    s.set_abstentions(s.abstentions() + 1);
  s.set_updated_at_unix_nanos(now);
  counters_.votes.fetch_add(1, std::memory_order_relaxed);

  const int32_t remaining = s.total_validators() - s.votes_size();
  if (s.approvals() >= s.required_approvals()) {
    s.set_status(approval::v1::APPROVAL_STATUS_APPROVED);
    s.set_finalized_at_unix_nanos(now);
    counters_.approved.fetch_add(1, std::memory_order_relaxed);
  } else if (s.approvals() + remaining < s.required_approvals()) {
    s.set_status(approval::v1::APPROVAL_STATUS_REJECTED);
    s.set_finalized_at_unix_nanos(now);
    counters_.rejected.fetch_add(1, std::memory_order_relaxed);
  }
  ApprovalState reply = s;
  reply.clear_votes();
  if (observer_) {
    observer_(s.status() == approval::v1::APPROVAL_STATUS_PENDING ? Change::kVoteRecorded
                                                                  : Change::kFinalized,
              reply);
  }
  return reply;
}

int64_t ApprovalStore::Sweep() {
  const int64_t now = clock_.NowNanos();
  int64_t forgotten = 0;
  for (auto& shard : shards_) {
    std::lock_guard lock(shard->mutex);
    for (auto it = shard->entries.begin(); it != shard->entries.end();) {
      ExpireIfDue(it->second, now);
      const ApprovalState& s = it->second.state;
      if (s.status() != approval::v1::APPROVAL_STATUS_PENDING &&
          now - s.finalized_at_unix_nanos() >= options_.retention_nanos) {
        it = shard->entries.erase(it);
        ++forgotten;
      } else {
        ++it;
      }
    }
  }
  counters_.evicted.fetch_add(forgotten, std::memory_order_relaxed);
  return forgotten;
}

std::vector<ApprovalState> ApprovalStore::Pending(const std::string& validator_id, size_t limit) {
  std::vector<ApprovalState> pending;
  const int64_t now = clock_.NowNanos();
  for (auto& shard : shards_) {
    std::lock_guard lock(shard->mutex);
    for (auto& [id, entry] : shard->entries) {
      if (pending.size() >= limit) return pending;
      ExpireIfDue(entry, now);
      const ApprovalState& s = entry.state;
      if (s.status() != approval::v1::APPROVAL_STATUS_PENDING) continue;
      const bool voted = std::any_of(s.votes().begin(), s.votes().end(), [&](const auto& vote) {
        return vote.validator_id() == validator_id;
      });
      if (validator_id.empty() || !voted) {
        pending.push_back(s);
        pending.back().clear_votes();
      }
    }
  }
  return pending;
}

int64_t ApprovalStore::size() const {
  int64_t total = 0;
  for (const auto& shard : shards_) {
    std::lock_guard lock(shard->mutex);
    total += static_cast<int64_t>(shard->entries.size());
  }
  return total;
}

}  // namespace aurigraph::refserver
