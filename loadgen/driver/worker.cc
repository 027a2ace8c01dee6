#include "loadgen/driver/worker.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <string_view>

namespace aurigraph::loadgen {
namespace {
// The status message of a request that could not be built (request_source.h):
// told apart from a target's INVALID_ARGUMENT.
constexpr std::string_view kNotBuiltMessage = "not sent: the loadgen could not build the request";

// The total concurrency `t` into the run.
// The most calls a closed-loop worker starts before it looks at completions,
// `stop` and the clock again.
constexpr int kMaxSendBurst = 256;

int64_t ConcurrencyLevel(const LoadProfile& profile, int64_t t) {
  return static_cast<int64_t>(std::floor(profile.ValueAt(t)));
}
}  // namespace

Worker::Worker(const Clock& clock, Transport& transport, std::vector<RequestSource*> sources,
               std::unique_ptr<ArrivalSchedule> schedule, WorkerPlan plan)
    : clock_(clock),
      transport_(transport),
      sources_(std::move(sources)),
      schedule_(std::move(schedule)),
      plan_(std::move(plan)),
      concurrency_(plan_.concurrency_profile),
      rng_(plan_.seed * 0x2545F4914F6CDD1DULL + static_cast<uint64_t>(plan_.worker_index)),
      slots_(plan_.max_in_flight),
      next_sequence_(static_cast<uint64_t>(plan_.worker_index)) {
  double sum = 0;
  for (double w : plan_.operation_weights) cumulative_weights_.push_back(sum += w);
  free_slots_.reserve(plan_.max_in_flight);
  for (uint32_t i = plan_.max_in_flight; i > 0; --i) free_slots_.push_back(i - 1);
}

bool Worker::MaySend(int64_t intended_nanos) const {
  if (plan_.max_requests > 0 && sent_ >= plan_.max_requests) return false;
  return plan_.duration_nanos <= 0 || intended_nanos < plan_.start_nanos + plan_.duration_nanos;
}

bool Worker::DueWhileSlotsBusy(int64_t intended_nanos) {
  while (!busy_periods_.empty() && busy_periods_.front().end < intended_nanos) {
    busy_periods_.pop_front();
  }
  return !busy_periods_.empty() && intended_nanos >= busy_periods_.front().start;
}

int64_t Worker::BusyNanosBefore(int64_t t) const {
  // `t` is a due time: near the front, as busy periods before it are dropped.
  int64_t busy = busy_periods_.empty() ? busy_nanos_closed_ : busy_periods_.front().busy_before;
  for (const BusyPeriod& period : busy_periods_) {
    if (period.start > t) break;
    busy = period.busy_before + std::min(t, period.end) - period.start;
  }
  return busy;
}

int64_t Worker::BusyNanosUntil(int64_t now) const {
  if (busy_periods_.empty()) return busy_nanos_closed_;
  const BusyPeriod& last = busy_periods_.back();
  return last.busy_before + std::min(now, last.end) - last.start;
}

void Worker::CountNotSent(int64_t next_intended, int64_t now) {
  int64_t not_sent = 0;
  GeneratorCounts& counts = plan_.intervals->generator();
  while (MaySend(next_intended) &&
         (plan_.max_requests <= 0 || sent_ + not_sent < plan_.max_requests)) {
    ++not_sent;
    // As for a send's own lag: the time every slot was busy held it back, not
    // the generator; within the grace the rest is no more than a late wake-up.
    DueWhileSlotsBusy(next_intended);  // drops the busy periods before it
    const int64_t own_lag =
        now - next_intended - (BusyNanosUntil(now) - BusyNanosBefore(next_intended));
    ++(own_lag <= plan_.end_grace_nanos ? counts.not_sent_in_flight_bound
                                        : counts.not_sent_generator_behind);
    next_intended = plan_.start_nanos + schedule_->Next();
  }
}

uint32_t Worker::AllowedInFlight(int64_t now) const {
  if (plan_.concurrency_profile.empty()) return plan_.max_in_flight;
  const int64_t level = ConcurrencyLevel(concurrency_, now - plan_.start_nanos);
  return static_cast<uint32_t>(std::min<int64_t>(
      plan_.max_in_flight, WorkerShare(level, plan_.worker_count, plan_.worker_index)));
}

int64_t Worker::NextRiseOfConcurrency(int64_t now) const {
  if (plan_.concurrency_profile.empty()) return std::numeric_limits<int64_t>::max();
  const int64_t t = now - plan_.start_nanos;
  return plan_.start_nanos + concurrency_.TimeValueReaches(
                                 static_cast<double>(ConcurrencyLevel(concurrency_, t) + 1), t + 1);
}

uint32_t Worker::PickOperation() {
  if (cumulative_weights_.size() == 1) return 0;
  std::uniform_real_distribution<double> pick(0.0, cumulative_weights_.back());
  const double x = pick(rng_);
  const auto it = std::upper_bound(cumulative_weights_.begin(), cumulative_weights_.end(), x);
  return static_cast<uint32_t>(
      std::min<size_t>(it - cumulative_weights_.begin(), cumulative_weights_.size() - 1));
}

void Worker::StartCall(int64_t intended_nanos, int64_t now) {
  const uint32_t slot = free_slots_.back();
  free_slots_.pop_back();
  const uint32_t operation = PickOperation();
  slots_[slot] = Slot{intended_nanos, now, operation};
  // While every slot is busy, an open-loop request waits for the system under
  // test; only the rest of its lag is the generator's own. (Closed loop sends on
  // completion: its lag is always 0.)
  const bool open_loop = plan_.model == LoadModel::kOpenLoop;
  const bool waited_for_slot = open_loop && DueWhileSlotsBusy(intended_nanos);
  const int64_t waited_nanos =
      open_loop ? BusyNanosUntil(now) - BusyNanosBefore(intended_nanos) : 0;
  plan_.intervals->AdvanceTo(now);
  plan_.intervals->RecordSend(intended_nanos, NanosToMicros(now - intended_nanos),
                              NanosToMicros(now - intended_nanos - waited_nanos), waited_for_slot);
  ++sent_;
  const uint64_t sequence = next_sequence_;
  next_sequence_ += static_cast<uint64_t>(plan_.worker_count);
  RequestSource& source = *sources_[operation];
  const RequestContext context{sequence};
  const std::string_view request = source.Build(context);
  if (request.data() == nullptr) {  // not sent: it completes now (request_source.h)
    free_slots_.push_back(slot);
    ++plan_.intervals->generator().request_build_errors;
    Record(slots_[slot], kRequestNotBuiltStatus, kNotBuiltMessage, 0, now);
    return;
  }
  if (operation < plan_.trackers.size() && plan_.trackers[operation] != nullptr) {
    slots_[slot].tracked = plan_.trackers[operation]->Sent(operation, request, intended_nanos, now);
  }
  transport_.Start(slot, operation, request, source.BuildHeaders(context));
  if (free_slots_.empty() && open_loop) {
    // A slot freed and at once taken by a request that was already waiting was
    // handed over: every slot stayed busy for those in line behind it. (Else
    // each of them would count every hand-over ahead of it, the generator's
    // few microseconds per send, as its own lag: under a sustained overload,
    // hundreds of them.)
    constexpr int64_t kHandOverNanos = 1'000'000;
    if (!busy_periods_.empty() && intended_nanos <= busy_periods_.back().end &&
        now - busy_periods_.back().end <= kHandOverNanos) {
      busy_periods_.back().end = std::numeric_limits<int64_t>::max();
      busy_nanos_closed_ = busy_periods_.back().busy_before;
    } else {
      busy_periods_.push_back(
          BusyPeriod{now, std::numeric_limits<int64_t>::max(), busy_nanos_closed_});
    }
  }
}

void Worker::Complete(const Transport::Completion& completion) {
  const int64_t now =
      completion.completed_nanos > 0 ? completion.completed_nanos : clock_.NowNanos();
  const Slot& slot = slots_[completion.slot];
  if (free_slots_.empty() && !busy_periods_.empty()) {
    BusyPeriod& period = busy_periods_.back();
    // A call the transport saw end before the send that filled the last slot
    // ends the period as that send starts it.
    period.end = std::max(now, period.start);
    busy_nanos_closed_ = period.busy_before + period.end - period.start;
  }
  free_slots_.push_back(completion.slot);
  const int64_t items = completion.status_code == 0 &&
                                slot.operation < plan_.response_counters.size() &&
                                plan_.response_counters[slot.operation] != nullptr
                            ? plan_.response_counters[slot.operation]->Count(completion.response)
                            : 0;
  Record(slot, completion.status_code, completion.status_message, items, now);
}

void Worker::Record(const Slot& slot, int status_code, std::string_view status_message,
                    int64_t items, int64_t now) {
  if (slot.tracked.count > 0) {
    plan_.trackers[slot.operation]->Answered(slot.tracked, status_code == 0, now);
  }
  if (status_code == 0 && plan_.successes != nullptr) {
    plan_.successes->OnSuccess(slot.intended_nanos, now);
  }
  IntervalRecorder& intervals = *plan_.intervals;
  intervals.AdvanceTo(now);
  GeneratorCounts& counts = intervals.generator();
  counts.last_completion_nanos = std::max(counts.last_completion_nanos, now - plan_.start_nanos);
  if (slot.intended_nanos < plan_.start_nanos + plan_.warmup_nanos) ++counts.warmup_completions;
  IntervalOperation* interval = intervals.OperationFor(slot.operation, slot.intended_nanos);
  if (interval == nullptr) return;
  interval->Record(NanosToMicros(now - slot.intended_nanos), NanosToMicros(now - slot.sent_nanos),
                   status_code, status_message);
  interval->items += items;
}

void Worker::Run(const std::atomic<bool>* stop) {
  const bool open_loop = plan_.model == LoadModel::kOpenLoop;
  int64_t next_intended = open_loop ? plan_.start_nanos + schedule_->Next() : plan_.start_nanos;
  const int64_t end = plan_.duration_nanos > 0
                          ? plan_.start_nanos + plan_.duration_nanos + plan_.end_grace_nanos
                          : std::numeric_limits<int64_t>::max();
  const int64_t duration_end = plan_.duration_nanos > 0 ? plan_.start_nanos + plan_.duration_nanos
                                                        : std::numeric_limits<int64_t>::max();
  bool sending = true;
  int64_t drain_deadline = std::numeric_limits<int64_t>::max();
  bool cancelled = false;
  const auto in_flight = [&] { return plan_.max_in_flight - free_slots_.size(); };

  for (;;) {
    int64_t now = clock_.NowNanos();
    plan_.intervals->AdvanceTo(now);
    if (now < plan_.start_nanos) {
      Transport::Completion ignored;
      transport_.Next(plan_.start_nanos - now, &ignored);
      continue;
    }
    if (sending && stop != nullptr && stop->load(std::memory_order_relaxed)) sending = false;
    if (sending) {
      if (open_loop) {
        while (now < end && next_intended <= now && MaySend(next_intended)) {
          if (free_slots_.empty()) {
            // Calls that finished while this burst went out free their slots:
            // only calls really in flight make the target the one holding back.
            Transport::Completion finished;
            if (!transport_.Next(0, &finished)) break;
            do {
              Complete(finished);
            } while (transport_.Next(0, &finished));
            continue;
          }
          StartCall(next_intended, now);
          next_intended = plan_.start_nanos + schedule_->Next();
          // A burst of due requests takes time to send: each is stamped when it went out.
          now = clock_.NowNanos();
        }
        if (now >= end) CountNotSent(next_intended, now);
        // A run lasts its duration even when nothing more is due in it (a
        // profile that ends in a pause); a spent request budget ends it at once.
        const bool budget_spent = plan_.max_requests > 0 && sent_ >= plan_.max_requests;
        const bool nothing_due = !MaySend(next_intended);
        if (now >= end || budget_spent || (nothing_due && now >= duration_end)) sending = false;
      } else {
        // A burst of sends (a high concurrency, or a step up) goes out in
        // slices, so completions, `stop` and the clock are seen between them.
        const uint32_t allowed = AllowedInFlight(now);
        for (int burst = 0; burst < kMaxSendBurst && in_flight() < allowed && MaySend(now);
             ++burst) {
          StartCall(now, now);
          now = clock_.NowNanos();
        }
        if (!MaySend(now)) sending = false;
      }
      if (!sending) drain_deadline = now + plan_.drain_timeout_nanos;
    }
    if (!sending && in_flight() == 0) break;
    if (!sending && now >= drain_deadline && !cancelled) {
      plan_.intervals->generator().cancelled_at_drain = static_cast<int64_t>(in_flight());
      transport_.CancelAll();
      cancelled = true;
    }

    // Wake for the next due request, and at least every 50 ms to notice `stop`.
    int64_t wake = cancelled ? now + 1'000'000'000 : drain_deadline;
    bool wake_to_send = false;
    if (sending) {
      wake = std::min(now + 50'000'000, end);
      if (open_loop && !free_slots_.empty() && next_intended <= wake && MaySend(next_intended)) {
        wake = next_intended;
        wake_to_send = true;
      }
      if (open_loop && !MaySend(next_intended)) wake = std::min(wake, duration_end);
      if (!open_loop && in_flight() < AllowedInFlight(now) && MaySend(now)) wake = now;
      if (!open_loop) wake = std::min(wake, NextRiseOfConcurrency(now));
    }
    Transport::Completion completion;
    bool completed = false;
    // precision: spin: how long before a send the worker stops sleeping.
    const int64_t spin = wake_to_send ? plan_.spin_nanos : 0;
    if (wake_to_send && (wake - now <= spin || wake == woken_early_for_)) {
      // No sleep in the last stretch (its wake-up would be late): poll.
      while (!completed && clock_.NowNanos() < wake) completed = transport_.Next(0, &completion);
    } else if (wake_to_send && (sleeping_through_ || wake - now >= kSleepThroughNanos)) {
      // A slot is free and nothing is due before the send: calls that end
      // meanwhile are seen after it, with the time each ended. The worker asks
      // to be woken as much before the send as its wake-ups are late, where
      // that is a small part of the wait (else it would mostly poll), and
      // polls the rest of the way.
      sleeping_through_ = true;
      const int64_t lead = wake - now >= 2 * wake_lead_.nanos() ? wake_lead_.nanos() : 0;
      const int64_t asked = wake - now - std::max(spin, lead);
      transport_.SleepThrough(asked);
      wake_lead_.Observe(clock_.NowNanos() - (now + asked));
      woken_early_for_ = wake;
      completed = transport_.Next(0, &completion);
    } else {
      completed = transport_.Next(std::max<int64_t>(0, wake - now - spin), &completion);
    }
    if (completed) {
      Complete(completion);
      // Collect whatever else has already completed before scheduling again.
      while (transport_.Next(0, &completion)) Complete(completion);
    }
  }
  plan_.intervals->Finish();
}

}  // namespace aurigraph::loadgen
