// ContractService's machine and engine: the stack language compiled and run
// (errors named by line, gas, limits, arithmetic), the sample token contract
// from scenarios/ (mint, transfer, supply kept under concurrent transfers),
// atomic calls (a failed call changes nothing), state kept in the storage
// store and found again after a reopen, and the change stream in commit order.
#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "reference-server/contract/contract_engine.h"
#include "reference-server/contract/stack_machine.h"

namespace aurigraph::refserver {
namespace {

namespace cv1 = contract::v1;
using vm::Value;

// State in a map, for the machine alone.
class MapState final : public vm::StateReader {
 public:
  absl::StatusOr<std::optional<Value>> Read(const std::string& key) override {
    ++reads;
    auto it = values.find(key);
    if (it == values.end()) return std::optional<Value>();
    return std::optional<Value>(it->second);
  }
  std::map<std::string, Value> values;
  int reads = 0;
};

absl::StatusOr<vm::Outcome> RunSource(const std::string& source, const std::string& function,
                                      std::vector<Value> args = {}, vm::RunLimits limits = {},
                                      MapState* state = nullptr) {
  auto program = vm::Compile(source);
  if (!program.ok()) return program.status();
  MapState empty;
  const vm::Function* f = program->Find(function);
  if (f == nullptr) return absl::NotFoundError(function);
  return vm::Run(*program, *f, args, "alice", limits, state ? *state : empty);
}

TEST(StackMachine, ArithmeticLocalsAndJumps) {
  // Sum of 1..n by a loop.
  const std::string source = R"(
    fn sum            # (n)
      0 arg >n  0 >total
      loop:
        @n jz done
        @total @n add >total
        @n 1 sub >n
        jmp loop
      done:
      @total ret
    end)";
  auto out = RunSource(source, "sum", {Value(int64_t{100})});
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ(std::get<int64_t>(*out->result), 5050);
  EXPECT_TRUE(out->writes.empty());
  EXPECT_GT(out->gas_used, 100u * 7);  // seven instructions per round at least
}

TEST(StackMachine, TextAndComparisons) {
  auto out = RunSource(R"(fn f "a\"b" 12 cat dup len swap drop 5 eq ret end)", "f");  // a"b12
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ(std::get<int64_t>(*out->result), 1);
  out = RunSource(R"(fn f "x" "x" eq "x" 1 ne and 3 4 lt and 4 4 le and not not ret end)", "f");
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ(std::get<int64_t>(*out->result), 1);
  out = RunSource("fn f -7 2 div -7 2 mod cat ret end", "f");
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ(std::get<std::string>(*out->result), "-3-1");
  out = RunSource("fn f -9223372036854775808 -1 mod 7 -1 div cat ret end", "f");
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ(std::get<std::string>(*out->result), "0-7");
}

TEST(StackMachine, CompileErrorsNameTheLine) {
  const std::pair<std::string, const char*> cases[] = {
      {"fn f\n  1 2 plus\nend", "source line 2: unknown instruction 'plus'"},
      {"fn f\n jmp nowhere\nend", "source line 2: no label 'nowhere' in function 'f'"},
      {"fn f\n  @x ret\nend", "source line 2: local 'x' is read but never set"},
      {"fn f 1 ret", "source line 1: function 'f' has no 'end'"},
      {"fn f end fn f end", "source line 1: function 'f' is defined twice"},
      {"1 2 add", "source line 1: expected 'fn NAME', found '1'"},
      {"fn f\n\"open\nend", "source line 2: a text literal is not closed on its line"},
      {"fn f 99999999999999999999 end", "not a 64-bit integer"},
      {"fn f a: a: end", "label 'a' is defined twice"},
      {"fn f fn g end", "'fn' inside function 'f'"},
      {"fn f jmp end", "source line 1: 'jmp' needs a label after it"},
      {"fn end end", "'fn' needs a function name after it"},
      {std::string("fn f ") + std::string(5000, 'x') + " end", "unknown instruction 'xxxx"},
      {"# nothing\n", "no functions"},
  };
  for (const auto& [source, message] : cases) {
    auto program = vm::Compile(source);
    ASSERT_FALSE(program.ok()) << source;
    EXPECT_EQ(program.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_NE(program.status().message().find(message), std::string::npos)
        << program.status() << " vs " << message;
    EXPECT_LT(program.status().message().size(), 200u);  // a long word is cut
  }
  EXPECT_FALSE(vm::Compile(std::string(17 * 1024, ' ')).ok());  // over the size bound
}

TEST(StackMachine, RuntimeFailuresAreNamedAndCoded) {
  const std::pair<std::string, absl::StatusCode> cases[] = {
      {"fn f 1 0 div end", absl::StatusCode::kFailedPrecondition},
      {"fn f 9223372036854775807 1 add end", absl::StatusCode::kFailedPrecondition},
      {"fn f \"a\" 1 add end", absl::StatusCode::kFailedPrecondition},
      {"fn f drop end", absl::StatusCode::kFailedPrecondition},
      {"fn f 0 \"no\" require end", absl::StatusCode::kFailedPrecondition},
      {"fn f \"stop\" fail end", absl::StatusCode::kFailedPrecondition},
      {"fn f \"\" 1 store end", absl::StatusCode::kFailedPrecondition},
      {"fn f 3 arg end", absl::StatusCode::kInvalidArgument},
      {"fn f loop: 1 jmp loop end", absl::StatusCode::kResourceExhausted},  // stack, then
      {"fn f loop: jmp loop end", absl::StatusCode::kResourceExhausted},    // gas
      {"fn f \"ab\" >t l: @t @t cat >t jmp l end", absl::StatusCode::kResourceExhausted},
  };
  for (const auto& [source, code] : cases) {
    auto out = RunSource(source, "f");
    ASSERT_FALSE(out.ok()) << source;
    EXPECT_EQ(out.status().code(), code) << source << ": " << out.status();
    EXPECT_EQ(out.status().message().rfind("f, line 1: ", 0), 0u) << out.status();
  }
  auto refused = RunSource("fn f 0 \"insufficient balance\" require end", "f");
  EXPECT_EQ(refused.status().message(), "f, line 1: insufficient balance");
}

TEST(StackMachine, GasIsChargedPerInstructionAndEndsRunawayCode) {
  vm::RunLimits limits;
  limits.gas_limit = 1000;
  auto out = RunSource("fn f loop: jmp loop end", "f", {}, limits);
  EXPECT_EQ(out.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_NE(out.status().message().find("out of gas (gas_limit 1000)"), std::string::npos);
  // 1 2 add ret: four instructions.
  out = RunSource("fn f 1 2 add ret end", "f", {}, limits);
  ASSERT_TRUE(out.ok());
  EXPECT_EQ(out->gas_used, 4 * vm::kGasPerInstruction);
  // A load and a store cost their own: "k" 5 store "k" load ret.
  out = RunSource("fn f \"k\" 5 store \"k\" load ret end", "f", {}, limits);
  ASSERT_TRUE(out.ok());
  EXPECT_EQ(out->gas_used, 6 * vm::kGasPerInstruction + vm::kGasPerLoad + vm::kGasPerStore);
  limits.gas_limit = out->gas_used - 1;
  EXPECT_EQ(RunSource("fn f \"k\" 5 store \"k\" load ret end", "f", {}, limits).status().code(),
            absl::StatusCode::kResourceExhausted);
}

TEST(StackMachine, TextCostsBySizeWhereverItIsCopied) {
  // 4 KiB of text duplicated 100 times costs 256 gas a copy, not 1.
  const std::string source = R"(
    fn f
      "0123456789abcdef" >t
      @t @t cat @t @t cat cat >t  @t @t cat @t @t cat cat >t  @t @t cat @t @t cat cat >t
      @t @t cat @t @t cat cat >t  # 4 KiB
      @t len drop
      0 >i
      loop: @t drop @i 1 add >i @i 100 lt jnz loop
    end)";
  auto out = RunSource(source, "f");
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_GT(out->gas_used, 100u * 4096 / vm::kTextBytesPerGas);
}

TEST(StackMachine, AnInterruptedRunEnds) {
  int looks = 0;
  vm::RunLimits limits;
  limits.gas_limit = 100'000'000;
  limits.interrupted = [&looks] { return ++looks == 3; };
  auto out = RunSource("fn f loop: jmp loop end", "f", {}, limits);
  EXPECT_EQ(out.status().code(), absl::StatusCode::kCancelled);
  EXPECT_EQ(looks, 3);
  EXPECT_LT(out.status().message().size(), 200u);
}

TEST(StackMachine, ReadsItsOwnWritesAndReportsOnlyTheLast) {
  MapState state;
  state.values["k"] = Value(int64_t{10});
  auto out = RunSource("fn f \"k\" \"k\" load 1 add store \"k\" \"k\" load 1 add store end", "f",
                       {}, {}, &state);
  ASSERT_TRUE(out.ok()) << out.status();
  ASSERT_EQ(out->writes.size(), 1u);
  EXPECT_EQ(std::get<int64_t>(out->writes.at("k")), 12);
  EXPECT_EQ(state.reads, 1);                            // the second load read the write
  EXPECT_EQ(std::get<int64_t>(state.values["k"]), 10);  // the machine writes nothing itself
  vm::RunLimits limits;
  limits.max_writes = 2;
  out = RunSource("fn f \"a\" 1 store \"b\" 1 store \"a\" 2 store \"c\" 1 store end", "f", {},
                  limits);
  EXPECT_EQ(out.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_NE(out.status().message().find("writes more than 2 keys"), std::string::npos);
}

std::string TokenSource() {
  std::ifstream in(std::string(SCENARIO_DIR) + "/contracts/token.stack");
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

Value Int(int64_t i) { return Value(i); }
Value Text(std::string s) { return Value(std::move(s)); }

struct Engine {
  explicit Engine(KvStore::Options storage = {}, ContractEngine::Options options = {}) {
    auto opened = KvStore::Open(clock, storage);
    EXPECT_TRUE(opened.ok()) << opened.status();
    store = *std::move(opened);
    auto engine_opened = ContractEngine::Open(*store, clock, options);
    EXPECT_TRUE(engine_opened.ok()) << engine_opened.status();
    engine = *std::move(engine_opened);
  }
  absl::StatusOr<cv1::DeployResponse> Deploy(const std::string& source,
                                             std::vector<Value> init_args = {},
                                             const std::string& caller = "owner") {
    cv1::DeployRequest r;
    r.set_source(source);
    r.set_caller(caller);
    for (const Value& v : init_args) Set(v, r.add_init_args());
    return engine->Deploy(r);
  }
  absl::StatusOr<cv1::ExecuteResponse> Call(const std::string& address, const std::string& fn,
                                            std::vector<Value> args, const std::string& caller,
                                            uint64_t gas_limit = 0) {
    cv1::ExecuteRequest r;
    r.set_address(address);
    r.set_function(fn);
    r.set_caller(caller);
    r.set_gas_limit(gas_limit);
    for (const Value& v : args) Set(v, r.add_args());
    return engine->Execute(r);
  }
  int64_t Balance(const std::string& address, const std::string& account) {
    auto out = Call(address, "balance", {Text(account)}, "anyone");
    EXPECT_TRUE(out.ok()) << out.status();
    return out.ok() ? out->result().int_value() : -1;
  }
  static void Set(const Value& v, cv1::Value* out) {
    if (const auto* i = std::get_if<int64_t>(&v)) {
      out->set_int_value(*i);
    } else {
      out->set_text_value(std::get<std::string>(v));
    }
  }

  ManualClock clock{1'700'000'000'000'000'000};
  std::unique_ptr<KvStore> store;
  std::unique_ptr<ContractEngine> engine;
};

TEST(ContractEngine, TokenMintTransferBalance) {
  Engine e;
  auto deployed = e.Deploy(TokenSource(), {Text("minter"), Int(0)});
  ASSERT_TRUE(deployed.ok()) << deployed.status();
  const std::string address = deployed->address();
  EXPECT_EQ(address.size(), 64u);
  EXPECT_FALSE(deployed->already_deployed());
  EXPECT_EQ(std::vector<std::string>(deployed->functions().begin(), deployed->functions().end()),
            (std::vector<std::string>{"init", "mint", "transfer", "balance", "supply"}));

  auto minted = e.Call(address, "mint", {Text("alice"), Int(100)}, "minter");
  ASSERT_TRUE(minted.ok()) << minted.status();
  EXPECT_EQ(minted->result().int_value(), 100);
  ASSERT_EQ(minted->writes_size(), 2);  // key order: balance/alice, supply
  EXPECT_EQ(minted->writes(0).key(), "balance/alice");
  EXPECT_EQ(minted->writes(1).key(), "supply");
  EXPECT_EQ(minted->sequence(), 2u);  // init wrote first

  auto not_minter = e.Call(address, "mint", {Text("bob"), Int(5)}, "bob");
  EXPECT_EQ(not_minter.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(not_minter.status().message(), "mint, line 16: only the minter mints");

  auto sent = e.Call(address, "transfer", {Text("bob"), Int(30)}, "alice");
  ASSERT_TRUE(sent.ok()) << sent.status();
  EXPECT_EQ(sent->result().int_value(), 70);
  EXPECT_EQ(e.Balance(address, "alice"), 70);
  EXPECT_EQ(e.Balance(address, "bob"), 30);
  EXPECT_EQ(e.Balance(address, "carol"), 0);

  // A transfer that fails changes nothing, not even what it wrote before failing.
  auto too_much = e.Call(address, "transfer", {Text("carol"), Int(31)}, "bob");
  EXPECT_EQ(too_much.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(too_much.status().message().find("insufficient balance"), std::string::npos);
  EXPECT_EQ(e.Balance(address, "bob"), 30);
  const std::string burn_after_write = R"(
    fn spend  "balance/x" 5 store  0 "refused after a write" require end)";
  auto burner = e.Deploy(burn_after_write);
  ASSERT_TRUE(burner.ok());
  EXPECT_FALSE(e.Call(burner->address(), "spend", {}, "x").ok());
  cv1::StateRequest state;
  state.set_address(burner->address());
  state.set_key("balance/x");
  auto read = e.engine->GetState(state);
  ASSERT_TRUE(read.ok());
  EXPECT_EQ(read->entries(0).version(), 0u);  // never written
  EXPECT_FALSE(read->entries(0).has_value());

  // Missing arguments, unknown functions and contracts, init called again.
  EXPECT_EQ(e.Call(address, "transfer", {Text("bob")}, "alice").status().code(),
            absl::StatusCode::kInvalidArgument);
  auto unknown = e.Call(address, "burn", {}, "alice");
  EXPECT_EQ(unknown.status().code(), absl::StatusCode::kNotFound);
  EXPECT_NE(
      unknown.status().message().find("(its functions: init, mint, transfer, balance, supply)"),
      std::string::npos);
  EXPECT_EQ(e.Call(std::string(64, 'a'), "mint", {}, "x").status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(e.Call("not-hex", "mint", {}, "x").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(e.Call(address, "init", {Text("me")}, "me").status().code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(e.Call(address, "supply", {}, "x", 2'000'000).status().code(),
            absl::StatusCode::kInvalidArgument);  // gas_limit over --contract-max-gas

  // The same source again: the same address, nothing run, the minter kept.
  auto again = e.Deploy(TokenSource(), {Text("mallory"), Int(0)}, "mallory");
  ASSERT_TRUE(again.ok());
  EXPECT_TRUE(again->already_deployed());
  EXPECT_EQ(again->address(), address);
  EXPECT_FALSE(e.Call(address, "mint", {Text("mallory"), Int(1)}, "mallory").ok());
  EXPECT_EQ(e.engine->counters().deployed.load(), 2);
  EXPECT_EQ(e.engine->counters().redeployed.load(), 1);
}

TEST(ContractEngine, StateLivesInTheStorageStoreAndSurvivesAReopen) {
  const auto dir = std::filesystem::temp_directory_path() /
                   absl::StrCat("contract-test-", ::getpid(), "-",
                                testing::UnitTest::GetInstance()->random_seed());
  std::filesystem::remove_all(dir);
  KvStore::Options storage;
  storage.directory = dir.string();
  std::string address;
  {
    Engine e(storage);
    auto deployed = e.Deploy(TokenSource(), {Text("minter"), Int(0)});
    ASSERT_TRUE(deployed.ok());
    address = deployed->address();
    ASSERT_TRUE(e.Call(address, "mint", {Text("alice"), Int(7)}, "minter").ok());
    // Readable through the store's own API, but not writable through it.
    storage::v1::GetRequest get;
    get.set_key(ContractEngine::StateKey(address, "balance/alice"));
    auto entry = e.store->Get(get);
    ASSERT_TRUE(entry.ok()) << entry.status();
    EXPECT_EQ(entry->value()[0], 'i');
    storage::v1::PutRequest put;
    put.set_key(get.key());
    put.set_value("i12345678");
    EXPECT_EQ(e.store->Put(put).status().code(), absl::StatusCode::kPermissionDenied);
    storage::v1::DeleteRequest del;
    del.set_key(ContractEngine::CodeKey(address));
    EXPECT_EQ(e.store->Delete(del).status().code(), absl::StatusCode::kPermissionDenied);
  }
  {
    Engine e(storage);
    EXPECT_EQ(e.engine->contracts(), 1);
    EXPECT_EQ(e.Balance(address, "alice"), 7);
    ASSERT_TRUE(e.Call(address, "transfer", {Text("bob"), Int(2)}, "alice").ok());
    cv1::StateRequest page;
    page.set_address(address);
    page.set_limit(2);
    auto first = e.engine->GetState(page);
    ASSERT_TRUE(first.ok()) << first.status();
    ASSERT_EQ(first->entries_size(), 2);
    EXPECT_EQ(first->entries(0).key(), "balance/alice");
    EXPECT_EQ(first->entries(0).value().int_value(), 5);
    EXPECT_EQ(first->entries(1).key(), "balance/bob");
    std::vector<std::string> keys;
    for (std::string token = first->next_page_token(); !token.empty();) {
      page.set_page_token(token);
      auto next = e.engine->GetState(page);
      ASSERT_TRUE(next.ok()) << next.status();
      EXPECT_LE(next->entries_size(), 2);
      for (const auto& entry : next->entries()) keys.push_back(entry.key());
      token = next->next_page_token();
    }
    EXPECT_EQ(keys, (std::vector<std::string>{"balance/minter", "minter", "supply"}));
  }
  std::filesystem::remove_all(dir);
}

// A cluster node brought back by a snapshot: its store loaded with another
// node's, its engine reloaded, it answers as that node does.
TEST(ContractEngine, AfterItsStoreIsLoadedWithAnotherItRunsAsTheOtherDoes) {
  Engine source;
  auto token = source.Deploy(TokenSource(), {Text("minter"), Int(100)});
  ASSERT_TRUE(token.ok()) << token.status();
  ASSERT_TRUE(source.Call(token->address(), "transfer", {Text("bob"), Int(30)}, "minter").ok());

  Engine target;
  auto own = target.Deploy("fn get 7 ret end");
  ASSERT_TRUE(own.ok()) << own.status();
  ASSERT_TRUE(target.Call(own->address(), "get", {}, "x").ok());  // compiled and cached
  ASSERT_TRUE(target.Deploy("fn get 8 ret end").ok());
  ASSERT_TRUE(target.store->Load(source.store->Dump().value()).ok());
  ASSERT_TRUE(target.engine->Reload().ok());

  EXPECT_EQ(target.engine->contracts(), 1);
  EXPECT_TRUE(absl::IsNotFound(target.Call(own->address(), "get", {}, "x").status()));
  auto here = target.Call(token->address(), "transfer", {Text("carol"), Int(5)}, "bob");
  auto there = source.Call(token->address(), "transfer", {Text("carol"), Int(5)}, "bob");
  ASSERT_TRUE(here.ok()) << here.status();
  ASSERT_TRUE(there.ok()) << there.status();
  EXPECT_EQ(here->SerializeAsString(), there->SerializeAsString());
  EXPECT_EQ(here->result().int_value(), 25);
  EXPECT_EQ(here->sequence(), 3u);  // init, the first transfer, this one
}

TEST(ContractEngine, ConcurrentTransfersKeepTheSupply) {
  Engine e;
  auto deployed = e.Deploy(TokenSource(), {Text("minter"), Int(0)});
  ASSERT_TRUE(deployed.ok());
  const std::string address = deployed->address();
  constexpr int kAccounts = 8;
  for (int a = 0; a < kAccounts; ++a) {
    ASSERT_TRUE(e.Call(address, "mint", {Text(absl::StrCat("a", a)), Int(1000)}, "minter").ok());
  }
  std::atomic<int> committed{0}, refused{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 500; ++i) {
        const int from = (t * 7 + i) % kAccounts, to = (t * 3 + i * 5 + 1) % kAccounts;
        auto out = e.Call(address, "transfer", {Text(absl::StrCat("a", to)), Int(1 + i % 300)},
                          absl::StrCat("a", from));
        (out.ok() ? committed : refused).fetch_add(1);
        if (!out.ok()) EXPECT_EQ(out.status().code(), absl::StatusCode::kFailedPrecondition);
      }
    });
  }
  for (auto& thread : threads) thread.join();
  int64_t total = 0;
  for (int a = 0; a < kAccounts; ++a) {
    const int64_t balance = e.Balance(address, absl::StrCat("a", a));
    EXPECT_GE(balance, 0);
    total += balance;
  }
  EXPECT_EQ(total, kAccounts * 1000);
  EXPECT_EQ(e.Call(address, "supply", {}, "x")->result().int_value(), kAccounts * 1000);
  EXPECT_EQ(committed + refused, 2000);
  EXPECT_GT(committed.load(), 0);
}

// Collects what the change stream publishes.
class Recorder final : public ContractEngine::Changes::Subscriber {
 public:
  void Deliver(const std::shared_ptr<const cv1::StateChange>& change) override {
    changes.push_back(*change);
  }
  std::vector<cv1::StateChange> changes;
};

TEST(ContractEngine, ChangesArePublishedInCommitOrderOnlyForCommittedWrites) {
  Engine e;
  auto recorder = std::make_shared<Recorder>();
  e.engine->changes().Add(recorder);
  auto deployed = e.Deploy(TokenSource(), {Text("minter"), Int(0)});
  ASSERT_TRUE(deployed.ok());
  const std::string address = deployed->address();
  ASSERT_TRUE(e.Call(address, "mint", {Text("alice"), Int(10)}, "minter").ok());
  EXPECT_FALSE(e.Call(address, "transfer", {Text("bob"), Int(11)}, "alice").ok());
  ASSERT_TRUE(e.Call(address, "balance", {Text("alice")}, "x").ok());  // writes nothing
  ASSERT_TRUE(e.Call(address, "transfer", {Text("bob"), Int(4)}, "alice").ok());
  ASSERT_EQ(recorder->changes.size(), 3u);
  EXPECT_EQ(recorder->changes[0].function(), "init");
  EXPECT_EQ(recorder->changes[1].function(), "mint");
  EXPECT_EQ(recorder->changes[2].function(), "transfer");
  EXPECT_EQ(recorder->changes[2].caller(), "alice");
  for (size_t i = 0; i < recorder->changes.size(); ++i) {
    EXPECT_EQ(recorder->changes[i].sequence(), i + 1);
    EXPECT_EQ(recorder->changes[i].address(), address);
  }
  ASSERT_EQ(recorder->changes[2].writes_size(), 2);
  EXPECT_EQ(recorder->changes[2].writes(0).key(), "balance/alice");
  EXPECT_EQ(recorder->changes[2].writes(0).value().int_value(), 6);
  EXPECT_EQ(recorder->changes[2].writes(1).value().int_value(), 4);
}

TEST(ContractEngine, AnInitThatWritesNothingIsNotAWritingCall) {
  Engine e;
  auto recorder = std::make_shared<Recorder>();
  e.engine->changes().Add(recorder);
  auto deployed = e.Deploy("fn init 0 arg drop end fn f \"k\" 1 store end", {Int(1)});
  ASSERT_TRUE(deployed.ok()) << deployed.status();
  EXPECT_TRUE(recorder->changes.empty());
  auto call = e.Call(deployed->address(), "f", {}, "c");
  ASSERT_TRUE(call.ok());
  EXPECT_EQ(call->sequence(), 1u);
  ASSERT_EQ(recorder->changes.size(), 1u);
  EXPECT_EQ(recorder->changes[0].function(), "f");
}

TEST(ContractEngine, ProgramsEvictedFromTheCacheCompileAgain) {
  ContractEngine::Options options;
  options.max_cached_programs = 1;
  Engine e({}, options);
  auto a = e.Deploy("fn f 1 ret end");
  auto b = e.Deploy("fn f 2 ret end");
  ASSERT_TRUE(a.ok() && b.ok());
  for (int i = 0; i < 4; ++i) {
    EXPECT_EQ(e.Call(a->address(), "f", {}, "c")->result().int_value(), 1);
    EXPECT_EQ(e.Call(b->address(), "f", {}, "c")->result().int_value(), 2);
  }
  cv1::StateRequest state;
  state.set_address(a->address());
  state.set_key(std::string(513, 'k'));
  EXPECT_EQ(e.engine->GetState(state).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(ContractEngine, BoundsRefuseAndCount) {
  ContractEngine::Options options;
  options.max_contracts = 2;
  Engine e({}, options);
  ASSERT_TRUE(e.Deploy("fn a end").ok());
  ASSERT_TRUE(e.Deploy("fn b end").ok());
  auto third = e.Deploy("fn c end");
  EXPECT_EQ(third.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_NE(third.status().message().find("--contract-max-contracts"), std::string::npos);
  EXPECT_EQ(e.engine->counters().refused_full.load(), 1);
  EXPECT_TRUE(e.Deploy("fn a end")->already_deployed());  // a known one still answers
  // An init that fails deploys nothing.
  Engine f;
  auto failing = f.Deploy("fn init 0 \"no\" require end");
  EXPECT_EQ(failing.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(f.engine->contracts(), 0);
  // A full store refuses the call's writes, all of them.
  KvStore::Options small;
  small.max_keys = 4;  // code, sequence, and two state keys
  Engine g(small);
  auto deployed = g.Deploy("fn put 0 arg 1 store end fn two \"x\" 1 store \"y\" 1 store end");
  ASSERT_TRUE(deployed.ok()) << deployed.status();
  ASSERT_TRUE(g.Call(deployed->address(), "put", {Text("k")}, "c").ok());
  auto full = g.Call(deployed->address(), "two", {}, "c");
  EXPECT_EQ(full.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(g.store->keys_held(), 3);
  EXPECT_EQ(g.engine->counters().refused_store.load(), 1);
}

}  // namespace
}  // namespace aurigraph::refserver
