#include "loadgen/finality/subscriptions.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "common/backoff/backoff.h"
#include "common/status_codes/status_codes.h"
#include "common/units/units.h"

namespace aurigraph::loadgen {
namespace {

constexpr int64_t kFirstBackoffNanos = 100'000'000;
constexpr int64_t kMaxBackoffNanos = 2'000'000'000;
// How often the tracker's time moves on while no event comes.
constexpr int64_t kPollNanos = 5'000'000;

}  // namespace

FinalitySubscriptions::FinalitySubscriptions(
    const Clock& clock, StreamTransport& transport, std::vector<std::string> names,
    std::string request, std::vector<std::pair<std::string, std::string>> headers)
    : clock_(clock),
      transport_(transport),
      names_(std::move(names)),
      subscriptions_(names_.size()),
      request_(std::move(request)),
      header_values_(std::move(headers)) {
  for (const auto& [key, value] : header_values_) headers_.push_back(Header{key, value});
}

void FinalitySubscriptions::Start(uint32_t slot) {
  subscriptions_[slot].reopen_at = -1;
  transport_.Open(slot, 0, headers_);
}

absl::Status FinalitySubscriptions::Open(int64_t timeout_nanos) {
  for (uint32_t slot = 0; slot < subscriptions_.size(); ++slot) Start(slot);
  const int64_t deadline = clock_.NowNanos() + timeout_nanos;
  while (std::any_of(subscriptions_.begin(), subscriptions_.end(),
                     [](const Subscription& s) { return !s.open; })) {
    const int64_t left = deadline - clock_.NowNanos();
    StreamTransport::Event event;
    // Next() may return early with nothing: only the deadline ends the wait.
    if (left > 0 && !transport_.Next(left, &event)) continue;
    if (left <= 0) {
      for (uint32_t slot = 0; slot < subscriptions_.size(); ++slot) {
        if (!subscriptions_[slot].open) {
          return absl::UnavailableError(absl::StrCat("finality subscription to ", names_[slot],
                                                     ": not open within ",
                                                     FormatDuration(timeout_nanos)));
        }
      }
    }
    switch (event.type) {
      case StreamTransport::EventType::kOpened:
        if (event.ok) transport_.Write(event.slot, request_);
        break;
      case StreamTransport::EventType::kWritten:
        transport_.CloseSend(event.slot);
        subscriptions_[event.slot].open = event.ok;
        break;
      case StreamTransport::EventType::kMessage:
        break;
      case StreamTransport::EventType::kClosed:
        return absl::UnavailableError(absl::StrCat(
            "finality subscription to ", names_[event.slot], ": ",
            StatusCodeName(event.status_code),
            event.status_message.empty() ? ""
                                         : absl::StrCat(": ", std::string(event.status_message))));
    }
  }
  return absl::OkStatus();
}

bool FinalitySubscriptions::Step(int64_t timeout_nanos) {
  StreamTransport::Event event;
  if (!transport_.Next(timeout_nanos, &event)) return false;
  const int64_t now = clock_.NowNanos();
  Subscription& s = subscriptions_[event.slot];
  switch (event.type) {
    case StreamTransport::EventType::kOpened:
      if (event.ok) transport_.Write(event.slot, request_);
      break;
    case StreamTransport::EventType::kWritten:
      if (event.ok) transport_.CloseSend(event.slot);
      break;
    case StreamTransport::EventType::kMessage:
      s.open = true;
      s.failures_in_row = 0;
      tracker_->Observed(event.slot, event.message, now);
      break;
    case StreamTransport::EventType::kClosed:
      s.open = false;
      tracker_->SubscriptionBroke(now);
      s.reopen_at = now + Backoff{kFirstBackoffNanos, kMaxBackoffNanos}.After(++s.failures_in_row);
      break;
  }
  return true;
}

void FinalitySubscriptions::Run(FinalityTracker& tracker) {
  tracker_ = &tracker;
  while (!stop_.load(std::memory_order_relaxed)) {
    const int64_t now = clock_.NowNanos();
    for (uint32_t slot = 0; slot < subscriptions_.size(); ++slot) {
      if (subscriptions_[slot].reopen_at >= 0 && now >= subscriptions_[slot].reopen_at) Start(slot);
    }
    // What has arrived (a bounded helping, so reopening and stopping are not
    // starved), then a short wait for more.
    for (int i = 0; i < 256 && Step(0); ++i) {
    }
    Step(kPollNanos);
    tracker_->AdvanceTo(clock_.NowNanos());
  }
}

}  // namespace aurigraph::loadgen
