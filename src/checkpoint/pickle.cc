#include "checkpoint/pickle.h"

#include <cstdint>
#include <cstring>
#include <unordered_map>
#include <vector>

#include "common/error.h"

namespace tzrec::checkpoint::pickle {

std::string Value::ClassName() const {
  if (kind == Kind::kGlobal) return text;
  if (kind == Kind::kObject && callable) return callable->ClassName();
  return "";
}

const Value* Value::Get(const std::string& key) const {
  if (kind != Kind::kDict) return nullptr;
  for (const auto& [k, v] : entries) {
    if (k->kind == Kind::kString && k->text == key) return v.get();
  }
  return nullptr;
}

const Value* Value::Field(const std::string& name) const {
  if (kind != Kind::kObject || !state) return nullptr;
  if (state->kind == Kind::kDict) return state->Get(name);
  // (dict, slots) as objects with __slots__ pickle their state.
  if (state->kind == Kind::kTuple && state->items.size() == 2) {
    for (const ValuePtr& part : state->items) {
      if (const Value* v = part->Get(name)) return v;
    }
  }
  return nullptr;
}

std::string Value::Describe() const {
  switch (kind) {
    case Kind::kNone: return "None";
    case Kind::kBool: return "bool";
    case Kind::kInt: return "int";
    case Kind::kFloat: return "float";
    case Kind::kString: return "str";
    case Kind::kBytes: return "bytes";
    case Kind::kTuple: return "tuple";
    case Kind::kList: return "list";
    case Kind::kSet: return "set";
    case Kind::kDict: return "dict";
    case Kind::kGlobal: return "global " + text;
    case Kind::kObject: return "object " + ClassName();
  }
  return "?";
}

namespace {

using Kind = Value::Kind;

ValuePtr Make(Kind kind) {
  auto v = std::make_shared<Value>();
  v->kind = kind;
  return v;
}

class Machine {
 public:
  // Every Value made is also appended to `made` (the parse's Arena).
  Machine(std::string_view bytes, const std::string& what, std::vector<ValuePtr>& made)
      : in_(bytes), what_(what), made_(made) {}

