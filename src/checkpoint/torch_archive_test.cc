// Untrusted torch.save archives: corrupted bytes, lying sizes and unsafe entry
// names are errors naming the file and the tensor or entry (torch_archive.h).
#include "checkpoint/torch_archive.h"

#include <gtest/gtest.h>
#include <zip.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <utility>
#include <vector>

#include <ATen/ATen.h>
#include <torch/script.h>

#include "checkpoint/checkpoint.h"
#include "checkpoint/tensor_file_reader.h"
#include "common/error.h"
#include "common/test_support.h"

namespace fs = std::filesystem;

namespace tzrec::checkpoint {
namespace {

using Entries = std::vector<std::pair<std::string, std::string>>;

std::string FileBytes(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

void WriteBytes(const fs::path& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes;
}

// The only position of `needle` in `haystack`; the test fails when there is
// not exactly one.
size_t OnlyPosition(const std::string& haystack, const std::string& needle) {
  const size_t at = haystack.find(needle);
  EXPECT_NE(at, std::string::npos);
  EXPECT_EQ(haystack.find(needle, at + 1), std::string::npos);
  return at;
}

std::string BytesOf(const at::Tensor& t) {
  return std::string(static_cast<const char*>(t.data_ptr()), t.nbytes());
}

// Every entry of a zip, in order, with its bytes.
Entries ReadZip(const fs::path& path) {
  int error = 0;
  zip_t* z = zip_open(path.c_str(), ZIP_RDONLY, &error);
  if (z == nullptr) throw std::runtime_error("cannot open " + path.string());
  Entries out;
  for (zip_int64_t i = 0; i < zip_get_num_entries(z, 0); ++i) {
    zip_stat_t st;
    zip_stat_index(z, static_cast<zip_uint64_t>(i), 0, &st);
    std::string bytes(st.size, '\0');
    zip_file_t* f = zip_fopen_index(z, static_cast<zip_uint64_t>(i), 0);
    zip_fread(f, bytes.data(), st.size);
    zip_fclose(f);
    out.emplace_back(st.name, std::move(bytes));
  }
  zip_discard(z);
  return out;
}

// A zip of `entries`, stored uncompressed (libzip computes their CRC-32s).
void WriteZip(const fs::path& path, const Entries& entries) {
  int error = 0;
  zip_t* z = zip_open(path.c_str(), ZIP_CREATE | ZIP_TRUNCATE, &error);
  ASSERT_NE(z, nullptr);
  for (const auto& [name, bytes] : entries) {
    zip_source_t* source = zip_source_buffer(z, bytes.data(), bytes.size(), 0);
    const zip_int64_t index = zip_file_add(z, name.c_str(), source, ZIP_FL_ENC_UTF_8);
    ASSERT_GE(index, 0) << name;
    zip_set_file_compression(z, static_cast<zip_uint64_t>(index), ZIP_CM_STORE, 0);
  }
  ASSERT_EQ(zip_close(z), 0);
}

std::string ErrorOf(const std::function<void()>& body) {
  try {
    body();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

// "model.table.weight" [1000, 16] (record data/0) and "model.bias" [8].
NamedTensors Sample() {
  at::manual_seed(11);
  return {{"model.table.weight", at::randn({1000, 16})}, {"model.bias", at::randn({8})}};
}

TEST(TorchArchiveTest, CorruptTensorBytesAreAnErrorNamingTheFileAndTensor) {
  const tzrec::testing::ScratchDir scratch;
  const fs::path file = scratch.path() / "state_dict.pt";
  const NamedTensors tensors = Sample();
  WriteTensorFile(file.string(), tensors);
  std::string bytes = FileBytes(file);
  // One bit of row 900 of the table flipped: a silently different model
  // unless the entry's CRC-32 is checked.
  const size_t table_at = OnlyPosition(bytes, BytesOf(tensors[0].second));
  bytes[table_at + 900 * 16 * 4 + 5] ^= 0x10;
  WriteBytes(file, bytes);

  TensorFileReader reader(file.string());  // opening reads no tensor byte
  for (const auto& read : std::vector<std::function<void()>>{
           [&] { reader.Read("model.table.weight"); },
           [&] { reader.ReadRows("model.table.weight", 0, 10); },  // rows before the flip: the record is checked whole
           [&] { reader.Map("model.table.weight"); }}) {
    const std::string e = ErrorOf(read);
    EXPECT_NE(e.find(file.string() + " is corrupted: tensor model.table.weight fails its CRC-32 check"),
              std::string::npos)
        << e;
    EXPECT_NE(e.find("zip entry archive/data/0"), std::string::npos) << e;
    EXPECT_EQ(e.find('\n'), std::string::npos) << e;
  }
  // The other tensor's record is intact.
  EXPECT_TRUE(at::equal(reader.Read("model.bias"), tensors[1].second));
  EXPECT_TRUE(at::equal(reader.Map("model.bias"), tensors[1].second));
}

TEST(TorchArchiveTest, CorruptTensorIndexIsAnError) {
  const tzrec::testing::ScratchDir scratch;
  const fs::path file = scratch.path() / "state_dict.pt";
  WriteTensorFile(file.string(), Sample());
  std::string bytes = FileBytes(file);
  // "model.bias" -> "model.bia$": a tensor under another name, unless checked.
  bytes[OnlyPosition(bytes, "model.bias") + 9] = '$';
  WriteBytes(file, bytes);
  const std::string e = ErrorOf([&] { TensorFileReader reader(file.string()); });
  EXPECT_NE(e.find(file.string() + " is corrupted: its tensor index fails its CRC-32 check (zip entry "
                                   "archive/data.pkl"),
            std::string::npos)
      << e;
}

TEST(TorchArchiveTest, RefusesEntriesNamedOutsideTheArchive) {
  const tzrec::testing::ScratchDir scratch;
  const fs::path good = scratch.path() / "good.pt";
  WriteTensorFile(good.string(), Sample());
  const Entries entries = ReadZip(good);
  ASSERT_EQ(entries.front().first.rfind("archive/", 0), 0u) << entries.front().first;
  // The unmodified copy reads: what breaks the others is the one name.
  WriteZip(scratch.path() / "copy.pt", entries);
  EXPECT_TRUE(at::equal(TensorFileReader((scratch.path() / "copy.pt").string()).Read("model.bias"),
                        Sample()[1].second));
  for (const std::string name : {"archive/../../etc/passwd", "/etc/passwd", "archive/data/../../x", ".."}) {
    Entries bad = entries;
    bad.emplace_back(name, "x");
    const fs::path file = scratch.path() / "bad.pt";
    WriteZip(file, bad);
    const std::string e = ErrorOf([&] { TensorFileReader reader(file.string()); });
    EXPECT_NE(e.find(file.string() + ": zip entry \"" + name + "\" names a path outside the archive"),
              std::string::npos)
        << e;
  }
}

// The central directory entry of `name` in zip `bytes`: its offset.
size_t CentralEntry(const std::string& bytes, const std::string& name) {
  size_t at = 0;
  while ((at = bytes.find("PK\x01\x02", at)) != std::string::npos) {
    uint16_t name_length = 0;
    std::memcpy(&name_length, bytes.data() + at + 28, 2);
    if (bytes.compare(at + 46, name_length, name) == 0 && name_length == name.size()) return at;
    at += 4;
  }
  ADD_FAILURE() << "no central directory entry " << name;
  return 0;
}

void SetSizes(std::string& bytes, size_t central, uint32_t size) {
  std::memcpy(&bytes[central + 20], &size, 4);  // compressed
  std::memcpy(&bytes[central + 24], &size, 4);  // uncompressed
}

TEST(TorchArchiveTest, RefusesEntrySizesPastTheArchiveEnd) {
  const tzrec::testing::ScratchDir scratch;
  const fs::path file = scratch.path() / "state_dict.pt";
  const NamedTensors tensors = Sample();
  WriteTensorFile(file.string(), tensors);
  const std::string good = FileBytes(file);
  const size_t central = CentralEntry(good, "archive/data/0");
  const size_t data_at = OnlyPosition(good, BytesOf(tensors[0].second));
  {
    // Larger than the whole archive.
    std::string bytes = good;
    SetSizes(bytes, central, 0x7ffffff0u);
    WriteBytes(file, bytes);
    const std::string e = ErrorOf([&] { TensorFileReader reader(file.string()); });
    EXPECT_NE(e.find(file.string() + ": zip entry archive/data/0 declares 2147483632 bytes"), std::string::npos)
        << e;
  }
  {
    // Smaller than the archive, but starting where it runs one byte past its end.
    std::string bytes = good;
    SetSizes(bytes, central, static_cast<uint32_t>(good.size() - data_at + 1));
    WriteBytes(file, bytes);
    const std::string e = ErrorOf([&] { TensorFileReader reader(file.string()); });
    EXPECT_NE(e.find(file.string() + ": zip entry archive/data/0 runs past the end of the archive"),
              std::string::npos)
        << e;
  }
}

// libtorch's pickler writes ints of 256..65535 as BININT2 ('M' + 2 bytes).
std::string BinInt2(uint16_t v) { return std::string("M") + static_cast<char>(v & 0xff) + static_cast<char>(v >> 8); }
// ... and larger ones as LONG1 with 8 bytes.
std::string Long1(int64_t v) {
  std::string out("\x8a\x08", 2);
  for (int i = 0; i < 8; ++i) out += static_cast<char>((static_cast<uint64_t>(v) >> (8 * i)) & 0xff);
  return out;
}

TEST(TorchArchiveTest, RefusesTensorsDeclaredLargerThanTheirRecord) {
  const tzrec::testing::ScratchDir scratch;
  const fs::path good = scratch.path() / "good.pt";
  WriteTensorFile(good.string(), Sample());
  Entries entries = ReadZip(good);
  std::string* pickle = nullptr;
  for (auto& [name, bytes] : entries) {
    if (name == "archive/data.pkl") pickle = &bytes;
  }
  ASSERT_NE(pickle, nullptr);
  // The table claims 2^40 rows (storage 2^44 elements, 64 TiB) over its
  // 64,000-byte record; the pickle is rewritten, so its CRC-32 is right.
  const int64_t rows = int64_t{1} << 40;
  pickle->replace(OnlyPosition(*pickle, BinInt2(16000)), 3, Long1(rows * 16));
  pickle->replace(OnlyPosition(*pickle, BinInt2(1000)), 3, Long1(rows));
  const fs::path file = scratch.path() / "state_dict.pt";
  WriteZip(file, entries);
  const std::string e = ErrorOf([&] { TensorFileReader reader(file.string()); });
  EXPECT_NE(e.find(file.string() + ": a Float tensor of shape [1099511627776, 16] declares a storage of "
                                   "70368744177664 bytes, its record archive/data/0 holds 64000"),
            std::string::npos)
      << e;
}

TEST(TorchArchiveTest, VerifiesEveryEntryOfATorchScriptArchive) {
  const tzrec::testing::ScratchDir scratch;
  const fs::path file = scratch.path() / "scripted_model.pt";
  torch::jit::Module module("m");
  at::manual_seed(3);
  const at::Tensor weight = at::randn({256, 8});
  module.register_parameter("weight", weight, false);
  module.define("def forward(self, x):\n  return x @ self.weight\n");
  module.save(file.string());
  EXPECT_NO_THROW(VerifyTorchArchiveFile(file.string()));
  std::string bytes = FileBytes(file);
  bytes[OnlyPosition(bytes, BytesOf(weight)) + 1000] ^= 0x02;
  WriteBytes(file, bytes);
  const std::string e = ErrorOf([&] { VerifyTorchArchiveFile(file.string()); });
  EXPECT_NE(e.find(file.string() + " is corrupted: record data/0 fails its CRC-32 check (zip entry "
                                   "scripted_model/data/0: computed "),
            std::string::npos)
      << e;
}

}  // namespace
}  // namespace tzrec::checkpoint
