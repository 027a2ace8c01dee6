// The contracts' language: a small stack machine (README "ContractService").
// Compile turns source text into a Program of functions; Run executes one
// function against contract state it reads through a StateReader, and returns
// the writes it would make without making them, so its caller commits all of
// them or none. Every instruction costs gas; a call that would pass its limit
// ends with RESOURCE_EXHAUSTED. Deterministic and pure: no I/O, clock, threads
// or randomness, so the same call on the same state always does the same.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "absl/status/statusor.h"

namespace aurigraph::refserver::vm {

// A 64-bit integer or text.
using Value = std::variant<int64_t, std::string>;

enum class Op : uint8_t {
  kPush,  // constants_[operand]
  kArg,
  kCaller,
  kLoad,
  kStore,
  kAdd,
  kSub,
  kMul,
  kDiv,
  kMod,
  kLt,
  kLe,
  kGt,
  kGe,
  kEq,
  kNe,
  kNot,
  kAnd,
  kOr,
  kDup,
  kSwap,
  kDrop,
  kOver,
  kCat,
  kLen,
  kRequire,
  kFail,
  kRet,
  kJmp,  // to instruction `operand`
  kJz,
  kJnz,
  kSetLocal,  // local `operand`
  kGetLocal,
};

struct Instruction {
  Op op;
  uint32_t operand = 0;
  uint32_t line = 0;  // in the source, for error messages
};

struct Function {
  std::string name;
  std::vector<Instruction> code;
  uint32_t locals = 0;
};

struct Program {
  std::vector<Function> functions;  // in source order
  std::vector<Value> constants;

  const Function* Find(const std::string& name) const;
  std::vector<std::string> FunctionNames() const;
};

struct SourceLimits {
  size_t max_source_bytes = 16 * 1024;
  size_t max_functions = 64;
  size_t max_instructions = 4096;  // per function
  size_t max_locals = 64;          // per function
};

// INVALID_ARGUMENT naming the line and the problem when `source` is not a program.
absl::StatusOr<Program> Compile(const std::string& source, const SourceLimits& limits = {});

// Contract state as the machine reads it; a key never written reads as 0.
class StateReader {
 public:
  virtual ~StateReader() = default;
  virtual absl::StatusOr<std::optional<Value>> Read(const std::string& key) = 0;
};

struct RunLimits {
  uint64_t gas_limit = 100'000;
  size_t max_stack = 256;
  size_t max_text_bytes = 4096;  // any value on the stack
  size_t max_key_bytes = 512;
  size_t max_writes = 256;  // distinct keys one call writes
  // Looked at every 1,024 instructions: true ends the run with CANCELLED (a
  // call whose client left or whose deadline passed). Empty: never.
  std::function<bool()> interrupted;
};

struct Outcome {
  std::optional<Value> result;
  uint64_t gas_used = 0;
  std::map<std::string, Value> writes;  // each key's last value
};

// Runs `function` of `program`. A failed call's status says why, with the
// function and source line: FAILED_PRECONDITION for `require`/`fail`, a type
// error, overflow or a malformed key; INVALID_ARGUMENT for a missing
// argument; RESOURCE_EXHAUSTED for gas, stack, text or write limits; and
// CANCELLED when `limits.interrupted` says so; whatever `state` returned when
// a read failed.
absl::StatusOr<Outcome> Run(const Program& program, const Function& function,
                            const std::vector<Value>& args, const std::string& caller,
                            const RunLimits& limits, StateReader& state);

// Gas per instruction; loads and stores cost more (a load is a read of the
// store, a store a write at the commit: each some microseconds, where an
// instruction takes tens of nanoseconds), and text by its size wherever a word
// puts it on the stack, compares or stores it. So a unit of gas is about the
// same time whatever the program does.
inline constexpr uint64_t kGasPerInstruction = 1;
inline constexpr uint64_t kGasPerLoad = 200;
inline constexpr uint64_t kGasPerStore = 400;
inline constexpr uint64_t kTextBytesPerGas = 16;

}  // namespace aurigraph::refserver::vm