  ValuePtr Run() {
    while (true) {
      const size_t at = pos_;
      const auto op = static_cast<unsigned char>(Byte());
      switch (op) {
        case 0x80: Byte(); break;            // PROTO
        case 0x95: Take(8); break;           // FRAME: a length hint only
        case '.':                            // STOP
          if (stack_.size() != 1) Bad(at, "STOP with a stack of {} items", stack_.size());
          return stack_.back();
        case '(': marks_.push_back(stack_.size()); break;
        case '0': Pop(); break;
        case '1': PopToMark(); break;
        case '2': Push(Top()); break;
        case 'N': Push(Make(Kind::kNone)); break;
        case 0x88: case 0x89: {
          auto v = Make(Kind::kBool);
          v->boolean = op == 0x88;
          Push(v);
          break;
        }
        case 'J': PushInt(static_cast<int32_t>(Little(4))); break;
        case 'K': PushInt(static_cast<int64_t>(Little(1))); break;
        case 'M': PushInt(static_cast<int64_t>(Little(2))); break;
        case 0x8a: PushLong(Little(1), at); break;
        case 0x8b: PushLong(Little(4), at); break;
        case 'G': {
          uint64_t bits = 0;
          for (unsigned char c : Take(8)) bits = (bits << 8) | c;  // big-endian
          auto v = Make(Kind::kFloat);
          std::memcpy(&v->real, &bits, sizeof(bits));
          Push(v);
          break;
        }
        case 0x8c: case 'U': PushText(Kind::kString, Little(1)); break;
        case 'X': case 'T': PushText(Kind::kString, Little(4)); break;
        case 0x8d: PushText(Kind::kString, Little(8)); break;
        case 'C': PushText(Kind::kBytes, Little(1)); break;
        case 'B': PushText(Kind::kBytes, Little(4)); break;
        case 0x8e: case 0x96: PushText(Kind::kBytes, Little(8)); break;
        case ')': Push(Make(Kind::kTuple)); break;
        case 't': {
          auto v = Make(Kind::kTuple);
          v->items = PopToMark();
          Push(v);
          break;
        }
        case 0x85: case 0x86: case 0x87: {
          auto v = Make(Kind::kTuple);
          const size_t n = op - 0x84;
          v->items = PopN(n, at);
          Push(v);
          break;
        }
        case ']': Push(Make(Kind::kList)); break;
        case 'l': {
          auto v = Make(Kind::kList);
          v->items = PopToMark();
          Push(v);
          break;
        }
        case 'a': {
          ValuePtr item = Pop();
          Expect(Top(), Kind::kList, at)->items.push_back(item);
          break;
        }
        case 'e': {
          std::vector<ValuePtr> items = PopToMark();
          ValuePtr list = Expect(Top(), Kind::kList, at);
          list->items.insert(list->items.end(), items.begin(), items.end());
          break;
        }
        case '}': Push(Make(Kind::kDict)); break;
        case 'd': {
          auto v = Make(Kind::kDict);
          AddPairs(*v, PopToMark(), at);
          Push(v);
          break;
        }
        case 's': {
          std::vector<ValuePtr> pair = PopN(2, at);
          AddPairs(*Expect(Top(), Kind::kDict, at), pair, at);
          break;
        }
        case 'u': {
          std::vector<ValuePtr> items = PopToMark();
          AddPairs(*Expect(Top(), Kind::kDict, at), items, at);
          break;
        }
        case 0x8f: Push(Make(Kind::kSet)); break;
        case 0x90: {
          std::vector<ValuePtr> items = PopToMark();
          ValuePtr set = Expect(Top(), Kind::kSet, at);
          set->items.insert(set->items.end(), items.begin(), items.end());
          break;
        }
        case 0x91: {
          auto v = Make(Kind::kSet);
          v->items = PopToMark();
          Push(v);
          break;
        }
        case 'c': {
          std::string module = Line(at);
          std::string name = Line(at);
          PushGlobal(module, name);
          break;
        }
        case 0x93: {
          ValuePtr name = Pop();
          ValuePtr module = Pop();
          if (!module->Is(Kind::kString) || !name->Is(Kind::kString)) {
            Bad(at, "STACK_GLOBAL of {} and {}", module->Describe(), name->Describe());
          }
          PushGlobal(module->text, name->text);
          break;
        }
        case 'R': case 0x81: {  // REDUCE, NEWOBJ
          ValuePtr args = Pop();
          ValuePtr callable = Pop();
          PushCall(callable, args, at);
          stack_.back()->new_object = op == 0x81;
          break;
        }
        case 0x92: {  // NEWOBJ_EX: keyword arguments are dropped (metadata has none)
          Pop();
          ValuePtr args = Pop();
          ValuePtr callable = Pop();
          PushCall(callable, args, at);
          stack_.back()->new_object = true;
          break;
        }
        case 'b': {
          ValuePtr state = Pop();
          ValuePtr target = Top();
          if (!target->Is(Kind::kObject)) Bad(at, "BUILD on {}", target->Describe());
          target->state = state;
          break;
        }
        case 0x94: memo_[memo_.size()] = Top(); break;
        case 'q': memo_[Little(1)] = Top(); break;
        case 'r': memo_[Little(4)] = Top(); break;
        case 'h': Push(Memo(Little(1), at)); break;
        case 'j': Push(Memo(Little(4), at)); break;
        default:
          Bad(at, "opcode 0x{:02x} is not read by tzrec (persistent ids, extensions, out-of-band "
                  "buffers and protocol 0/1 text forms are not expected here)",
              op);
      }
    }
  }

 private:
  template <typename... Args>
  [[noreturn]] void Bad(size_t at, fmt::format_string<Args...> format, Args&&... args) const {
    Fail("cannot read {}: malformed pickle at byte {}: {}", what_, at,
         fmt::format(format, std::forward<Args>(args)...));
  }

  char Byte() {
    if (pos_ >= in_.size()) Bad(pos_, "truncated");
    return in_[pos_++];
  }
  std::string_view Take(uint64_t n) {
    if (n > in_.size() - pos_) Bad(pos_, "truncated (needs {} more bytes)", n);
    std::string_view out = in_.substr(pos_, n);
    pos_ += n;
    return out;
  }
  uint64_t Little(int bytes) {
    uint64_t v = 0;
    std::string_view b = Take(bytes);
    for (int i = bytes - 1; i >= 0; --i) v = (v << 8) | static_cast<unsigned char>(b[i]);
    return v;
  }
  std::string Line(size_t at) {
    const size_t end = in_.find('\n', pos_);
    if (end == std::string_view::npos) Bad(at, "unterminated line");
    std::string out(in_.substr(pos_, end - pos_));
    pos_ = end + 1;
    return out;
  }

  ValuePtr Make(Kind kind) {
    made_.push_back(pickle::Make(kind));
    return made_.back();
  }

