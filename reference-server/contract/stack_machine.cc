#include "reference-server/contract/stack_machine.h"

#include <algorithm>
#include <limits>
#include <map>
#include <unordered_map>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace aurigraph::refserver::vm {

const Function* Program::Find(const std::string& name) const {
  for (const Function& f : functions) {
    if (f.name == name) return &f;
  }
  return nullptr;
}

std::vector<std::string> Program::FunctionNames() const {
  std::vector<std::string> names;
  names.reserve(functions.size());
  for (const Function& f : functions) names.push_back(f.name);
  return names;
}

namespace {

constexpr size_t kMaxNameBytes = 64;
constexpr size_t kMaxLiteralBytes = 1024;

const std::unordered_map<std::string, Op>& Opcodes() {
  static const auto* opcodes = new std::unordered_map<std::string, Op>{
      {"arg", Op::kArg},         {"caller", Op::kCaller}, {"load", Op::kLoad},
      {"store", Op::kStore},     {"add", Op::kAdd},       {"sub", Op::kSub},
      {"mul", Op::kMul},         {"div", Op::kDiv},       {"mod", Op::kMod},
      {"lt", Op::kLt},           {"le", Op::kLe},         {"gt", Op::kGt},
      {"ge", Op::kGe},           {"eq", Op::kEq},         {"ne", Op::kNe},
      {"not", Op::kNot},         {"and", Op::kAnd},       {"or", Op::kOr},
      {"dup", Op::kDup},         {"swap", Op::kSwap},     {"drop", Op::kDrop},
      {"over", Op::kOver},       {"cat", Op::kCat},       {"len", Op::kLen},
      {"require", Op::kRequire}, {"fail", Op::kFail},     {"ret", Op::kRet},
      {"jmp", Op::kJmp},         {"jz", Op::kJz},         {"jnz", Op::kJnz},
  };
  return *opcodes;
}

// A word as error messages show it: escaped, and cut at 64 bytes.
std::string Quote(absl::string_view word) {
  return absl::StrCat("'", absl::CHexEscape(word.substr(0, 64)), word.size() > 64 ? "...'" : "'");
}

bool IsKeyword(const std::string& word) { return word == "fn" || word == "end"; }

bool IsName(const std::string& word) {
  if (word.empty() || word.size() > kMaxNameBytes) return false;
  if (!absl::ascii_isalpha(static_cast<unsigned char>(word[0])) && word[0] != '_') return false;
  return std::all_of(word.begin(), word.end(), [](char c) {
    return absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '_';
  });
}

struct Token {
  std::string text;
  bool literal = false;  // a quoted string, unescaped
  uint32_t line = 0;
};

absl::Status SourceError(uint32_t line, absl::string_view problem) {
  return absl::InvalidArgumentError(absl::StrCat("source line ", line, ": ", problem));
}

absl::StatusOr<std::vector<Token>> Tokenize(const std::string& source) {
  std::vector<Token> tokens;
  uint32_t line = 1;
  size_t i = 0;
  while (i < source.size()) {
    const char c = source[i];
    if (c == '\n') {
      ++line;
      ++i;
    } else if (absl::ascii_isspace(static_cast<unsigned char>(c))) {
      ++i;
    } else if (c == '#') {
      while (i < source.size() && source[i] != '\n') ++i;
    } else if (c == '"') {
      Token token{"", true, line};
      for (++i;; ++i) {
        if (i == source.size() || source[i] == '\n') {
          return SourceError(line, "a text literal is not closed on its line");
        }
        if (source[i] == '"') break;
        if (source[i] == '\\') {
          if (++i == source.size()) return SourceError(line, "a text literal ends in '\\'");
          switch (source[i]) {
            case '"':
            case '\\':
              token.text.push_back(source[i]);
              break;
            case 'n':
              token.text.push_back('\n');
              break;
            default:
              return SourceError(line, absl::StrCat("unknown escape '\\", source.substr(i, 1),
                                                    "' (known: \\\" \\\\ \\n)"));
          }
        } else {
          token.text.push_back(source[i]);
        }
        if (token.text.size() > kMaxLiteralBytes) {
          return SourceError(
              line, absl::StrCat("a text literal longer than ", kMaxLiteralBytes, " bytes"));
        }
      }
      ++i;
      tokens.push_back(std::move(token));
    } else {
      const size_t start = i;
      while (i < source.size() && !absl::ascii_isspace(static_cast<unsigned char>(source[i])) &&
             source[i] != '#' && source[i] != '"') {
        ++i;
      }
      tokens.push_back(Token{source.substr(start, i - start), false, line});
    }
  }
  return tokens;
}

// Compiles one function's body: labels and locals are the function's own.
class FunctionCompiler {
 public:
  FunctionCompiler(Program& program, Function& function, const SourceLimits& limits,
                   std::map<Value, uint32_t>& constants)
      : program_(program), function_(function), limits_(limits), constants_(constants) {}

