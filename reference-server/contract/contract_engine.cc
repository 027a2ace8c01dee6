#include "reference-server/contract/contract_engine.h"

#include <openssl/sha.h>

#include <cstring>
#include <functional>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace aurigraph::refserver {

namespace cv1 = contract::v1;
using vm::Value;

namespace {

constexpr size_t kMaxCallerBytes = 256;
constexpr int kMaxArgs = 16;
constexpr char kInit[] = "init";

// A value as the store keeps it: 'i' and the integer (8 bytes, little-endian),
// or 't' and the text.
std::string Encode(const Value& value) {
  if (const auto* i = std::get_if<int64_t>(&value)) {
    std::string out(9, 'i');
    std::memcpy(out.data() + 1, i, 8);
    return out;
  }
  return absl::StrCat("t", std::get<std::string>(value));
}

absl::StatusOr<Value> Decode(const std::string& stored, const std::string& key) {
  if (stored.size() == 9 && stored[0] == 'i') {
    int64_t i = 0;
    std::memcpy(&i, stored.data() + 1, 8);
    return Value(i);
  }
  if (!stored.empty() && stored[0] == 't') return Value(stored.substr(1));
  return absl::DataLossError(absl::StrCat("contract state '", key, "' is damaged"));
}

void ToProto(const Value& value, cv1::Value* out) {
  if (const auto* i = std::get_if<int64_t>(&value)) {
    out->set_int_value(*i);
  } else {
    out->set_text_value(std::get<std::string>(value));
  }
}

absl::StatusOr<std::vector<Value>> FromProto(
    const google::protobuf::RepeatedPtrField<cv1::Value>& args, const char* field,
    size_t max_text_bytes) {
  if (args.size() > kMaxArgs) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, ": ", args.size(), " values, more than ", kMaxArgs));
  }
  std::vector<Value> out;
  out.reserve(args.size());
  for (int i = 0; i < args.size(); ++i) {
    switch (args[i].kind_case()) {
      case cv1::Value::kIntValue:
        out.emplace_back(args[i].int_value());
        break;
      case cv1::Value::kTextValue:
        if (args[i].text_value().size() > max_text_bytes) {
          return absl::InvalidArgumentError(absl::StrCat(field, "[", i,
                                                         "]: ", args[i].text_value().size(),
                                                         " bytes, more than ", max_text_bytes));
        }
        out.emplace_back(args[i].text_value());
        break;
      default:
        return absl::InvalidArgumentError(
            absl::StrCat(field, "[", i, "]: neither int_value nor text_value"));
    }
  }
  return out;
}

}  // namespace

absl::Status CheckContractAddress(const std::string& address) {
  if (address.size() != 2 * SHA256_DIGEST_LENGTH ||
      !std::all_of(address.begin(), address.end(), [](char c) {
        return absl::ascii_isdigit(static_cast<unsigned char>(c)) || (c >= 'a' && c <= 'f');
      })) {
    return absl::InvalidArgumentError(
        absl::StrCat("address: '", absl::CHexEscape(address.substr(0, 80)),
                     "' is not a contract address (64 lower-case hex digits)"));
  }
  return absl::OkStatus();
}

namespace {

absl::Status CheckCaller(const std::string& caller) {
  if (caller.size() > kMaxCallerBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("caller: ", caller.size(), " bytes, more than ", kMaxCallerBytes));
  }
  return absl::OkStatus();
}

// The contract's state as the machine reads it: its keys in the store.
class StoreReader final : public vm::StateReader {
 public:
  StoreReader(const KvStore& store, const std::string& address)
      : store_(store), address_(address) {}
  absl::StatusOr<std::optional<Value>> Read(const std::string& key) override {
    auto entry = store_.Peek(ContractEngine::StateKey(address_, key));
    if (absl::IsNotFound(entry.status())) return std::optional<Value>();
    if (!entry.ok()) return entry.status();
    auto value = Decode(entry->value(), key);
    if (!value.ok()) return value.status();
    return std::optional<Value>(*std::move(value));
  }

 private:
  const KvStore& store_;
  const std::string& address_;
};

}  // namespace

std::string ContractEngine::CodeKey(const std::string& address) {
  return absl::StrCat("contract/code/", address);
}
std::string ContractEngine::SequenceKey(const std::string& address) {
  return absl::StrCat("contract/seq/", address);
}
std::string ContractEngine::StateKey(const std::string& address, const std::string& key) {
  return absl::StrCat("contract/state/", address, "/", key);
}

