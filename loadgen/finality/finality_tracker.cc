#include "loadgen/finality/finality_tracker.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "common/units/units.h"
#include "loadgen/histogram/latency.h"

namespace aurigraph::loadgen {
namespace {

constexpr int kDeadlineExceeded = 4;

}  // namespace

FinalityTracker::FinalityTracker(std::vector<const KeyReader*> request_keys,
                                 const KeyReader& event_keys, IntervalRecorder& intervals,
                                 FinalityTrackerOptions options)
    : request_keys_(std::move(request_keys)),
      event_keys_(event_keys),
      options_(options),
      intervals_(intervals),
      lost_message_(absl::StrCat("acknowledged, not seen final within ",
                                 FormatDuration(options.timeout_nanos))) {}

IntervalOperation* FinalityTracker::RecordFor(const Item& item) {
  return intervals_.OperationFor(item.operation, item.intended_nanos);
}

TrackedRequest FinalityTracker::Sent(uint32_t operation, std::string_view request,
                                     int64_t intended_nanos, int64_t sent_nanos) {
  std::lock_guard lock(mu_);
  intervals_.AdvanceTo(sent_nanos);
  keys_.clear();
  request_keys_[operation]->ReadKeys(request, &keys_);
  const TrackedRequest tracked{first_number_ + items_.size(), static_cast<uint32_t>(keys_.size())};
  for (const uint64_t key : keys_) {
    if (items_.size() >= options_.max_items) Retire(/*dropped=*/true);
    const Item& item = items_.emplace_back(Item{key, intended_nanos, sent_nanos, 0, operation});
    by_key_[key] = first_number_ + items_.size() - 1;
    ++unresolved_;
    if (IntervalOperation* record = RecordFor(item)) ++record->finals().tracked;
  }
  return tracked;
}

void FinalityTracker::Answered(TrackedRequest request, bool ok, int64_t now_nanos) {
  std::lock_guard lock(mu_);
  intervals_.AdvanceTo(now_nanos);
  for (uint64_t n = std::max(request.first, first_number_); n < request.first + request.count;
       ++n) {
    Item& item = items_[n - first_number_];
    item.answer = ok ? Answer::kOk : Answer::kFailed;
    if (!ok && item.final) {
      if (IntervalOperation* record = RecordFor(item)) ++record->finals().final_without_ack;
    }
  }
  ExpireUpTo(now_nanos);
}

void FinalityTracker::Observed(uint32_t subscription, std::string_view event, int64_t now_nanos) {
  std::lock_guard lock(mu_);
  intervals_.AdvanceTo(now_nanos);
  keys_.clear();
  event_keys_.ReadKeys(event, &keys_);
  for (const uint64_t key : keys_) {
    const auto found = by_key_.find(key);
    if (found == by_key_.end()) {
      if (intervals_.measured()) ++intervals_.operation(0).finals().unmatched_events;
      continue;
    }
    Item& item = items_[found->second - first_number_];
    // Seen after its timeout (before it was expired): too late to be final.
    if (!item.final && now_nanos >= item.intended_nanos + options_.timeout_nanos) {
      if (intervals_.measured()) ++intervals_.operation(0).finals().unmatched_events;
      continue;
    }
    IntervalOperation* record = RecordFor(item);
    const uint64_t bit = uint64_t{1} << (subscription & 63);
    if ((item.seen_by & bit) != 0 && record != nullptr) ++record->finals().duplicates;
    item.seen_by |= bit;
    if (item.final) continue;
    item.final = true;
    --unresolved_;
    if (record == nullptr) continue;
    record->Record(NanosToMicros(now_nanos - item.intended_nanos),
                   NanosToMicros(now_nanos - item.sent_nanos), 0);
    if (item.answer == Answer::kFailed) ++record->finals().final_without_ack;
  }
}

void FinalityTracker::SubscriptionBroke(int64_t now_nanos) {
  std::lock_guard lock(mu_);
  intervals_.AdvanceTo(now_nanos);
  if (intervals_.measured()) ++intervals_.operation(0).finals().subscription_breaks;
}

void FinalityTracker::AdvanceTo(int64_t now_nanos) {
  std::lock_guard lock(mu_);
  intervals_.AdvanceTo(now_nanos);
  ExpireUpTo(now_nanos);
}

size_t FinalityTracker::Pending() const {
  std::lock_guard lock(mu_);
  return unresolved_;
}

void FinalityTracker::Finish(int64_t now_nanos) {
  std::lock_guard lock(mu_);
  intervals_.AdvanceTo(now_nanos);
  while (!items_.empty()) Retire(/*dropped=*/false);
  intervals_.Finish();
}

void FinalityTracker::ExpireUpTo(int64_t now_nanos) {
  // An item waits for its answer too: whether it is lost depends on it (the
  // call's own deadline, and the drain at the end, bound the wait).
  while (!items_.empty() && now_nanos >= items_.front().intended_nanos + options_.timeout_nanos &&
         items_.front().answer != Answer::kPending) {
    Retire(/*dropped=*/false);
  }
}

void FinalityTracker::Retire(bool dropped) {
  const Item& item = items_.front();
  if (!item.final) {
    --unresolved_;
    if (IntervalOperation* record = RecordFor(item)) {
      if (dropped) {
        ++record->finals().untracked;
      } else if (item.answer == Answer::kOk) {
        ++record->finals().lost;
        const int64_t timeout_us = NanosToMicros(options_.timeout_nanos);
        record->Record(timeout_us,
                       timeout_us - NanosToMicros(item.sent_nanos - item.intended_nanos),
                       kDeadlineExceeded, lost_message_);
      } else {
        ++record->finals().not_final_unacked;
      }
    }
  }
  const auto found = by_key_.find(item.key);
  if (found != by_key_.end() && found->second == first_number_) by_key_.erase(found);
  items_.pop_front();
  ++first_number_;
}

}  // namespace aurigraph::loadgen
