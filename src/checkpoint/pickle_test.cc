#include "checkpoint/pickle.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>

#include "common/error.h"

namespace fs = std::filesystem;

namespace tzrec::checkpoint::pickle {
namespace {

using Kind = Value::Kind;

// A pickle of the same shape as torch.distributed.checkpoint's .metadata
// (dataclasses, a frozen key class, torch.Size-like REDUCE, a __getstate__
// tuple, shared references) written by Python's own pickler at `protocol`.
// The classes are defined under fake module names: the reader must not care.
std::string PythonPickle(int protocol) {
  const fs::path dir = fs::temp_directory_path() / ("tzrec_pickle_test_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  const fs::path out = dir / ("p" + std::to_string(protocol) + ".pkl");
  std::ofstream(dir / "make.py") << R"(
import dataclasses, pickle, sys, types
sys.modules['fake'] = types.ModuleType('fake')
mod = types.ModuleType('fake.metadata'); sys.modules['fake.metadata'] = mod
class Size(tuple):
    def __reduce__(self): return (Size, (tuple(self),))
@dataclasses.dataclass(frozen=True)
class Index:
    fqn: str
    offset: Size = None
class Props:
    def __init__(self, d): self.d = d
    def __getstate__(self): return (self.d, False, 2**40, -7, 1.5)
    def __setstate__(self, s): self.d = s[0]
@dataclasses.dataclass
class Meta:
    tensors: dict
    storage: dict
    version: str = None
for c in (Size, Index, Props, Meta):
    c.__module__ = 'fake.metadata'; setattr(mod, c.__name__, c)
shared = [1, 2]
m = Meta({'t': Props('float32'), 'big': 2**62, 'neg': -300, 'text': 'ü' * 300, 'raw': b'\x00\x01',
          'a': shared, 'b': shared, 'none': None, 'flag': True, 'set': {3}},
         {Index('t', Size((0, 4))): 'x'}, '1.0.0')
with open(sys.argv[1], 'wb') as f:
    pickle.dump(m, f, protocol=int(sys.argv[2]))
)";
  const std::string command =
      "python3 " + (dir / "make.py").string() + " " + out.string() + " " + std::to_string(protocol);
  if (std::system(command.c_str()) != 0) return "";  // the caller tells why
  std::ifstream in(out, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

TEST(PickleTest, ReadsEveryProtocolPythonWrites) {
  if (std::system("python3 -c pass") != 0) GTEST_SKIP() << "no python3 here";
  for (int protocol = 2; protocol <= 5; ++protocol) {
    const std::string bytes = PythonPickle(protocol);
    ASSERT_FALSE(bytes.empty()) << "python3 could not write the pickle";
    SCOPED_TRACE("protocol " + std::to_string(protocol));
    ValuePtr root = Parse(bytes, "test pickle");
    ASSERT_TRUE(root->Is(Kind::kObject));
    EXPECT_EQ(root->ClassName(), "fake.metadata.Meta");
    EXPECT_EQ(root->Field("version")->text, "1.0.0");
    const Value* tensors = root->Field("tensors");
    ASSERT_NE(tensors, nullptr);
    const Value* props = tensors->Get("t");
    ASSERT_TRUE(props->state && props->state->Is(Kind::kTuple));
    EXPECT_EQ(props->state->items[0]->text, "float32");
    EXPECT_EQ(props->state->items[2]->integer, int64_t{1} << 40);
    EXPECT_EQ(props->state->items[3]->integer, -7);
    EXPECT_DOUBLE_EQ(props->state->items[4]->real, 1.5);
    EXPECT_EQ(tensors->Get("big")->integer, int64_t{1} << 62);
    EXPECT_EQ(tensors->Get("neg")->integer, -300);
    EXPECT_EQ(tensors->Get("text")->text.size(), 600u);  // UTF-8 bytes
    // Protocol 2 has no bytes or set opcodes: Python writes calls for them.
    EXPECT_EQ(tensors->Get("raw")->Is(Kind::kBytes), protocol >= 3);
    EXPECT_EQ(tensors->Get("a"), tensors->Get("b"));  // memoized: one object
    EXPECT_TRUE(tensors->Get("none")->Is(Kind::kNone));
    EXPECT_TRUE(tensors->Get("flag")->boolean);
    EXPECT_EQ(tensors->Get("set")->Is(Kind::kSet), protocol >= 4);
    const Value* storage = root->Field("storage");
    ASSERT_EQ(storage->entries.size(), 1u);
    const Value& key = *storage->entries[0].first;
    EXPECT_EQ(key.Field("fqn")->text, "t");
    const Value* offset = key.Field("offset");
    EXPECT_EQ(offset->ClassName(), "fake.metadata.Size");
    ASSERT_EQ(offset->items.size(), 1u);
    EXPECT_EQ(offset->items[0]->items[1]->integer, 4);
  }
}

TEST(PickleTest, WrittenPicklesReadBackInPython) {
  ValuePtr tree = Dict({{Str("size"), Call("builtins.tuple", {List({Int(3), Int(70000), Int(-5), Int(int64_t{1} << 40)})})},
               {Str("name"), Str("weight")},
               {Str("flags"), Tuple({Bool(true), None(), Int(1), Int(2)})}});
  const std::string bytes = Serialize(*tree);
  // Our own reader sees the same tree ...
  ValuePtr back = Parse(bytes, "written pickle");
  EXPECT_EQ(back->Get("name")->text, "weight");
  EXPECT_EQ(back->Get("size")->items[0]->items[3]->integer, int64_t{1} << 40);
  // ... and so does Python's.
  const fs::path dir = fs::temp_directory_path() / ("tzrec_pickle_test_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  std::ofstream(dir / "w.pkl", std::ios::binary) << bytes;
  const std::string check = "python3 -c \"import pickle; d = pickle.load(open('" + (dir / "w.pkl").string() +
                            "', 'rb')); assert d == {'size': (3, 70000, -5, 2**40), 'name': 'weight', "
                            "'flags': (True, None, 1, 2)}, d\"";
  if (std::system("python3 -c pass") != 0) GTEST_SKIP() << "no python3 here";
  EXPECT_EQ(std::system(check.c_str()), 0);
}

TEST(PickleTest, MalformedInputIsAnError) {
  const std::string good = Serialize(*Dict({{Str("a"), Int(1)}}));
  for (size_t cut = 0; cut < good.size(); ++cut) {
    EXPECT_THROW(Parse(good.substr(0, cut), "cut pickle"), Error) << cut;
  }
  try {
    Parse(std::string("\x80\x02(I1\n.", 7), "text.pkl");
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("text.pkl"), std::string::npos) << e.what();
  }
  // A 9-byte LONG1 does not fit 64 bits.
  EXPECT_THROW(Parse(std::string("\x80\x02\x8a\x09" "123456789.", 14), "big"), Error);
  // A memo that was never stored.
  EXPECT_THROW(Parse(std::string("\x80\x02h\x05.", 5), "memo"), Error);
}

// A list appended to itself through the memo (found by fuzz/pickle_fuzzer):
// the tree holds the cycle, and is freed with its root (LeakSanitizer in
// scripts/test.sh --sanitize would see it leak otherwise).
TEST(PickleTest, ReferenceCycleParsesAndIsFreed) {
  const ValuePtr root = Parse(std::string("\x80\x02]q\x00h\x00" "a.", 9), "cycle.pkl");
  ASSERT_TRUE(root->Is(Value::Kind::kList));
  ASSERT_EQ(root->items.size(), 1u);
  EXPECT_EQ(root->items[0].get(), root.get());
}

}  // namespace
}  // namespace tzrec::checkpoint::pickle