absl::StatusOr<std::unique_ptr<ContractEngine>> ContractEngine::Open(KvStore& store,
                                                                     const Clock& clock,
                                                                     Options options) {
  std::unique_ptr<ContractEngine> engine(new ContractEngine(store, clock, options));
  if (auto counted = engine->CountContracts(); !counted.ok()) return counted;
  return engine;
}

absl::Status ContractEngine::CountContracts() {
  storage::v1::ScanRequest scan;
  scan.set_start_key("contract/code/");
  scan.set_end_key("contract/code0");  // '0' follows '/'
  scan.set_keys_only(true);
  scan.set_limit(1000);
  int64_t count = 0;
  do {
    auto page = store_.Range(scan);
    if (!page.ok()) return page.status();
    count += page->entries_size();
    scan.set_page_token(page->next_page_token());
  } while (!scan.page_token().empty());
  contracts_ = count;
  return absl::OkStatus();
}

absl::Status ContractEngine::Reload() {
  {
    std::unique_lock lock(programs_mutex_);
    programs_.clear();
  }
  return CountContracts();
}

std::mutex& ContractEngine::LockFor(const std::string& address) {
  return contract_locks_[std::hash<std::string>()(address) % contract_locks_.size()];
}

absl::StatusOr<vm::RunLimits> ContractEngine::LimitsFor(uint64_t gas_limit,
                                                        const Interrupted& interrupted) const {
  if (gas_limit > options_.max_gas) {
    return absl::InvalidArgumentError(absl::StrCat("gas_limit: ", gas_limit,
                                                   ", more than the server allows (",
                                                   options_.max_gas, ", --contract-max-gas)"));
  }
  vm::RunLimits limits;
  limits.gas_limit = gas_limit == 0 ? options_.default_gas : gas_limit;
  limits.interrupted = interrupted;
  return limits;
}

absl::StatusOr<std::shared_ptr<const vm::Program>> ContractEngine::Find(
    const std::string& address) {
  {
    std::shared_lock lock(programs_mutex_);
    if (auto it = programs_.find(address); it != programs_.end()) return it->second;
  }
  auto code = store_.Peek(CodeKey(address));
  if (absl::IsNotFound(code.status())) {
    return absl::NotFoundError(absl::StrCat("no contract at address ", address));
  }
  if (!code.ok()) return code.status();
  auto program = vm::Compile(code->value());
  if (!program.ok()) {
    return absl::DataLossError(absl::StrCat(
        "contract ", address, ": its stored code does not compile: ", program.status().message()));
  }
  return Cache(address, std::make_shared<const vm::Program>(*std::move(program)));
}

std::shared_ptr<const vm::Program> ContractEngine::Cache(
    const std::string& address, std::shared_ptr<const vm::Program> program) {
  std::unique_lock lock(programs_mutex_);
  // Bounded: a program evicted is compiled again from the store when called.
  if (programs_.size() >= options_.max_cached_programs && !programs_.contains(address)) {
    programs_.erase(programs_.begin());
  }
  return programs_.emplace(address, std::move(program)).first->second;
}

void ContractEngine::Count(const absl::Status& status) {
  switch (status.code()) {
    case absl::StatusCode::kFailedPrecondition:
      counters_.reverted.fetch_add(1, std::memory_order_relaxed);
      break;
    case absl::StatusCode::kResourceExhausted:
      counters_.out_of_gas.fetch_add(1, std::memory_order_relaxed);
      break;
    case absl::StatusCode::kCancelled:
      counters_.cancelled.fetch_add(1, std::memory_order_relaxed);
      break;
    case absl::StatusCode::kInvalidArgument:
    case absl::StatusCode::kNotFound:
      counters_.invalid.fetch_add(1, std::memory_order_relaxed);
      break;
    default:  // the store could not be read or written
      counters_.failed.fetch_add(1, std::memory_order_relaxed);
      break;
  }
}

