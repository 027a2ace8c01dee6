// Approval requests and validator votes: the state machine behind
// ApprovalService. A request is PENDING until enough validators approve
// (APPROVED), until the quorum can no longer be reached (REJECTED), or until its
// deadline passes (EXPIRED). Thread-safe (sharded locks); time is injected.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <unordered_map>
#include <vector>

#include "absl/status/statusor.h"
#include "aurigraph/approval/v1/approval.pb.h"
#include "common/clock/clock.h"

namespace aurigraph::refserver {

class ApprovalStore {
 public:
  struct Options {
    int64_t default_ttl_nanos = 60'000'000'000;
    // Finalized approvals are forgotten this long after finalization (bounded memory in soaks).
    int64_t retention_nanos = 300'000'000'000;
  };
  struct Counters {
    std::atomic<int64_t> submitted{0}, votes{0}, approved{0}, rejected{0}, expired{0}, evicted{0};
  };

  enum class Change { kCreated, kVoteRecorded, kFinalized, kExpired };
  // Told of every change while the approval is locked, so one approval's changes
  // arrive in order; must not call back into the store. The state has no votes.
  using Observer = std::function<void(Change, const approval::v1::ApprovalState&)>;

  // `clock` reads Unix-epoch nanoseconds (WallClock in production).
  ApprovalStore(const Clock& clock, Options options);
  // Set before the store is shared between threads.
  void SetObserver(Observer observer) { observer_ = std::move(observer); }

  absl::StatusOr<approval::v1::ApprovalState> Submit(const approval::v1::ApprovalRequest& request);
  absl::StatusOr<approval::v1::ApprovalState> Get(const std::string& approval_id,
                                                  bool include_votes);
  absl::StatusOr<approval::v1::ApprovalState> Vote(const approval::v1::ValidatorResponse& vote);
  // Expires overdue approvals and forgets old finalized ones; returns how many were forgotten.
  int64_t Sweep();
  // Pending approvals `validator_id` has not voted on (all pending when empty), at most `limit`.
  std::vector<approval::v1::ApprovalState> Pending(const std::string& validator_id, size_t limit);
  int64_t size() const;
  const Counters& counters() const { return counters_; }

 private:
  struct Entry {
    approval::v1::ApprovalState state;
    std::vector<std::string> allowed_validators;  // empty: any
  };
  struct Shard {
    mutable std::mutex mutex;
    std::unordered_map<std::string, Entry> entries;
  };
  Shard& ShardFor(const std::string& id);
  // Moves a PENDING entry past its deadline to EXPIRED.
  void ExpireIfDue(Entry& entry, int64_t now);
  void Notify(Change change, const approval::v1::ApprovalState& state) const;

  const Clock& clock_;
  Options options_;
  std::vector<std::unique_ptr<Shard>> shards_;
  std::atomic<uint64_t> next_id_{1};
  Counters counters_;
  Observer observer_;
};

}  // namespace aurigraph::refserver