  absl::Status Add(const std::vector<Token>& tokens, size_t& i) {
    const Token& t = tokens[i];
    if (t.literal) return Emit(Op::kPush, Constant(t.text), t.line);
    const std::string& word = t.text;
    int64_t number = 0;
    if (absl::ascii_isdigit(static_cast<unsigned char>(word[0])) ||
        (word[0] == '-' && word.size() > 1)) {
      if (!absl::SimpleAtoi(word, &number)) {
        return SourceError(t.line, absl::StrCat(Quote(word), " is not a 64-bit integer"));
      }
      return Emit(Op::kPush, Constant(number), t.line);
    }
    if (word.size() > 1 && (word[0] == '>' || word[0] == '@')) {
      const std::string name = word.substr(1);
      if (!IsName(name)) return SourceError(t.line, absl::StrCat(Quote(name), " is not a name"));
      auto local = Local(name, t.line, word[0] == '>');
      if (!local.ok()) return local.status();
      return Emit(word[0] == '>' ? Op::kSetLocal : Op::kGetLocal, *local, t.line);
    }
    if (word.back() == ':') {
      const std::string name = word.substr(0, word.size() - 1);
      if (!IsName(name) || IsKeyword(name)) {
        return SourceError(t.line, absl::StrCat(Quote(name), " is not a label"));
      }
      if (!labels_.emplace(name, function_.code.size()).second) {
        return SourceError(t.line, absl::StrCat("label '", name, "' is defined twice"));
      }
      return absl::OkStatus();
    }
    const auto op = Opcodes().find(word);
    if (op == Opcodes().end()) {
      return SourceError(t.line, absl::StrCat("unknown instruction ", Quote(word)));
    }
    if (op->second == Op::kJmp || op->second == Op::kJz || op->second == Op::kJnz) {
      if (i + 1 == tokens.size() || tokens[i + 1].literal || !IsName(tokens[i + 1].text) ||
          IsKeyword(tokens[i + 1].text)) {
        return SourceError(t.line, absl::StrCat("'", word, "' needs a label after it"));
      }
      jumps_.push_back({function_.code.size(), tokens[++i].text, t.line});
    }
    return Emit(op->second, 0, t.line);
  }

  // Resolves jumps and checks that every local read is set somewhere.
  absl::Status Finish() {
    for (const Jump& jump : jumps_) {
      const auto label = labels_.find(jump.label);
      if (label == labels_.end()) {
        return SourceError(jump.line, absl::StrCat("no label '", jump.label, "' in function '",
                                                   function_.name, "'"));
      }
      function_.code[jump.at].operand = static_cast<uint32_t>(label->second);
    }
    for (const auto& [name, local] : locals_) {
      if (!local.set) {
        return SourceError(local.first_read,
                           absl::StrCat("local '", name, "' is read but never set"));
      }
    }
    function_.locals = static_cast<uint32_t>(locals_.size());
    return absl::OkStatus();
  }

