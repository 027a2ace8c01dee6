// Per-operation cost of the generator's hot paths, tracked from the start:
// histogram record, merge and encoding, recording a completion into the run's
// timeline, next arrival time, and building a request from
// its template.
#include <benchmark/benchmark.h>

#include <random>

#include "absl/strings/str_cat.h"
#include "aurigraph/transaction/v1/transaction.pb.h"
#include "loadgen/histogram/histogram.h"
#include "loadgen/histogram/histogram_codec.h"
#include "loadgen/histogram/latency.h"
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

}  // namespace
}  // namespace aurigraph::loadgen

BENCHMARK_MAIN();
