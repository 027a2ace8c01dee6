#include "loadgen/driver/worker.h"

#include <algorithm>
#include <limits>

namespace aurigraph::loadgen {

void WorkerStats::Merge(const WorkerStats& other) {
  if (operations.size() < other.operations.size()) operations.resize(other.operations.size());
  for (size_t i = 0; i < other.operations.size(); ++i) operations[i].Merge(other.operations[i]);
  schedule_lag.Add(other.schedule_lag);
  generator_lag.Add(other.generator_lag);
  sent += other.sent;
  warmup_completions += other.warmup_completions;
  delayed_by_in_flight_bound += other.delayed_by_in_flight_bound;
  cancelled_at_drain += other.cancelled_at_drain;
  not_sent_generator_behind += other.not_sent_generator_behind;
  not_sent_in_flight_bound += other.not_sent_in_flight_bound;
  if (other.first_send_nanos >= 0 &&
      (first_send_nanos < 0 || other.first_send_nanos < first_send_nanos)) {
    first_send_nanos = other.first_send_nanos;
  }
  last_completion_nanos = std::max(last_completion_nanos, other.last_completion_nanos);
  measured_start_nanos = other.measured_start_nanos;
}

Worker::Worker(const Clock& clock, Transport& transport, std::vector<RequestSource*> sources,
               std::unique_ptr<ArrivalSchedule> schedule, WorkerPlan plan)
    : clock_(clock),
      transport_(transport),
      sources_(std::move(sources)),
      schedule_(std::move(schedule)),
      plan_(std::move(plan)),
      rng_(plan_.seed * 0x2545F4914F6CDD1DULL + static_cast<uint64_t>(plan_.worker_index)),
      slots_(plan_.max_in_flight),
      next_sequence_(static_cast<uint64_t>(plan_.worker_index)) {
  double sum = 0;
  for (double w : plan_.operation_weights) cumulative_weights_.push_back(sum += w);
  free_slots_.reserve(plan_.max_in_flight);
  for (uint32_t i = plan_.max_in_flight; i > 0; --i) free_slots_.push_back(i - 1);
  stats_.operations.resize(sources_.size());
  stats_.measured_start_nanos = plan_.start_nanos + plan_.warmup_nanos;
}

bool Worker::MaySend(int64_t intended_nanos) const {
  if (plan_.max_requests > 0 && stats_.sent >= plan_.max_requests) return false;
  return plan_.duration_nanos <= 0 || intended_nanos < plan_.start_nanos + plan_.duration_nanos;
}

bool Worker::DueWhileSlotsBusy(int64_t intended_nanos) {
  while (!busy_periods_.empty() && busy_periods_.front().end < intended_nanos) {
    busy_periods_.pop_front();
  }
  return !busy_periods_.empty() && intended_nanos >= busy_periods_.front().start;
}

void Worker::CountNotSent(int64_t next_intended) {
  int64_t not_sent = 0;
  while (MaySend(next_intended) &&
         (plan_.max_requests <= 0 || stats_.sent + not_sent < plan_.max_requests)) {
    ++not_sent;
    ++(DueWhileSlotsBusy(next_intended) ? stats_.not_sent_in_flight_bound
                                        : stats_.not_sent_generator_behind);
    next_intended = plan_.start_nanos + schedule_->Next();
  }
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
  const int64_t lag = NanosToMicros(now - intended_nanos);
  stats_.schedule_lag.Record(lag);
  if (plan_.intervals != nullptr) {
    plan_.intervals->AdvanceTo(now);
    plan_.intervals->RecordSend(lag);
  }
  // An open-loop request that was due while every slot was busy waited for the
  // system under test, not for the generator; only the others measure the
  // generator's own lag. (Closed loop sends on completion: its lag is always 0.)
  const bool waited_for_slot =
      plan_.model == LoadModel::kOpenLoop && DueWhileSlotsBusy(intended_nanos);
  if (waited_for_slot) {
    ++stats_.delayed_by_in_flight_bound;
  } else {
    stats_.generator_lag.Record(lag);
  }
  if (stats_.first_send_nanos < 0) stats_.first_send_nanos = now;
  ++stats_.sent;
  const uint64_t sequence = next_sequence_;
  next_sequence_ += static_cast<uint64_t>(plan_.worker_count);
  RequestSource& source = *sources_[operation];
  const RequestContext context{sequence};
  transport_.Start(slot, operation, source.Build(context), source.BuildHeaders(context));
  if (free_slots_.empty() && plan_.model == LoadModel::kOpenLoop) {
    busy_periods_.push_back(BusyPeriod{now, std::numeric_limits<int64_t>::max()});
  }
}

void Worker::Complete(const Transport::Completion& completion, int64_t now) {
  const Slot& slot = slots_[completion.slot];
  if (free_slots_.empty() && !busy_periods_.empty()) busy_periods_.back().end = now;
  free_slots_.push_back(completion.slot);
  stats_.last_completion_nanos = now;
  const int64_t items = completion.status_code == 0 &&
                                slot.operation < plan_.response_counters.size() &&
                                plan_.response_counters[slot.operation] != nullptr
                            ? plan_.response_counters[slot.operation]->Count(completion.response)
                            : 0;
  if (plan_.intervals != nullptr) {
    plan_.intervals->AdvanceTo(now);
    IntervalOperation& interval = plan_.intervals->operation(slot.operation);
    interval.Record(NanosToMicros(now - slot.intended_nanos), completion.status_code);
    interval.items += items;
  }
  if (slot.intended_nanos < stats_.measured_start_nanos) {
    ++stats_.warmup_completions;
    return;
  }
  OperationStats& stats = stats_.operations[slot.operation];
  stats.RecordCompletion(slot.intended_nanos, slot.sent_nanos, now, completion.status_code);
  stats.AddItems(items);
}

void Worker::Run(const std::atomic<bool>* stop) {
  const bool open_loop = plan_.model == LoadModel::kOpenLoop;
  int64_t next_intended = open_loop ? plan_.start_nanos + schedule_->Next() : plan_.start_nanos;
  const int64_t end = plan_.duration_nanos > 0
                          ? plan_.start_nanos + plan_.duration_nanos + plan_.end_grace_nanos
                          : std::numeric_limits<int64_t>::max();
  bool sending = true;
  int64_t drain_deadline = std::numeric_limits<int64_t>::max();
  bool cancelled = false;
  const auto in_flight = [&] { return plan_.max_in_flight - free_slots_.size(); };

  for (;;) {
    int64_t now = clock_.NowNanos();
    if (plan_.intervals != nullptr) plan_.intervals->AdvanceTo(now);
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
              Complete(finished, clock_.NowNanos());
            } while (transport_.Next(0, &finished));
            continue;
          }
          StartCall(next_intended, now);
          next_intended = plan_.start_nanos + schedule_->Next();
          // A burst of due requests takes time to send: each is stamped when it went out.
          now = clock_.NowNanos();
        }
        if (now >= end) CountNotSent(next_intended);
        if (now >= end || !MaySend(next_intended)) sending = false;
      } else {
        while (!free_slots_.empty() && MaySend(now)) StartCall(now, now);
        if (!MaySend(now)) sending = false;
      }
      if (!sending) drain_deadline = now + plan_.drain_timeout_nanos;
    }
    if (!sending && in_flight() == 0) break;
    if (!sending && now >= drain_deadline && !cancelled) {
      stats_.cancelled_at_drain = static_cast<int64_t>(in_flight());
      transport_.CancelAll();
      cancelled = true;
    }

    // Wake for the next due request, and at least every 50 ms to notice `stop`.
    int64_t wake = cancelled ? now + 1'000'000'000 : drain_deadline;
    if (sending) {
      wake = std::min(now + 50'000'000, end);
      if (open_loop && !free_slots_.empty()) wake = std::min(wake, next_intended);
    }
    Transport::Completion completion;
    if (transport_.Next(std::max<int64_t>(0, wake - now), &completion)) {
      Complete(completion, clock_.NowNanos());
      // Collect whatever else has already completed before scheduling again.
      while (transport_.Next(0, &completion)) Complete(completion, clock_.NowNanos());
    }
  }
  if (plan_.intervals != nullptr) plan_.intervals->Finish();
}

}  // namespace aurigraph::loadgen
