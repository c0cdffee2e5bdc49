#include "checkpoint/tensor_file_reader.h"

#include <gtest/gtest.h>

#include "common/test_support.h"
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include <ATen/ATen.h>

#include "checkpoint/checkpoint.h"
#include "common/error.h"

namespace fs = std::filesystem;

namespace tzrec::checkpoint {
namespace {

NamedTensors SampleTensors() {
  at::manual_seed(7);
  return {
      {"model.table.weight", at::randn({1000, 16})},
      {"model.mlp.bias", at::randn({8})},
      {"model.step", at::full({}, 42, at::kLong)},
      {"model.ids", at::arange(0, 30, at::kLong).reshape({10, 3})},
      {"model.empty", at::empty({0, 4})},
      {"model.half", at::randn({5, 6}).to(at::kHalf)},
  };
}

TEST(TensorFileReaderTest, ListsEntriesInFileOrder) {
  const tzrec::testing::ScratchDir scratch_list;
  const fs::path file = scratch_list.path() / "state_dict.pt";
  WriteTensorFile(file.string(), SampleTensors());
  TensorFileReader reader(file.string());
  ASSERT_EQ(reader.entries().size(), 6u);
  EXPECT_EQ(reader.entries()[0].name, "model.table.weight");
  EXPECT_EQ(reader.entries()[0].shape, (std::vector<int64_t>{1000, 16}));
  EXPECT_EQ(reader.entries()[0].dtype, at::kFloat);
  EXPECT_EQ(reader.entries()[0].nbytes(), 1000 * 16 * 4);
  EXPECT_EQ(reader.Entry("model.step").shape, std::vector<int64_t>{});
  EXPECT_EQ(reader.Entry("model.step").dtype, at::kLong);
  EXPECT_EQ(reader.Entry("model.half").dtype, at::kHalf);
  EXPECT_EQ(reader.Find("nope"), nullptr);
}

TEST(TensorFileReaderTest, ReadsTensorsAndRowRanges) {
  const tzrec::testing::ScratchDir scratch_read;
  const fs::path file = scratch_read.path() / "state_dict.pt";
  const NamedTensors tensors = SampleTensors();
  WriteTensorFile(file.string(), tensors);
  TensorFileReader reader(file.string());
  for (const auto& [name, expected] : tensors) {
    at::Tensor got = reader.Read(name);
    EXPECT_EQ(got.sizes(), expected.sizes()) << name;
    EXPECT_EQ(got.scalar_type(), expected.scalar_type()) << name;
    EXPECT_TRUE(at::equal(got, expected)) << name;
  }
  const at::Tensor& table = tensors[0].second;
  EXPECT_TRUE(at::equal(reader.ReadRows("model.table.weight", 100, 357), table.slice(0, 100, 357)));
  EXPECT_TRUE(at::equal(reader.ReadRows("model.table.weight", 999, 1000), table.slice(0, 999, 1000)));
  EXPECT_EQ(reader.ReadRows("model.table.weight", 5, 5).size(0), 0);
  EXPECT_TRUE(at::equal(reader.ReadRows("model.ids", 2, 4), tensors[3].second.slice(0, 2, 4)));
  // Read copies: the result is independent of the file.
  at::Tensor copy = reader.Read("model.mlp.bias");
  copy.fill_(0);
  EXPECT_TRUE(at::equal(reader.Read("model.mlp.bias"), tensors[1].second));
}

TEST(TensorFileReaderTest, MappedViewsMatchAndSurviveRelease) {
  const tzrec::testing::ScratchDir scratch_map;
  const fs::path file = scratch_map.path() / "state_dict.pt";
  const NamedTensors tensors = SampleTensors();
  WriteTensorFile(file.string(), tensors);
  at::Tensor view;
  {
    TensorFileReader reader(file.string());
    view = reader.Map("model.table.weight");
    EXPECT_TRUE(at::equal(view, tensors[0].second));
    reader.Release("model.table.weight");
    EXPECT_TRUE(at::equal(view, tensors[0].second));
  }
  // The view keeps the mapping alive after the reader is gone.
  EXPECT_TRUE(at::equal(view, tensors[0].second));
}

TEST(TensorFileReaderTest, ErrorsNameTheFileAndTensor) {
  const tzrec::testing::ScratchDir scratch_errors;
  const fs::path dir = scratch_errors.path();
  try {
    TensorFileReader reader((dir / "missing.pt").string());
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("missing.pt: no such file"), std::string::npos) << e.what();
  }
  {
    std::ofstream out(dir / "garbage.pt");
    out << "this is not a zip file";
  }
  try {
    TensorFileReader reader((dir / "garbage.pt").string());
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("garbage.pt: not a PyTorch tensor file"), std::string::npos)
        << e.what();
    EXPECT_EQ(std::string(e.what()).find('\n'), std::string::npos);
  }
  const fs::path file = dir / "state_dict.pt";
  WriteTensorFile(file.string(), SampleTensors());
  TensorFileReader reader(file.string());
  try {
    reader.Read("model.nope");
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("has no tensor model.nope"), std::string::npos) << e.what();
  }
  EXPECT_THROW(reader.ReadRows("model.table.weight", 10, 1001), Error);
  EXPECT_THROW(reader.ReadRows("model.step", 0, 1), Error);
}