 private:
  struct Jump {
    size_t at;
    std::string label;
    uint32_t line;
  };
  struct LocalInfo {
    uint32_t index;
    bool set;
    uint32_t first_read;
  };

  // One copy of each distinct constant in a program.
  uint32_t Constant(Value value) {
    auto [it, added] =
        constants_.try_emplace(value, static_cast<uint32_t>(program_.constants.size()));
    if (added) program_.constants.push_back(std::move(value));
    return it->second;
  }

  absl::StatusOr<uint32_t> Local(const std::string& name, uint32_t line, bool set) {
    auto it = locals_.find(name);
    if (it == locals_.end()) {
      if (locals_.size() == limits_.max_locals) {
        return SourceError(line, absl::StrCat("function '", function_.name, "' has more than ",
                                              limits_.max_locals, " locals"));
      }
      it = locals_.emplace(name, LocalInfo{static_cast<uint32_t>(locals_.size()), false, line})
               .first;
    }
    it->second.set |= set;
    return it->second.index;
  }

  absl::Status Emit(Op op, uint32_t operand, uint32_t line) {
    if (function_.code.size() == limits_.max_instructions) {
      return SourceError(line, absl::StrCat("function '", function_.name, "' has more than ",
                                            limits_.max_instructions, " instructions"));
    }
    function_.code.push_back(Instruction{op, operand, line});
    return absl::OkStatus();
  }

  Program& program_;
  Function& function_;
  const SourceLimits& limits_;
  std::map<Value, uint32_t>& constants_;
  std::unordered_map<std::string, size_t> labels_;
  std::unordered_map<std::string, LocalInfo> locals_;
  std::vector<Jump> jumps_;
};

}  // namespace

absl::StatusOr<Program> Compile(const std::string& source, const SourceLimits& limits) {
  if (source.size() > limits.max_source_bytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("source: ", source.size(), " bytes, more than ", limits.max_source_bytes));
  }
  auto tokens = Tokenize(source);
  if (!tokens.ok()) return tokens.status();
  Program program;
  std::map<Value, uint32_t> constants;
  for (size_t i = 0; i < tokens->size(); ++i) {
    const Token& t = (*tokens)[i];
    if (t.literal || t.text != "fn") {
      return SourceError(t.line, absl::StrCat("expected 'fn NAME', found ", Quote(t.text)));
    }
    if (i + 1 == tokens->size() || (*tokens)[i + 1].literal || !IsName((*tokens)[i + 1].text) ||
        IsKeyword((*tokens)[i + 1].text)) {
      return SourceError(t.line, "'fn' needs a function name after it");
    }
    const std::string& name = (*tokens)[++i].text;
    if (program.Find(name) != nullptr) {
      return SourceError(t.line, absl::StrCat("function '", name, "' is defined twice"));
    }
    if (program.functions.size() == limits.max_functions) {
      return SourceError(t.line, absl::StrCat("more than ", limits.max_functions, " functions"));
    }
    Function& function = program.functions.emplace_back();
    function.name = name;
    FunctionCompiler compiler(program, function, limits, constants);
    for (++i;; ++i) {
      if (i == tokens->size()) {
        return SourceError(t.line, absl::StrCat("function '", name, "' has no 'end'"));
      }
      const Token& body = (*tokens)[i];
      if (!body.literal && body.text == "end") break;
      if (!body.literal && body.text == "fn") {
        return SourceError(
            body.line, absl::StrCat("'fn' inside function '", name, "' (is its 'end' missing?)"));
      }
      if (auto added = compiler.Add(*tokens, i); !added.ok()) return added;
    }
    if (auto done = compiler.Finish(); !done.ok()) return done;
  }
  if (program.functions.empty()) {
    return absl::InvalidArgumentError("source: no functions ('fn NAME ... end')");
  }
  return program;
}