absl::StatusOr<cv1::ExecuteResponse> ContractEngine::RunAndCommit(
    const std::string& address, const vm::Program& program, const vm::Function& function,
    const std::vector<Value>& args, const std::string& caller, vm::RunLimits limits,
    std::vector<std::pair<std::string, std::string>> extra_writes) {
  StoreReader reader(store_, address);
  auto outcome = vm::Run(program, function, args, caller, limits, reader);
  if (!outcome.ok()) {
    Count(outcome.status());
    return outcome.status();
  }
  cv1::ExecuteResponse response;
  if (outcome->result) ToProto(*outcome->result, response.mutable_result());
  response.set_gas_used(outcome->gas_used);
  // The call count (when the call wrote), then the state in key order (a std::map's).
  std::vector<std::pair<std::string, std::string>> batch = std::move(extra_writes);
  const bool wrote = !outcome->writes.empty();
  if (wrote) batch.emplace_back(SequenceKey(address), std::string());
  const size_t first_state = batch.size();
  for (const auto& [key, value] : outcome->writes) {
    batch.emplace_back(StateKey(address, key), Encode(value));
  }
  if (!batch.empty()) {
    auto versions = store_.PutAll(batch);
    if (!versions.ok()) {
      if (absl::IsResourceExhausted(versions.status())) {
        counters_.refused_store.fetch_add(1, std::memory_order_relaxed);
      } else {
        Count(versions.status());
      }
      return versions.status();
    }
    if (wrote) response.set_sequence((*versions)[first_state - 1]);
    size_t i = first_state;
    for (const auto& [key, value] : outcome->writes) {
      cv1::StateWrite* write = response.add_writes();
      write->set_key(key);
      ToProto(value, write->mutable_value());
      write->set_version((*versions)[i++]);
    }
  }
  counters_.committed.fetch_add(1, std::memory_order_relaxed);
  counters_.gas.fetch_add(static_cast<int64_t>(outcome->gas_used), std::memory_order_relaxed);
  counters_.writes.fetch_add(static_cast<int64_t>(outcome->writes.size()),
                             std::memory_order_relaxed);
  if (wrote && changes_.has_subscribers()) {
    auto change = std::make_shared<cv1::StateChange>();
    change->set_address(address);
    change->set_function(function.name);
    change->set_caller(caller);
    change->set_sequence(response.sequence());
    *change->mutable_writes() = response.writes();
    change->set_committed_at_unix_nanos(clock_.NowNanos());
    changes_.Publish(change);  // under the contract's lock: in commit order
  }
  return response;
}

absl::StatusOr<cv1::DeployResponse> ContractEngine::Deploy(const cv1::DeployRequest& request,
                                                           const Interrupted& interrupted) {
  auto limits = LimitsFor(request.gas_limit(), interrupted);
  absl::Status valid = limits.status();
  if (valid.ok()) valid = CheckCaller(request.caller());
  auto args = FromProto(request.init_args(), "init_args", vm::RunLimits().max_text_bytes);
  if (valid.ok()) valid = args.status();
  if (!valid.ok()) {
    counters_.invalid.fetch_add(1, std::memory_order_relaxed);
    return valid;
  }
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(request.source().data()), request.source().size(),
         digest);
  const std::string address = absl::BytesToHexString(
      absl::string_view(reinterpret_cast<const char*>(digest), sizeof(digest)));
  cv1::DeployResponse response;
  response.set_address(address);
  std::lock_guard lock(LockFor(address));
  if (auto existing = Find(address); existing.ok()) {
    counters_.redeployed.fetch_add(1, std::memory_order_relaxed);
    response.set_already_deployed(true);
    for (const auto& name : (*existing)->FunctionNames()) response.add_functions(name);
    return response;
  } else if (!absl::IsNotFound(existing.status())) {
    return existing.status();
  }
  auto compiled = vm::Compile(request.source());
  if (!compiled.ok()) {
    counters_.invalid.fetch_add(1, std::memory_order_relaxed);
    return compiled.status();
  }
  auto program = std::make_shared<const vm::Program>(*std::move(compiled));
  for (const auto& name : program->FunctionNames()) response.add_functions(name);
  if (contracts_.fetch_add(1, std::memory_order_relaxed) >=
      static_cast<int64_t>(options_.max_contracts)) {
    contracts_.fetch_sub(1, std::memory_order_relaxed);
    counters_.refused_full.fetch_add(1, std::memory_order_relaxed);
    return absl::ResourceExhaustedError(absl::StrCat("contracts full: ", options_.max_contracts,
                                                     " deployed (--contract-max-contracts)"));
  }
  std::vector<std::pair<std::string, std::string>> code = {{CodeKey(address), request.source()}};
  absl::Status stored;
  if (const vm::Function* init = program->Find(kInit)) {
    auto ran =
        RunAndCommit(address, *program, *init, *args, request.caller(), *limits, std::move(code));
    if (ran.ok()) response.set_gas_used(ran->gas_used());
    stored = ran.status();
  } else {
    stored = store_.PutAll(code).status();
  }
  if (!stored.ok()) {
    contracts_.fetch_sub(1, std::memory_order_relaxed);
    return stored;
  }
  counters_.deployed.fetch_add(1, std::memory_order_relaxed);
  Cache(address, std::move(program));
  return response;
}