// A file written by stock PyTorch (Debian's python3-torch), when present:
// torch.save names its archive after the file and may store views with
// offsets into a shared storage.
TEST(TensorFileReaderTest, ReadsTorchSaveFiles) {
  if (!fs::exists("/usr/bin/python3")) GTEST_SKIP() << "no /usr/bin/python3";
  const tzrec::testing::ScratchDir scratch_torch_save;
  const fs::path dir = scratch_torch_save.path();
  const fs::path file = dir / "weights.pt";
  const std::string script =
      "import torch\n"
      "torch.manual_seed(3)\n"
      "base = torch.arange(0, 60, dtype=torch.float32).reshape(12, 5)\n"
      "state = {'model.a.weight': torch.arange(0, 200, dtype=torch.float32).reshape(50, 4),\n"
      "         'model.tail': base[4:],\n"
      "         'model.col': base[:, 1],\n"
      "         'model.n': torch.tensor(7),\n"
      // A view of 2^32 elements (stride 0): its size pickles as a 5-byte LONG1,
      // as the storage of a table of 2^31 elements or more does.
      "         'model.huge': torch.zeros(1).expand(1 << 32)}\n"
      "torch.save(state, '" + file.string() + "')\n";
  std::ofstream(dir / "save.py") << script;
  const std::string command = "/usr/bin/python3 " + (dir / "save.py").string() + " 2>/dev/null";
  if (std::system(command.c_str()) != 0) GTEST_SKIP() << "python3-torch is not usable here";
  TensorFileReader reader(file.string());
  ASSERT_EQ(reader.entries().size(), 5u);
  EXPECT_EQ(reader.entries()[1].name, "model.tail");
  EXPECT_EQ(reader.Entry("model.huge").shape, std::vector<int64_t>{int64_t{1} << 32});
  EXPECT_TRUE(at::equal(reader.ReadRows("model.huge", (int64_t{1} << 32) - 3, int64_t{1} << 32), at::zeros({3})));
  const at::Tensor base = at::arange(0, 60, at::kFloat).reshape({12, 5});
  EXPECT_TRUE(at::equal(reader.Read("model.a.weight"), at::arange(0, 200, at::kFloat).reshape({50, 4})));
  EXPECT_TRUE(at::equal(reader.ReadRows("model.a.weight", 10, 20),
                        at::arange(40, 80, at::kFloat).reshape({10, 4})));
  EXPECT_TRUE(at::equal(reader.Read("model.tail"), base.slice(0, 4)));
  EXPECT_TRUE(at::equal(reader.ReadRows("model.tail", 2, 5), base.slice(0, 6, 9)));
  // A strided view: read through the mapping.
  EXPECT_TRUE(at::equal(reader.Read("model.col"), base.select(1, 1)));
  EXPECT_TRUE(at::equal(reader.ReadRows("model.col", 3, 6), base.select(1, 1).slice(0, 3, 6)));
  EXPECT_EQ(reader.Read("model.n").item<int64_t>(), 7);
}

}  // namespace
}  // namespace tzrec::checkpoint