namespace {

std::string AsText(const Value& v) {
  if (const auto* i = std::get_if<int64_t>(&v)) return absl::StrCat(*i);
  return std::get<std::string>(v);
}

uint64_t TextGas(size_t bytes) { return bytes / kTextBytesPerGas; }

size_t TextBytes(const Value& v) {
  const auto* text = std::get_if<std::string>(&v);
  return text == nullptr ? 0 : text->size();
}

// How often a run looks at RunLimits::interrupted (a few microseconds apart).
constexpr uint64_t kStepsPerInterruptCheck = 1024;

class Machine {
 public:
  Machine(const Program& program, const Function& function, const std::vector<Value>& args,
          const std::string& caller, const RunLimits& limits, StateReader& state)
      : program_(program),
        function_(function),
        args_(args),
        caller_(caller),
        limits_(limits),
        state_(state),
        locals_(function.locals) {}

  absl::StatusOr<Outcome> Run() {
    size_t pc = 0;
    while (pc < function_.code.size()) {
      const Instruction& in = function_.code[pc];
      line_ = in.line;
      if (auto charged = Charge(kGasPerInstruction); !charged.ok()) return charged;
      if (++steps_ % kStepsPerInterruptCheck == 0 && limits_.interrupted && limits_.interrupted()) {
        return absl::CancelledError(
            absl::StrCat(Where(), ": the call was cancelled or passed its deadline"));
      }
      ++pc;
      absl::Status status;
      switch (in.op) {
        case Op::kPush:
          status = Push(program_.constants[in.operand]);
          break;
        case Op::kArg:
          status = Arg();
          break;
        case Op::kCaller:
          status = Push(caller_);
          break;
        case Op::kLoad:
          status = Load();
          break;
        case Op::kStore:
          status = Store();
          break;
        case Op::kAdd:
        case Op::kSub:
        case Op::kMul:
        case Op::kDiv:
        case Op::kMod:
          status = Arithmetic(in.op);
          break;
        case Op::kLt:
        case Op::kLe:
        case Op::kGt:
        case Op::kGe:
        case Op::kAnd:
        case Op::kOr:
          status = Compare(in.op);
          break;
        case Op::kEq:
        case Op::kNe: {
          auto b = Pop();
          auto a = Pop();
          if (!a.ok() || !b.ok()) return StackError();
          status = Charge(TextGas(TextBytes(*a) + TextBytes(*b)));
          if (status.ok()) status = Push(int64_t{(*a == *b) == (in.op == Op::kEq)});
          break;
        }
        case Op::kNot: {
          auto a = PopInt("not");
          if (!a.ok()) return a.status();
          status = Push(int64_t{*a == 0});
          break;
        }
        case Op::kDup:
        case Op::kOver: {
          const size_t depth = in.op == Op::kDup ? 1 : 2;
          if (stack_.size() < depth) return StackError();
          status = Push(Value(stack_[stack_.size() - depth]));
          break;
        }
        case Op::kSwap:
          if (stack_.size() < 2) return StackError();
          std::swap(stack_[stack_.size() - 1], stack_[stack_.size() - 2]);
          break;
        case Op::kDrop:
          if (stack_.empty()) return StackError();
          stack_.pop_back();
          break;
        case Op::kCat:
          status = Cat();
          break;
        case Op::kLen: {
          auto a = Pop();
          if (!a.ok()) return a.status();
          const auto* text = std::get_if<std::string>(&*a);
          status = Push(static_cast<int64_t>(text != nullptr ? text->size() : AsText(*a).size()));
          break;
        }
        case Op::kRequire: {
          auto message = Pop();
          auto condition = PopInt("require's condition");
          if (!message.ok()) return message.status();
          if (!condition.ok()) return condition.status();
          if (*condition == 0) return Failed(AsText(*message));
          break;
        }
        case Op::kFail: {
          auto message = Pop();
          if (!message.ok()) return message.status();
          return Failed(AsText(*message));
        }
        case Op::kRet: {
          auto result = Pop();
          if (!result.ok()) return result.status();
          outcome_.result = *std::move(result);
          return Finish();
        }
        case Op::kJmp:
          pc = in.operand;
          break;
        case Op::kJz:
        case Op::kJnz: {
          auto a = PopInt(in.op == Op::kJz ? "jz" : "jnz");
          if (!a.ok()) return a.status();
          if ((*a == 0) == (in.op == Op::kJz)) pc = in.operand;
          break;
        }
        case Op::kSetLocal: {
          auto a = Pop();
          if (!a.ok()) return a.status();
          locals_[in.operand] = *std::move(a);
          break;
        }
        case Op::kGetLocal:
          if (!locals_[in.operand]) {
            return Failed("a local is read before it is set");
          }
          status = Push(Value(*locals_[in.operand]));
          break;
      }
      if (!status.ok()) return status;
    }
    return Finish();
  }

