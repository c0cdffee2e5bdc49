// Python pickles as plain data, both ways: read (protocols 2-5) and write
// (protocol 2), for the file tzrec shares with Python code it cannot run:
// torch.distributed.checkpoint's `.metadata` (a pickled dataclass tree).
//
// Why not libtorch's unpickler: it knows only TorchScript types and rejects
// NEWOBJ, BUILD on plain classes and the protocol 4 framing the metadata uses.
// Why not "real" unpickling: a pickle may name any Python callable; this
// reader never imports or calls anything. A global becomes a Value naming
// it, calling one (REDUCE, NEWOBJ) an Object holding the callable and its
// arguments, BUILD stores the state on that Object. Callers then read fields
// by name, so classes that moved between modules (torch.distributed._shard...
// in old torch, torch.distributed.checkpoint.metadata in new) read the same.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace tzrec::checkpoint::pickle {

struct Value;
using ValuePtr = std::shared_ptr<Value>;

struct Value {
  enum class Kind { kNone, kBool, kInt, kFloat, kString, kBytes, kTuple, kList, kSet, kDict, kGlobal, kObject };
  Kind kind = Kind::kNone;
  bool boolean = false;
  int64_t integer = 0;
  double real = 0;
  // kString, kBytes: the bytes. kGlobal: "module.name".
  std::string text;
  // kTuple, kList, kSet: the elements. kObject: the call's arguments.
  std::vector<ValuePtr> items;
  // kDict: key/value pairs in insertion order.
  std::vector<std::pair<ValuePtr, ValuePtr>> entries;
  // kObject: the callable (a kGlobal) and the state BUILD set (or nullptr).
  ValuePtr callable;
  ValuePtr state;
  // kObject: made by NEWOBJ (cls.__new__(cls, *args), how dataclasses
  // pickle) rather than REDUCE (callable(*args)).
  bool new_object = false;

  bool Is(Kind k) const { return kind == k; }
  // kObject: "module.name" of its class; kGlobal: its own name; else "".
  std::string ClassName() const;
  // kDict with string keys: the value of `key`, or nullptr.
  const Value* Get(const std::string& key) const;
  // kObject whose state is a dict (or a (dict, slots) pair): the field, or nullptr.
  const Value* Field(const std::string& name) const;
  // A short description for error messages ("int", "dict", "object torch.Size").
  std::string Describe() const;
};

// Parses `bytes`. Error naming `what` on a malformed or truncated pickle, an
// opcode of protocol 0/1 text forms this reader does not take, or an integer
// that does not fit 64 bits. The root owns the whole tree (reference cycles
// included): keep it while using any part of the tree.
ValuePtr Parse(std::string_view bytes, const std::string& what);

// Protocol 2 bytes that Python's pickle.load turns into the objects `root`
// describes (kBytes and kSet are not written: protocol 2 has no opcode for
// them). Globals are "module.name", split at the last dot.
std::string Serialize(const Value& root);

// Builders for Serialize's input.
ValuePtr None();
ValuePtr Bool(bool b);
ValuePtr Int(int64_t i);
ValuePtr Str(std::string s);
ValuePtr Tuple(std::vector<ValuePtr> items);
ValuePtr List(std::vector<ValuePtr> items);
ValuePtr Dict(std::vector<std::pair<ValuePtr, ValuePtr>> entries);
ValuePtr Global(std::string dotted_name);
// callable(*args) (REDUCE).
ValuePtr Call(std::string dotted_name, std::vector<ValuePtr> args);
// cls.__new__(cls) with its state set (NEWOBJ + BUILD): a dataclass instance.
ValuePtr NewObject(std::string dotted_name, ValuePtr state);

}  // namespace tzrec::checkpoint::pickle
