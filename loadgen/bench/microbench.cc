// Per-operation cost of the generator's hot paths, tracked from the start:
// histogram record, merge and encoding, recording a completion into the run's
// timeline, next arrival time, the open-loop send loop (its own cost per
// request, and its wake-ups), how late a sleeping send loop sends on this
// machine's timers, building a request from its template, and tracking a
// transaction to its finality.
#include <benchmark/benchmark.h>
#include <sys/prctl.h>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <random>
#include <thread>

#include "absl/strings/str_cat.h"
#include "aurigraph/transaction/v1/transaction.pb.h"
#include "common/clock/clock.h"
#include "loadgen/driver/wake_lead.h"
#include "loadgen/driver/worker.h"
#include "loadgen/finality/finality_tracker.h"
#include "loadgen/histogram/histogram.h"
#include "loadgen/histogram/histogram_codec.h"
#include "loadgen/histogram/latency.h"
#include "loadgen/payload/message_fields.h"
#include "loadgen/payload/request_template.h"
#include "loadgen/recorder/interval_timeline.h"
#include "loadgen/schedule/arrival_schedule.h"

namespace aurigraph::loadgen {
namespace {

void BM_HistogramRecord(benchmark::State& state) {
  Histogram h = MakeLatencyHistogram();
  std::mt19937_64 rng(1);
  std::vector<int64_t> values(4096);
  for (auto& v : values) v = 1 + static_cast<int64_t>(rng() % 100'000);
  size_t i = 0;
  for (auto _ : state) {
    h.Record(values[i++ & 4095]);
  }
  benchmark::DoNotOptimize(h.TotalCount());
}
BENCHMARK(BM_HistogramRecord);

// A completion as a worker records it: the interval check and the record into
// the run's timeline, its only record. One request every microsecond, 1 s
// intervals: a roll-over (merge, reset) every million requests, as in a run at
// 1M requests/s.
void BM_RecordCompletion(benchmark::State& state) {
  IntervalTimeline timeline(0, 1'000'000'000, 1, 1);
  IntervalRecorder intervals(timeline, 0, {0});
  int64_t t = 0;
  int64_t recorded = 0;
  for (auto _ : state) {
    const int64_t done = t + 250'000 + (t & 0xffff);
    intervals.AdvanceTo(done);
    if (IntervalOperation* op = intervals.OperationFor(0, t)) {
      op->Record(NanosToMicros(done - t), NanosToMicros(done - t - 1'000), 0);
      ++recorded;
    }
    t += 1'000;
    if ((t & 0x3fffffff) == 0) benchmark::DoNotOptimize(timeline.TakeCompleted());
  }
  benchmark::DoNotOptimize(recorded);
}
BENCHMARK(BM_RecordCompletion);

void BM_HistogramMerge(benchmark::State& state) {
  Histogram a = MakeLatencyHistogram(), b = MakeLatencyHistogram();
  std::mt19937_64 rng(2);
  for (int i = 0; i < 100'000; ++i) b.Record(1 + static_cast<int64_t>(rng() % 5'000'000));
  for (auto _ : state) {
    a.Add(b);
  }
  benchmark::DoNotOptimize(a.TotalCount());
}
BENCHMARK(BM_HistogramMerge);

void BM_HistogramEncodeBase64(benchmark::State& state) {
  Histogram h = MakeLatencyHistogram();
  std::mt19937_64 rng(3);
  for (int i = 0; i < 100'000; ++i) h.Record(1 + static_cast<int64_t>(rng() % 5'000'000));
  for (auto _ : state) {
    benchmark::DoNotOptimize(EncodeBase64(h));
  }
}
BENCHMARK(BM_HistogramEncodeBase64);

void BM_NextArrival(benchmark::State& state) {
  ArrivalSchedule schedule(50'000, static_cast<ArrivalProcess>(state.range(0)), 0, 2, 1);
  for (auto _ : state) {
    benchmark::DoNotOptimize(schedule.Next());
  }
}
BENCHMARK(BM_NextArrival)
    ->Arg(static_cast<int>(ArrivalProcess::kConstant))
    ->Arg(static_cast<int>(ArrivalProcess::kPoisson));

// Renders a request and its metadata per iteration, as a worker does per call.
void BuildRequestOf(benchmark::State& state, const google::protobuf::Descriptor& type,
                    const char* json, const TemplateInputs& inputs = {}) {
  auto compiled = RequestTemplate::Compile(type, json, inputs);
  if (!compiled.ok()) {
    state.SkipWithError(std::string(compiled.status().message()).c_str());
    return;
  }
  TemplateRequestSource source(*compiled, 0, 1);
  uint64_t seq = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(source.Build({seq}).size());
    benchmark::DoNotOptimize(source.BuildHeaders({seq++}).size());
  }
}

void BuildRequest(benchmark::State& state, const char* json, const TemplateInputs& inputs = {}) {
  BuildRequestOf(state, *transaction::v1::Transaction::descriptor(), json, inputs);
}

// A wire that answers every call a fixed time after it starts, on a manual
// clock, so the open-loop send loop's own cost is measured without a wire;
// its sleeps and waits are the wake-ups a real transport's thread would have.
class AnsweringTransport final : public Transport {
 public:
  AnsweringTransport(ManualClock& clock, int64_t service_nanos, uint32_t slots)
      : clock_(clock), service_nanos_(service_nanos), calls_(slots) {}

  // Never more calls than slots: the worker's max_in_flight is `slots`.
  void Start(uint32_t slot, uint32_t, std::string_view, std::span<const Header>) override {
    // One service time for all: calls end in the order they started.
    calls_[(head_ + size_++) % calls_.size()] = {clock_.NowNanos() + service_nanos_, slot};
  }
  bool Next(int64_t timeout_nanos, Completion* completion) override {
    const int64_t now = clock_.NowNanos();
    if (timeout_nanos > 0) ++waits_;
    if (size_ > 0 && calls_[head_].end_nanos <= now + timeout_nanos) {
      const Call call = calls_[head_];
      head_ = (head_ + 1) % calls_.size();
      --size_;
      clock_.Set(std::max(now, call.end_nanos));
      *completion = Completion{};
      completion->slot = call.slot;
      completion->completed_nanos = call.end_nanos;
      return true;
    }
    clock_.Set(now + std::max<int64_t>(timeout_nanos, 0));
    return false;
  }
  void SleepThrough(int64_t nanos) override {
    ++sleeps_;
    clock_.Set(clock_.NowNanos() + nanos);
  }
  void CancelAll() override {}
  int64_t sleeps() const { return sleeps_; }
  int64_t waits() const { return waits_; }

 private:
  struct Call {
    int64_t end_nanos;
    uint32_t slot;
  };
  ManualClock& clock_;
  const int64_t service_nanos_;
  std::vector<Call> calls_;
  size_t head_ = 0, size_ = 0;
  int64_t sleeps_ = 0, waits_ = 0;
};

class FixedSource final : public RequestSource {
 public:
  std::string_view Build(const RequestContext&) override { return "{}"; }
};

// The open-loop worker (loadgen/driver/worker.h) sending at range(0) per
// second for 10 s of its clock, each call answered in 200 us, up to 64 in
// flight: the scheduling and recording it does per request (time per item,
// its 1 s interval roll-overs included as in a run, on slices reused as the
// runner reuses them), and its sleeps and waits per request (a real
// transport wakes its thread for each).
void BM_OpenLoopSendLoop(benchmark::State& state) {
  constexpr int64_t kSeconds = 10;
  const int64_t rate = state.range(0);
  int64_t sent = 0, sleeps = 0, waits = 0;
  std::vector<IntervalSlice> spare;  // handed back, as the runner's merger does
  for (auto _ : state) {
    state.PauseTiming();
    ManualClock clock;
    AnsweringTransport transport(clock, 200'000, 64);
    FixedSource source;
    WorkerPlan plan;
    plan.model = LoadModel::kOpenLoop;
    plan.duration_nanos = kSeconds * 1'000'000'000;
    plan.max_in_flight = 64;
    plan.operation_weights = {1};
    IntervalTimeline timeline(0, 1'000'000'000, 1, 1);
    timeline.Recycle(std::move(spare));
    IntervalRecorder intervals(timeline, 0, {0});
    plan.intervals = &intervals;
    Worker worker(clock, transport, {&source},
                  std::make_unique<ArrivalSchedule>(static_cast<double>(rate),
                                                    ArrivalProcess::kConstant, 0, 1, 1),
                  plan);
    state.ResumeTiming();
    worker.Run();
    state.PauseTiming();
    sent += worker.sent();
    sleeps += transport.sleeps();
    waits += transport.waits();
    spare = timeline.TakeCompleted();
    state.ResumeTiming();
  }
  state.SetItemsProcessed(sent);
  const double per_send = static_cast<double>(std::max<int64_t>(sent, 1));
  state.counters["sleeps_per_request"] = static_cast<double>(sleeps) / per_send;
  state.counters["waits_per_request"] = static_cast<double>(waits) / per_send;
}
BENCHMARK(BM_OpenLoopSendLoop)->Arg(200)->Arg(2'000)->Arg(10'000)->Unit(benchmark::kMillisecond);

// A send every range(0) us on the real steady clock, the thread sleeping in
// between with exact timers (1 ns of slack) as an open-loop worker does:
// range(1) 0 sleeps to each send; 1 asks to be woken early by the worker's
// WakeLead and polls the clock the rest of the way. Counters: how late the
// sends were (p50, p99, us) and the polling per send (us): the machine's timer
// floor, and what the lead takes off it.
void BM_SleepingSendLateness(benchmark::State& state) {
  const int64_t gap = state.range(0) * 1'000;
  const bool lead_on = state.range(1) != 0;
  prctl(PR_SET_TIMERSLACK, 1UL, 0UL, 0UL, 0UL);
  const Clock& clock = SteadyClock::Instance();
  WakeLead lead;
  std::vector<int64_t> late;
  int64_t polled = 0;
  int64_t send = clock.NowNanos();
  for (auto _ : state) {
    send += gap;
    const int64_t now = clock.NowNanos();
    const int64_t early = lead_on ? lead.nanos() : 0;
    if (send - now > early) {
      const int64_t asked = send - now - early;
      std::this_thread::sleep_for(std::chrono::nanoseconds(asked));
      lead.Observe(clock.NowNanos() - (now + asked));
    }
    const int64_t poll_start = clock.NowNanos();
    int64_t sent_at = poll_start;
    while (sent_at < send) sent_at = clock.NowNanos();
    polled += sent_at - poll_start;
    late.push_back(sent_at - send);
    if (sent_at - send > gap) send = sent_at;  // a stall: the schedule moves on, not in a burst
  }
  std::sort(late.begin(), late.end());
  const auto quantile_us = [&](double q) {
    return static_cast<double>(
               late[static_cast<size_t>(q * static_cast<double>(late.size() - 1))]) /
           1e3;
  };
  state.counters["late_p50_us"] = quantile_us(0.5);
  state.counters["late_p99_us"] = quantile_us(0.99);
  state.counters["polled_us_per_send"] =
      static_cast<double>(polled) / 1e3 / static_cast<double>(late.size());
}
BENCHMARK(BM_SleepingSendLateness)
    ->ArgNames({"gap_us", "lead"})
    ->Args({500, 0})
    ->Args({500, 1})
    ->Args({5'000, 0})
    ->Args({5'000, 1})
    ->Iterations(1'000)
    ->Unit(benchmark::kMicrosecond);

void BM_BuildRequestConstant(benchmark::State& state) {
  BuildRequest(state, R"({"id": "fixed", "sender": "a", "receiver": "b", "amount": 5})");
}
BENCHMARK(BM_BuildRequestConstant);

void BM_BuildRequestSequenceAndUuid(benchmark::State& state) {
  BuildRequest(state,
               R"({"id": "tx-${seq}-${uuid}", "sender": "acct-${rand_int:1:1000}", "receiver": "b",
                         "amount": "${rand_int:1:1000000}", "nonce": "${seq}", "memo": "bench"})");
}
BENCHMARK(BM_BuildRequestSequenceAndUuid);

void BM_BuildRequestWithContentHash(benchmark::State& state) {
  BuildRequest(state,
               R"({"id": "tx-${seq}-${uuid}", "sender": "acct-${rand_int:1:1000}", "receiver": "b",
                         "amount": "${rand_int:1:1000000}", "nonce": "${seq}", "memo": "bench",
                         "content_hash": "${sha256:id,sender,receiver,amount,nonce,memo}"})");
}
BENCHMARK(BM_BuildRequestWithContentHash);

// A nested message holding constant and templated fields.
void BM_BuildRequestNested(benchmark::State& state) {
  BuildRequestOf(state, *transaction::v1::CommittedTransaction::descriptor(),
                 R"({"sequence": "${seq}", "sent_at_unix_nanos": 5,
                     "transaction": {"id": "tx-${seq}", "sender": "a", "receiver": "b",
                                     "amount": "${rand_int:1:1000}", "memo": "m"}})");
}
BENCHMARK(BM_BuildRequestNested);

// A batch of 100 generated transactions.
void BM_BuildRequestBatch(benchmark::State& state) {
  BuildRequestOf(state, *transaction::v1::BatchRequest::descriptor(),
                 R"({"batch_id": "b-${seq}", "transactions": {"$repeat": 100, "$item": {
                     "id": "t-${seq}-${item}", "sender": "s", "receiver": "r",
                     "amount": "${rand_int:1:9}", "nonce": "${item}", "memo": "m"}}})");
}
BENCHMARK(BM_BuildRequestBatch);

// 1,000 users, one JSON object per line.
std::shared_ptr<const DataFile> BenchUsers(DataFile::Order order) {
  std::string text;
  for (int i = 0; i < 1000; ++i) {
    absl::StrAppend(&text, R"({"user": "user-)", i, R"(", "token": "tok-)", i * 7919,
                    R"(", "limit": )", i * 10, "}\n");
  }
  return *DataFile::Parse(text, "bench.jsonl", order);
}

void BM_BuildRequestFromDataFile(benchmark::State& state) {
  BuildRequest(
      state, R"({"id": "tx-${seq}", "sender": "${data.user}", "amount": "${data.limit}"})",
      {{},
       BenchUsers(state.range(0) == 0 ? DataFile::Order::kSequential : DataFile::Order::kRandom)});
}
BENCHMARK(BM_BuildRequestFromDataFile)->Arg(0)->Arg(1);

void BM_BuildRequestWithMetadata(benchmark::State& state) {
  BuildRequest(state, R"({"id": "tx-${seq}", "sender": "${data.user}", "amount": "${data.limit}"})",
               {{{"authorization", "Bearer ${data.token}"},
                 {"x-request-id", "req-${seq}"},
                 {"x-tenant", "acme"}},
                BenchUsers(DataFile::Order::kSequential)});
}
BENCHMARK(BM_BuildRequestWithMetadata);

// One transaction tracked to its end, as a run at 1M transactions/s with a
// 100 ms finality timeout tracks it: Sent, Answered (OK), Observed final 50 ms
// later, and its expiry once the timeout has passed, with 100,000 items held
// (the timeout window; half of them not final yet). Arg 1: the keys read by
// the real readers (CompileKeyReader: Transaction "id", CommittedTransaction
// "transaction.id", from serialized messages); arg 0: decimal keys, the
// tracker's own cost.
class DecimalKey final : public KeyReader {
 public:
  void ReadKeys(std::string_view message, std::vector<uint64_t>* keys) const override {
    uint64_t key = 0;
    std::from_chars(message.data(), message.data() + message.size(), key);
    keys->push_back(key);
  }
};

void BM_FinalityTrackSendAnswerFinal(benchmark::State& state) {
  constexpr uint64_t kRing = uint64_t{1} << 17;  // distinct keys, more than the window holds
  constexpr int64_t kEvery = 1'000;              // ns between transactions
  constexpr int64_t kTimeout = 100'000'000;      // 100,000 transactions
  constexpr uint64_t kFinalAfter = 50'000;       // transactions (50 ms)
  const bool real = state.range(0) == 1;
  std::vector<std::string> requests(kRing), events(kRing);
  for (uint64_t i = 0; i < kRing; ++i) {
    if (!real) {
      requests[i] = events[i] = std::to_string(i);
      continue;
    }
    transaction::v1::CommittedTransaction event;
    transaction::v1::Transaction& tx = *event.mutable_transaction();
    tx.set_id(absl::StrCat("tx-", i, "-9f2c41d7e0b3"));
    tx.set_sender(absl::StrCat("acct-", i % 1000));
    tx.set_receiver("acct-7");
    tx.set_amount(1 + i % 1'000'000);
    tx.set_nonce(i);
    tx.set_memo("bench");
    requests[i] = tx.SerializeAsString();
    event.set_sequence(i);
    event.set_sent_at_unix_nanos(1'700'000'000'000'000'000 + static_cast<int64_t>(i));
    event.set_committed_at_unix_nanos(1'700'000'000'000'000'000 + static_cast<int64_t>(i));
    events[i] = event.SerializeAsString();
  }
  DecimalKey decimal;
  std::unique_ptr<KeyReader> request_reader, event_reader;
  if (real) {
    auto r = CompileKeyReader(*transaction::v1::Transaction::descriptor(), "id");
    auto e =
        CompileKeyReader(*transaction::v1::CommittedTransaction::descriptor(), "transaction.id");
    if (!r.ok() || !e.ok()) {
      state.SkipWithError("CompileKeyReader failed");
      return;
    }
    request_reader = *std::move(r);
    event_reader = *std::move(e);
  }
  IntervalTimeline timeline(0, 1'000'000'000, 1, 1);
  IntervalRecorder intervals(timeline, 0, {0});
  FinalityTrackerOptions options;
  options.timeout_nanos = kTimeout;
  FinalityTracker tracker({real ? request_reader.get() : &decimal}, real ? *event_reader : decimal,
                          intervals, options);
  uint64_t n = 0;
  const auto track_one = [&] {
    const int64_t t = static_cast<int64_t>(n) * kEvery;
    const TrackedRequest sent = tracker.Sent(0, requests[n & (kRing - 1)], t, t + 200);
    tracker.Answered(sent, true, t + 500);  // also expires what the timeout passed
    if (n >= kFinalAfter) tracker.Observed(0, events[(n - kFinalAfter) & (kRing - 1)], t + 600);
    if ((n & 0xfffff) == 0) timeline.Recycle(timeline.TakeCompleted());
    ++n;
  };
  // Fill the window first: the timed transactions are tracked with 100,000 held.
  while (n < 2 * kTimeout / kEvery) track_one();
  for (auto _ : state) track_one();
  // ~50,000 when every event matched its transaction (100,000 if none did).
  state.counters["pending"] = static_cast<double>(tracker.Pending());
  state.SetItemsProcessed(state.iterations());
  state.counters["ns_per_item"] =
      benchmark::Counter(static_cast<double>(state.iterations()),
                         benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}
BENCHMARK(BM_FinalityTrackSendAnswerFinal)->ArgName("real_readers")->Arg(1)->Arg(0);

}  // namespace
}  // namespace aurigraph::loadgen

BENCHMARK_MAIN();
