// The contracts behind ContractService: programs in the stack language
// (stack_machine.h) deployed at the SHA-256 of their source, their code and
// state kept in the storage service's store under "contract/" (so a restart
// on the same --data-dir keeps them, and StorageService reads them). A call
// runs its function against the contract's state and commits every write it
// made in one atomic batch, or nothing when it fails; calls to one contract
// are serialized, so each sees the last one's writes. Committed calls that
// wrote are numbered per contract and published to `changes()`. At most
// `max_contracts` are deployed (then RESOURCE_EXHAUSTED, counted). Thread-safe.
#pragma once

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <unordered_map>

#include "absl/status/statusor.h"
#include "aurigraph/contract/v1/contract.pb.h"
#include "common/clock/clock.h"
#include "reference-server/contract/stack_machine.h"
#include "reference-server/storage/kv_store.h"
#include "reference-server/streams/event_stream.h"

namespace aurigraph::refserver {

class ContractEngine {
 public:
  struct Options {
    size_t max_contracts = 1000;
    uint64_t default_gas = 100'000;    // a call's gas_limit when it gives none
    uint64_t max_gas = 1'000'000;      // the most a call may ask for
    size_t max_cached_programs = 256;  // compiled programs kept; others compile when called
  };
  struct Counters {
    // Calls end committed, reverted (FAILED_PRECONDITION), out of gas (or of
    // another run limit), cancelled (the client left), refused by the store
    // (full), invalid (bad arguments, an unknown contract or function, a
    // gas_limit too high, bad source) or failed (the store could not be used).
    std::atomic<int64_t> deployed{0}, redeployed{0}, refused_full{0}, committed{0}, reverted{0},
        out_of_gas{0}, cancelled{0}, refused_store{0}, invalid{0}, failed{0}, writes{0}, gas{0};
  };
  using Changes = EventHub<contract::v1::StateChange>;
  // Whether the call's client has gone (looked at while a call runs).
  using Interrupted = std::function<bool()>;

  // Counts the contracts `store` already holds. `clock` reads Unix-epoch nanoseconds.
  static absl::StatusOr<std::unique_ptr<ContractEngine>> Open(KvStore& store, const Clock& clock,
                                                              Options options);

  absl::StatusOr<contract::v1::DeployResponse> Deploy(const contract::v1::DeployRequest& request,
                                                      const Interrupted& interrupted = {});
  absl::StatusOr<contract::v1::ExecuteResponse> Execute(const contract::v1::ExecuteRequest& request,
                                                        const Interrupted& interrupted = {});
  absl::StatusOr<contract::v1::StateResponse> GetState(const contract::v1::StateRequest& request);

  // After the store was loaded anew (KvStore::Load): forgets the programs it
  // compiled and counts the contracts again. No call may run meanwhile.
  absl::Status Reload();

  Changes& changes() { return changes_; }
  int64_t contracts() const { return contracts_.load(std::memory_order_relaxed); }
  const Counters& counters() const { return counters_; }

  // Where the store keeps a contract's code, its call count and its state.
  static std::string CodeKey(const std::string& address);
  static std::string SequenceKey(const std::string& address);
  static std::string StateKey(const std::string& address, const std::string& key);

 private:
  ContractEngine(KvStore& store, const Clock& clock, Options options)
      : store_(store), clock_(clock), options_(options) {}
  // Counts the contracts the store holds.
  absl::Status CountContracts();
  // The contract's compiled program, from the cache or the store; NOT_FOUND when none.
  absl::StatusOr<std::shared_ptr<const vm::Program>> Find(const std::string& address);
  std::mutex& LockFor(const std::string& address);
  std::shared_ptr<const vm::Program> Cache(const std::string& address,
                                           std::shared_ptr<const vm::Program> program);
  absl::StatusOr<vm::RunLimits> LimitsFor(uint64_t gas_limit, const Interrupted& interrupted) const;
  void Count(const absl::Status& failed_call);
  // Runs `function` and commits its writes, with the call count when it
  // wrote and `extra_writes`, in one batch.
  absl::StatusOr<contract::v1::ExecuteResponse> RunAndCommit(
      const std::string& address, const vm::Program& program, const vm::Function& function,
      const std::vector<vm::Value>& args, const std::string& caller, vm::RunLimits limits,
      std::vector<std::pair<std::string, std::string>> extra_writes);

  KvStore& store_;
  const Clock& clock_;
  const Options options_;
  std::array<std::mutex, 64> contract_locks_;
  mutable std::shared_mutex programs_mutex_;
  std::unordered_map<std::string, std::shared_ptr<const vm::Program>> programs_;
  std::atomic<int64_t> contracts_{0};
  Changes changes_;
  Counters counters_;
};

// INVALID_ARGUMENT unless `address` is 64 lower-case hex digits.
absl::Status CheckContractAddress(const std::string& address);

}  // namespace aurigraph::refserver