  void Push(ValuePtr v) { stack_.push_back(std::move(v)); }
  ValuePtr Top() {
    if (stack_.empty() || (!marks_.empty() && stack_.size() <= marks_.back())) Bad(pos_, "empty stack");
    return stack_.back();
  }
  ValuePtr Pop() {
    ValuePtr v = Top();
    stack_.pop_back();
    return v;
  }
  std::vector<ValuePtr> PopN(size_t n, size_t at) {
    const size_t floor = marks_.empty() ? 0 : marks_.back();
    if (stack_.size() < floor + n) Bad(at, "stack underflow");
    std::vector<ValuePtr> out(stack_.end() - static_cast<std::ptrdiff_t>(n), stack_.end());
    stack_.resize(stack_.size() - n);
    return out;
  }
  std::vector<ValuePtr> PopToMark() {
    if (marks_.empty()) Bad(pos_, "no MARK");
    const size_t mark = marks_.back();
    marks_.pop_back();
    std::vector<ValuePtr> out(stack_.begin() + static_cast<std::ptrdiff_t>(mark), stack_.end());
    stack_.resize(mark);
    return out;
  }
  ValuePtr Memo(uint64_t key, size_t at) {
    auto it = memo_.find(key);
    if (it == memo_.end()) Bad(at, "memo {} was never stored", key);
    return it->second;
  }
  ValuePtr Expect(ValuePtr v, Kind kind, size_t at) {
    if (!v->Is(kind)) Bad(at, "expected a {} on the stack, found {}", Make(kind)->Describe(), v->Describe());
    return v;
  }

  void PushInt(int64_t i) {
    auto v = Make(Kind::kInt);
    v->integer = i;
    Push(v);
  }
  // LONG1/LONG4: little-endian two's complement of n bytes.
  void PushLong(uint64_t n, size_t at) {
    std::string_view b = Take(n);
    if (n > 8) Bad(at, "an integer of {} bytes does not fit 64 bits", n);
    uint64_t u = 0;
    for (size_t i = n; i-- > 0;) u = (u << 8) | static_cast<unsigned char>(b[i]);
    if (n > 0 && n < 8 && (static_cast<unsigned char>(b[n - 1]) & 0x80)) u |= ~uint64_t{0} << (8 * n);
    PushInt(static_cast<int64_t>(u));
  }
  void PushText(Kind kind, uint64_t n) {
    auto v = Make(kind);
    v->text = std::string(Take(n));
    Push(v);
  }
  void PushGlobal(const std::string& module, const std::string& name) {
    auto v = Make(Kind::kGlobal);
    v->text = module + "." + name;
    Push(v);
  }
  void PushCall(const ValuePtr& callable, const ValuePtr& args, size_t at) {
    if (!callable->Is(Kind::kGlobal)) Bad(at, "call of {}", callable->Describe());
    if (!args->Is(Kind::kTuple)) Bad(at, "call arguments are a {}", args->Describe());
    auto v = Make(Kind::kObject);
    v->callable = callable;
    v->items = args->items;
    Push(v);
  }
  void AddPairs(Value& dict, const std::vector<ValuePtr>& flat, size_t at) {
    if (flat.size() % 2 != 0) Bad(at, "odd number of items for a dict");
    for (size_t i = 0; i < flat.size(); i += 2) dict.entries.emplace_back(flat[i], flat[i + 1]);
  }