 private:
  absl::StatusOr<Outcome> Finish() {
    outcome_.gas_used = gas_;
    return std::move(outcome_);
  }

  std::string Where() const { return absl::StrCat(function_.name, ", line ", line_); }

  absl::Status Failed(absl::string_view why) const {
    return absl::FailedPreconditionError(absl::StrCat(Where(), ": ", why));
  }
  absl::Status StackError() const { return Failed("stack underflow"); }

  absl::Status Charge(uint64_t gas) {
    if (gas > limits_.gas_limit - gas_) {
      return absl::ResourceExhaustedError(
          absl::StrCat(Where(), ": out of gas (gas_limit ", limits_.gas_limit, ")"));
    }
    gas_ += gas;
    return absl::OkStatus();
  }

  // Text costs by its size wherever a word copies it onto the stack.
  absl::Status Push(Value value) {
    if (auto charged = Charge(TextGas(TextBytes(value))); !charged.ok()) return charged;
    if (stack_.size() == limits_.max_stack) {
      return absl::ResourceExhaustedError(
          absl::StrCat(Where(), ": stack deeper than ", limits_.max_stack));
    }
    stack_.push_back(std::move(value));
    return absl::OkStatus();
  }

  absl::StatusOr<Value> Pop() {
    if (stack_.empty()) return StackError();
    Value v = std::move(stack_.back());
    stack_.pop_back();
    return v;
  }

  absl::StatusOr<int64_t> PopInt(absl::string_view what) {
    auto v = Pop();
    if (!v.ok()) return v.status();
    if (const auto* i = std::get_if<int64_t>(&*v)) return *i;
    return Failed(absl::StrCat(what, " needs an integer, not text"));
  }

  absl::Status Arg() {
    auto index = PopInt("arg");
    if (!index.ok()) return index.status();
    if (*index < 0) return Failed(absl::StrCat("argument ", *index, " (a negative index)"));
    if (static_cast<uint64_t>(*index) >= args_.size()) {
      return absl::InvalidArgumentError(
          absl::StrCat(Where(), ": reads argument ", *index, "; the call passed ", args_.size()));
    }
    if (const auto* text = std::get_if<std::string>(&args_[*index]);
        text != nullptr && text->size() > limits_.max_text_bytes) {
      return absl::InvalidArgumentError(absl::StrCat(Where(), ": argument ", *index, " is ",
                                                     text->size(), " bytes, more than ",
                                                     limits_.max_text_bytes));
    }
    return Push(args_[*index]);
  }

  absl::StatusOr<std::string> PopKey() {
    auto key = Pop();
    if (!key.ok()) return key.status();
    std::string text = AsText(*key);
    if (text.empty()) return Failed("an empty state key");
    if (text.size() > limits_.max_key_bytes) {
      return Failed(absl::StrCat("a state key of ", text.size(), " bytes (at most ",
                                 limits_.max_key_bytes, ")"));
    }
    if (text.find('\0') != std::string::npos) return Failed("a state key holds a NUL byte");
    return text;
  }

  absl::Status Load() {
    if (auto charged = Charge(kGasPerLoad); !charged.ok()) return charged;
    auto key = PopKey();
    if (!key.ok()) return key.status();
    if (auto written = outcome_.writes.find(*key); written != outcome_.writes.end()) {
      return Push(written->second);
    }
    auto read = state_.Read(*key);
    if (!read.ok()) return read.status();
    return Push(read->value_or(Value(int64_t{0})));
  }

