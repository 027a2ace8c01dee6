// Per-transaction cost of the reference server's batch path, in process: a
// BatchSubmitTransactions request parsed from its bytes onto an arena (as
// the server decodes it), validated (content hash) and stored, and its response
// serialized. Issue 22's goal is 4 us of server CPU per transaction. Also
// StorageService's put to hot keys, and ContractService's token transfer.
#include <benchmark/benchmark.h>
#include <google/protobuf/arena.h>

#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "aurigraph/storage/v1/storage.pb.h"
#include "aurigraph/transaction/v1/transaction.pb.h"
#include "common/clock/clock.h"
#include "reference-server/contract/contract_engine.h"
#include "reference-server/storage/kv_store.h"
#include "reference-server/transaction/transaction_store.h"

namespace aurigraph::refserver {
namespace {

namespace tv1 = transaction::v1;

// `count` batches of `size` transactions with distinct ids, serialized, shaped
// like the tps-batch scenario's.
std::vector<std::string> Batches(int count, int size) {
  std::vector<std::string> batches;
  for (int b = 0; b < count; ++b) {
    tv1::BatchRequest batch;
    batch.set_batch_id(absl::StrCat("bench-", b));
    for (int i = 0; i < size; ++i) {
      tv1::Transaction* tx = batch.add_transactions();
      tx->set_id(absl::StrCat("bench-run-", b, "-", i));
      tx->set_sender(absl::StrCat("acct-", (b * 7 + i) % 100000));
      tx->set_receiver(absl::StrCat("acct-", (b * 13 + i) % 100000));
      tx->set_amount(1 + (b * 31 + i) % 1000000);
      tx->set_nonce(i);
      tx->set_memo("tps-batch");
      tx->set_content_hash(TransactionContentHash(*tx));
    }
    batches.push_back(batch.SerializeAsString());
  }
  return batches;
}

void BM_BatchSubmitPerTransaction(benchmark::State& state) {
  const int size = static_cast<int>(state.range(0));
  // Ids come round again after 400,000 transactions, long after a store of
  // 50,000 has forgotten them: every transaction is accepted.
  const std::vector<std::string> batches = Batches(400'000 / size, size);
  TransactionStore store(WallClock::Instance(), {.max_stored = 50'000, .max_batch = 10'000});
  size_t next = 0;
  std::string reply;
  for (auto _ : state) {
    // On an arena of its own, as the server decodes a unary call's request.
    google::protobuf::Arena arena;
    auto* batch = google::protobuf::Arena::CreateMessage<tv1::BatchRequest>(&arena);
    batch->ParseFromString(batches[next]);
    next = (next + 1) % batches.size();
    auto response = store.SubmitBatch(*batch);
    response->SerializeToString(&reply);
    benchmark::DoNotOptimize(reply.data());
  }
  state.SetItemsProcessed(state.iterations() * size);
  state.counters["accepted_ratio"] = static_cast<double>(store.counters().accepted.load()) /
                                     static_cast<double>(state.iterations() * size);
  state.counters["ns_per_transaction"] =
      benchmark::Counter(static_cast<double>(state.iterations() * size),
                         benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}
BENCHMARK(BM_BatchSubmitPerTransaction)->Arg(80)->Arg(1000);

void BM_ContentHash(benchmark::State& state) {
  tv1::BatchRequest batch;
  batch.ParseFromString(Batches(1, 1)[0]);
  const tv1::Transaction& tx = batch.transactions(0);
  for (auto _ : state) benchmark::DoNotOptimize(TransactionContentHash(tx));
}
BENCHMARK(BM_ContentHash);

// StorageService's put to a few hot keys, each write replacing the version
// `max_history` older: its cost must not grow with the writes before it (when
// replaced versions were deleted, their tombstones made every later read step
// over them). Arg: the writes made before timing starts.
void BM_StoragePutToHotKeys(benchmark::State& state) {
  auto store = KvStore::Open(WallClock::Instance(), {.max_history = 16});
  storage::v1::PutRequest put;
  put.set_value(std::string(256, 'v'));
  uint64_t n = 0;
  const auto write = [&] {
    put.set_key(absl::StrCat("hot-", n++ % 20));
    benchmark::DoNotOptimize((*store)->Put(put));
  };
  for (int64_t i = 0; i < state.range(0); ++i) write();
  for (auto _ : state) write();
}
BENCHMARK(BM_StoragePutToHotKeys)->Arg(0)->Arg(200'000);

// A token transfer (scenarios/contracts/token.stack) between 20 accounts: the
// machine's run (two loads, two stores) and the atomic commit of its three
// writes to the store; the machine alone, on state in memory, beside it.
std::string TokenSource() {
  std::ifstream in(std::string(SCENARIO_DIR) + "/contracts/token.stack");
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

void BM_ContractTransfer(benchmark::State& state) {
  auto store = KvStore::Open(WallClock::Instance(), {});
  auto engine = ContractEngine::Open(**store, WallClock::Instance(), {});
  contract::v1::DeployRequest deploy;
  deploy.set_source(TokenSource());
  deploy.add_init_args()->set_text_value("minter");
  deploy.add_init_args()->set_int_value(0);
  const std::string address = (*engine)->Deploy(deploy)->address();
  contract::v1::ExecuteRequest call;
  call.set_address(address);
  call.set_function("mint");
  call.set_caller("minter");
  call.add_args();
  call.add_args()->set_int_value(1'000'000'000);
  for (int a = 0; a < 20; ++a) {
    call.mutable_args(0)->set_text_value(absl::StrCat("acct-", a));
    benchmark::DoNotOptimize((*engine)->Execute(call));
  }
  call.set_function("transfer");
  call.mutable_args(1)->set_int_value(1);
  uint64_t n = 0;
  for (auto _ : state) {
    call.set_caller(absl::StrCat("acct-", n % 20));
    call.mutable_args(0)->set_text_value(absl::StrCat("acct-", (n * 7 + 1) % 20));
    auto out = (*engine)->Execute(call);
    if (!out.ok()) state.SkipWithError(std::string(out.status().message()).c_str());
    ++n;
  }
}
BENCHMARK(BM_ContractTransfer);

class MemoryState final : public vm::StateReader {
 public:
  absl::StatusOr<std::optional<vm::Value>> Read(const std::string& key) override {
    auto it = values.find(key);
    if (it == values.end()) return std::optional<vm::Value>();
    return std::optional<vm::Value>(it->second);
  }
  std::map<std::string, vm::Value> values;
};

void BM_ContractTransferMachineOnly(benchmark::State& state) {
  auto program = vm::Compile(TokenSource());
  const vm::Function* transfer = program->Find("transfer");
  MemoryState memory;
  for (int a = 0; a < 20; ++a) memory.values[absl::StrCat("balance/acct-", a)] = int64_t{1'000'000};
  const vm::RunLimits limits;
  std::vector<vm::Value> args = {std::string("acct-1"), int64_t{1}};
  uint64_t n = 0;
  for (auto _ : state) {
    args[0] = absl::StrCat("acct-", (n * 7 + 1) % 20);
    benchmark::DoNotOptimize(
        vm::Run(*program, *transfer, args, absl::StrCat("acct-", n++ % 20), limits, memory));
  }
}
BENCHMARK(BM_ContractTransferMachineOnly);

}  // namespace
}  // namespace aurigraph::refserver

BENCHMARK_MAIN();
