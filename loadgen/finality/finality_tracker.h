// Matches the requests a run sends with the events that say they are final (a
// transaction committed, seen on a subscription to the target's event stream),
// and records per request item: submit -> final latency from the intended send
// time, and what never matched. Each item is kept until it is resolved: seen
// final, or its timeout passed; an item acknowledged OK and not seen final in
// time is lost. Matching is a hash lookup per event; items are kept in send
// order and expire from the front, so memory is bounded by the send rate times
// the timeout (and by a hard bound, past which the oldest items are dropped and
// counted). Thread-safe: workers report sends and answers, a subscription
// thread reports events and moves time on. Knows nothing of gRPC or protobuf.
#pragma once

#include <cstdint>
#include <deque>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "loadgen/interfaces/request_tracker.h"
#include "loadgen/recorder/interval_timeline.h"

namespace aurigraph::loadgen {

struct FinalityTrackerOptions {
  int64_t timeout_nanos = 5'000'000'000;  // from the intended send time
  size_t max_items = 4'000'000;           // kept at once
};

class FinalityTracker final : public RequestTracker {
 public:
  // `request_keys[op]` reads the keys of operation `op`'s requests (the
  // driver's numbering); `event_keys` those of an event. `intervals` records
  // operation `op`'s finality figures (its own operation ids map `op` to the
  // timeline's finality operation) and must outlive the tracker.
  FinalityTracker(std::vector<const KeyReader*> request_keys, const KeyReader& event_keys,
                  IntervalRecorder& intervals, FinalityTrackerOptions options);

  TrackedRequest Sent(uint32_t operation, std::string_view request, int64_t intended_nanos,
                      int64_t sent_nanos) override;
  void Answered(TrackedRequest request, bool ok, int64_t now_nanos) override;

  // An event from subscription `subscription` (< 64) received at `now_nanos`;
  // one for an item past its timeout is too late (unmatched, never final).
  void Observed(uint32_t subscription, std::string_view event, int64_t now_nanos);
  // A subscription ended and is being reopened: finals may be missed meanwhile.
  void SubscriptionBroke(int64_t now_nanos);
  // Resolves the items whose timeout has passed and hands over past intervals.
  void AdvanceTo(int64_t now_nanos);
  // Items not yet resolved (waiting to be seen final, or for their answer).
  size_t Pending() const;
  // Resolves every item left as of `now_nanos` (not seen final: lost when
  // acknowledged) and ends the tracker's contribution to the timeline.
  void Finish(int64_t now_nanos);

 private:
  enum class Answer : uint8_t { kPending, kOk, kFailed };
  struct Item {
    uint64_t key = 0;
    int64_t intended_nanos = 0;
    int64_t sent_nanos = 0;
    uint64_t seen_by = 0;  // a bit per subscription that reported it
    uint32_t operation = 0;
    Answer answer = Answer::kPending;
    bool final = false;
  };

  // Where item figures are recorded; null for a warm-up item after warm-up.
  IntervalOperation* RecordFor(const Item& item);
  // Removes the oldest item, counting it as it ends up (`dropped`: by the bound).
  void Retire(bool dropped);
  void ExpireUpTo(int64_t now_nanos);

  const std::vector<const KeyReader*> request_keys_;
  const KeyReader& event_keys_;
  const FinalityTrackerOptions options_;
  mutable std::mutex mu_;
  IntervalRecorder& intervals_;
  std::deque<Item> items_;  // in send order; items_[i] is number first_number_ + i
  uint64_t first_number_ = 0;
  absl::flat_hash_map<uint64_t, uint64_t> by_key_;  // key -> item number
  size_t unresolved_ = 0;                           // items not final
  std::vector<uint64_t> keys_;                      // reused per request and event
  const std::string lost_message_;                  // the status message of a lost item
};

}  // namespace aurigraph::loadgen