absl::StatusOr<cv1::ExecuteResponse> ContractEngine::Execute(const cv1::ExecuteRequest& request,
                                                             const Interrupted& interrupted) {
  auto limits = LimitsFor(request.gas_limit(), interrupted);
  absl::Status valid = limits.status();
  if (valid.ok()) valid = CheckContractAddress(request.address());
  if (valid.ok()) valid = CheckCaller(request.caller());
  auto args = FromProto(request.args(), "args", vm::RunLimits().max_text_bytes);
  if (valid.ok()) valid = args.status();
  if (!valid.ok()) {
    counters_.invalid.fetch_add(1, std::memory_order_relaxed);
    return valid;
  }
  auto program = Find(request.address());
  if (!program.ok()) {
    Count(program.status());
    return program.status();
  }
  const vm::Function* function = (*program)->Find(request.function());
  if (function == nullptr) {
    counters_.invalid.fetch_add(1, std::memory_order_relaxed);
    return absl::NotFoundError(
        absl::StrCat("contract ", request.address(), " has no function '",
                     absl::CHexEscape(request.function().substr(0, 80)),
                     "' (its functions: ", absl::StrJoin((*program)->FunctionNames(), ", "), ")"));
  }
  if (request.function() == kInit) {
    counters_.invalid.fetch_add(1, std::memory_order_relaxed);
    return absl::FailedPreconditionError("init runs once, when the contract is deployed");
  }
  std::lock_guard lock(LockFor(request.address()));
  return RunAndCommit(request.address(), **program, *function, *args, request.caller(), *limits,
                      {});
}

absl::StatusOr<cv1::StateResponse> ContractEngine::GetState(const cv1::StateRequest& request) {
  if (auto ok = CheckContractAddress(request.address()); !ok.ok()) return ok;
  if (auto program = Find(request.address()); !program.ok()) return program.status();
  cv1::StateResponse response;
  response.set_address(request.address());
  if (!request.key().empty()) {
    if (request.key().size() > vm::RunLimits().max_key_bytes) {
      return absl::InvalidArgumentError(absl::StrCat("key: ", request.key().size(),
                                                     " bytes, more than a state key's ",
                                                     vm::RunLimits().max_key_bytes));
    }
    if (!request.page_token().empty() || request.limit() != 0) {
      return absl::InvalidArgumentError("page_token, limit: only without a key");
    }
    auto entry = store_.Peek(StateKey(request.address(), request.key()));
    cv1::StateEntry* out = response.add_entries();
    out->set_key(request.key());
    if (absl::IsNotFound(entry.status())) return response;
    if (!entry.ok()) return entry.status();
    auto value = Decode(entry->value(), request.key());
    if (!value.ok()) return value.status();
    ToProto(*value, out->mutable_value());
    out->set_version(entry->version());
    return response;
  }
  const std::string prefix = StateKey(request.address(), "");
  storage::v1::ScanRequest scan;
  scan.set_start_key(prefix);
  scan.set_end_key(absl::StrCat("contract/state/", request.address(), "0"));  // '0' follows '/'
  scan.set_limit(request.limit());
  if (!request.page_token().empty()) scan.set_page_token(prefix + request.page_token());
  auto page = store_.Range(scan);
  if (!page.ok()) return page.status();
  for (const auto& entry : page->entries()) {
    const std::string key = entry.key().substr(prefix.size());
    auto value = Decode(entry.value(), key);
    if (!value.ok()) return value.status();
    cv1::StateEntry* out = response.add_entries();
    out->set_key(key);
    ToProto(*value, out->mutable_value());
    out->set_version(entry.version());
  }
  if (!page->next_page_token().empty()) {
    response.set_next_page_token(page->next_page_token().substr(prefix.size()));
  }
  return response;
}

}  // namespace aurigraph::refserver