  absl::Status Store() {
    auto value = Pop();
    if (!value.ok()) return value.status();
    auto key = PopKey();
    if (!key.ok()) return key.status();
    const size_t bytes = key->size() + AsText(*value).size();
    if (auto charged = Charge(kGasPerStore + TextGas(bytes)); !charged.ok()) return charged;
    auto it = outcome_.writes.find(*key);
    if (it == outcome_.writes.end()) {
      if (outcome_.writes.size() == limits_.max_writes) {
        return absl::ResourceExhaustedError(
            absl::StrCat(Where(), ": writes more than ", limits_.max_writes, " keys"));
      }
      outcome_.writes.emplace(*std::move(key), *std::move(value));
    } else {
      it->second = *std::move(value);
    }
    return absl::OkStatus();
  }

  absl::Status Arithmetic(Op op) {
    auto b = PopInt("arithmetic");
    auto a = PopInt("arithmetic");
    if (!b.ok()) return b.status();
    if (!a.ok()) return a.status();
    int64_t out = 0;
    bool overflow = false;
    switch (op) {
      case Op::kAdd:
        overflow = __builtin_add_overflow(*a, *b, &out);
        break;
      case Op::kSub:
        overflow = __builtin_sub_overflow(*a, *b, &out);
        break;
      case Op::kMul:
        overflow = __builtin_mul_overflow(*a, *b, &out);
        break;
      default:  // div, mod
        if (*b == 0) return Failed("division by zero");
        if (*b == -1) {  // INT64_MIN / -1 overflows; any number mod -1 is 0
          if (op == Op::kMod) {
            out = 0;
          } else {
            overflow = __builtin_sub_overflow(int64_t{0}, *a, &out);
          }
        } else {
          out = op == Op::kDiv ? *a / *b : *a % *b;
        }
        break;
    }
    if (overflow) return Failed("integer overflow");
    return Push(out);
  }

  absl::Status Compare(Op op) {
    auto b = PopInt("comparison");
    auto a = PopInt("comparison");
    if (!b.ok()) return b.status();
    if (!a.ok()) return a.status();
    bool out = false;
    switch (op) {
      case Op::kLt:
        out = *a < *b;
        break;
      case Op::kLe:
        out = *a <= *b;
        break;
      case Op::kGt:
        out = *a > *b;
        break;
      case Op::kGe:
        out = *a >= *b;
        break;
      case Op::kAnd:
        out = *a != 0 && *b != 0;
        break;
      default:  // or
        out = *a != 0 || *b != 0;
        break;
    }
    return Push(int64_t{out});
  }

  absl::Status Cat() {
    auto b = Pop();
    auto a = Pop();
    if (!a.ok() || !b.ok()) return StackError();
    std::string out = AsText(*a);
    const std::string tail = AsText(*b);
    if (out.size() + tail.size() > limits_.max_text_bytes) {
      return absl::ResourceExhaustedError(
          absl::StrCat(Where(), ": text longer than ", limits_.max_text_bytes, " bytes"));
    }
    out += tail;
    return Push(std::move(out));
  }

  const Program& program_;
  const Function& function_;
  const std::vector<Value>& args_;
  const std::string& caller_;
  const RunLimits& limits_;
  StateReader& state_;
  std::vector<Value> stack_;
  std::vector<std::optional<Value>> locals_;
  Outcome outcome_;
  uint64_t gas_ = 0;
  uint64_t steps_ = 0;
  uint32_t line_ = 0;
};

}  // namespace

absl::StatusOr<Outcome> Run(const Program& program, const Function& function,
                            const std::vector<Value>& args, const std::string& caller,
                            const RunLimits& limits, StateReader& state) {
  return Machine(program, function, args, caller, limits, state).Run();
}

}  // namespace aurigraph::refserver::vm