  std::string_view in_;
  const std::string& what_;
  std::vector<ValuePtr>& made_;
  size_t pos_ = 0;
  std::vector<ValuePtr> stack_;
  std::vector<size_t> marks_;
  std::unordered_map<uint64_t, ValuePtr> memo_;
};

}  // namespace

namespace {

// Owns every Value of one parse. A pickle can make reference cycles (a list
// appended to itself through the memo: `]q\0h\0a`), which shared_ptrs alone
// would leak, and nest values deeper than recursive destruction has stack
// for: when the last reference to the root goes, the arena unlinks every
// Value, so each is freed on its own.
struct Arena {
  std::vector<ValuePtr> values;
  ~Arena() {
    for (const ValuePtr& v : values) {
      v->items.clear();
      v->entries.clear();
      v->callable.reset();
      v->state.reset();
    }
  }
};

}  // namespace

ValuePtr Parse(std::string_view bytes, const std::string& what) {
  auto arena = std::make_shared<Arena>();
  Value* root = Machine(bytes, what, arena->values).Run().get();
  // The root shares the arena's ownership: the tree lives as long as it.
  return ValuePtr(arena, root);
}

namespace {

void Emit(const Value& v, std::string& out) {
  auto little = [&out](uint64_t x, int bytes) {
    for (int i = 0; i < bytes; ++i) out += static_cast<char>((x >> (8 * i)) & 0xff);
  };
  auto global = [&](const std::string& dotted) {
    const size_t dot = dotted.rfind('.');
    if (dot == std::string::npos) Fail("pickle: global '{}' has no module", dotted);
    out += 'c';
    out += dotted.substr(0, dot) + "\n" + dotted.substr(dot + 1) + "\n";
  };
  switch (v.kind) {
    case Kind::kNone: out += 'N'; return;
    case Kind::kBool: out += static_cast<char>(v.boolean ? 0x88 : 0x89); return;
    case Kind::kInt:
      if (v.integer >= 0 && v.integer < 256) {
        out += 'K';
        little(static_cast<uint64_t>(v.integer), 1);
      } else if (v.integer >= 0 && v.integer < 65536) {
        out += 'M';
        little(static_cast<uint64_t>(v.integer), 2);
      } else if (v.integer >= INT32_MIN && v.integer <= INT32_MAX) {
        out += 'J';
        little(static_cast<uint64_t>(static_cast<uint32_t>(static_cast<int32_t>(v.integer))), 4);
      } else {
        out += static_cast<char>(0x8a);
        out += static_cast<char>(8);
        little(static_cast<uint64_t>(v.integer), 8);
      }
      return;
    case Kind::kFloat: {
      uint64_t bits;
      std::memcpy(&bits, &v.real, sizeof(bits));
      out += 'G';
      for (int i = 7; i >= 0; --i) out += static_cast<char>((bits >> (8 * i)) & 0xff);
      return;
    }
    case Kind::kString:
      out += 'X';
      little(v.text.size(), 4);
      out += v.text;
      return;
    case Kind::kTuple:
      if (v.items.empty()) {
        out += ')';
      } else if (v.items.size() <= 3) {
        for (const auto& item : v.items) Emit(*item, out);
        out += static_cast<char>(0x84 + v.items.size());
      } else {
        out += '(';
        for (const auto& item : v.items) Emit(*item, out);
        out += 't';
      }
      return;
    case Kind::kList:
      out += ']';
      if (!v.items.empty()) {
        out += '(';
        for (const auto& item : v.items) Emit(*item, out);
        out += 'e';
      }
      return;
    case Kind::kDict:
      out += '}';
      if (!v.entries.empty()) {
        out += '(';
        for (const auto& [key, value] : v.entries) {
          Emit(*key, out);
          Emit(*value, out);
        }
        out += 'u';
      }
      return;
    case Kind::kGlobal: global(v.text); return;
    case Kind::kObject: {
      if (!v.callable || !v.callable->Is(Kind::kGlobal)) Fail("pickle: an object without a class");
      global(v.callable->text);
      Emit(*Tuple(v.items), out);
      out += v.new_object ? static_cast<char>(0x81) : 'R';
      if (v.state) {
        Emit(*v.state, out);
        out += 'b';
      }
      return;
    }
    case Kind::kBytes:
    case Kind::kSet: Fail("pickle: a {} cannot be written in protocol 2", v.Describe());
  }
}

}  // namespace

std::string Serialize(const Value& root) {
  std::string out = "\x80\x02";
  Emit(root, out);
  out += '.';
  return out;
}

ValuePtr None() { return Make(Kind::kNone); }
ValuePtr Bool(bool b) {
  auto v = Make(Kind::kBool);
  v->boolean = b;
  return v;
}
ValuePtr Int(int64_t i) {
  auto v = Make(Kind::kInt);
  v->integer = i;
  return v;
}
ValuePtr Str(std::string s) {
  auto v = Make(Kind::kString);
  v->text = std::move(s);
  return v;
}
ValuePtr Tuple(std::vector<ValuePtr> items) {
  auto v = Make(Kind::kTuple);
  v->items = std::move(items);
  return v;
}
ValuePtr List(std::vector<ValuePtr> items) {
  auto v = Make(Kind::kList);
  v->items = std::move(items);
  return v;
}
ValuePtr Dict(std::vector<std::pair<ValuePtr, ValuePtr>> entries) {
  auto v = Make(Kind::kDict);
  v->entries = std::move(entries);
  return v;
}
ValuePtr Global(std::string dotted_name) {
  auto v = Make(Kind::kGlobal);
  v->text = std::move(dotted_name);
  return v;
}
ValuePtr Call(std::string dotted_name, std::vector<ValuePtr> args) {
  auto v = Make(Kind::kObject);
  v->callable = Global(std::move(dotted_name));
  v->items = std::move(args);
  return v;
}
ValuePtr NewObject(std::string dotted_name, ValuePtr state) {
  auto v = Call(std::move(dotted_name), {});
  v->new_object = true;
  v->state = std::move(state);
  return v;
}

}  // namespace tzrec::checkpoint::pickle
