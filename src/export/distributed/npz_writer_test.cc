#include "export/distributed/npz_writer.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>

#include <ATen/ATen.h>

#include "common/error.h"
#include "artifacts/npz_reader.h"
#include "common/test_support.h"

namespace tzrec::exporting::distributed {
namespace {

using artifacts::ReadNpz;

using ::testing::HasSubstr;
using testing::ErrorOf;
using testing::ScratchDir;

// Hands out `tensor`'s bytes in blocks of `block` bytes.
std::function<BlockProducer()> BlocksOf(const at::Tensor& tensor, size_t block) {
  return [tensor, block] {
    auto pos = std::make_shared<size_t>(0);
    return BlockProducer([tensor, block, pos](std::vector<char>& out) -> size_t {
      const size_t total = tensor.nbytes();
      const size_t n = std::min(block, total - *pos);
      out.assign(static_cast<const char*>(tensor.data_ptr()) + *pos,
                 static_cast<const char*>(tensor.data_ptr()) + *pos + n);
      *pos += n;
      return n;
    });
  };
}

TEST(NpzWriterTest, NpyHeaderIsNumpysByteForByte) {
  // np.save(f, np.zeros((3, 4), np.float32)): a 128-byte header.
  const std::string header = NpyHeader("<f4", {3, 4});
  ASSERT_EQ(header.size(), 128u);
  EXPECT_EQ(header.substr(0, 10), std::string("\x93NUMPY\x01\x00v\x00", 10));
  EXPECT_EQ(header.substr(10, 59), "{'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }");
  EXPECT_EQ(header.back(), '\n');
  EXPECT_EQ(header.find_first_not_of(' ', 69), 127u);
  EXPECT_THAT(NpyHeader("|u1", {5}), HasSubstr("'shape': (5,), }"));
  EXPECT_THAT(NpyHeader("<f4", {}), HasSubstr("'shape': (), }"));
}

TEST(NpzWriterTest, ArraysRoundTripThroughBlocks) {
  ScratchDir dir;
  const at::Tensor floats = at::randn({1000, 7});
  const at::Tensor bytes = at::randint(0, 255, {33, 12}, at::kByte);
  const at::Tensor empty = at::empty({0, 16});
  NpzWriter writer(dir / "a.npz");
  writer.AddArray("model.x.weight_like", "<f4", {1000, 7}, floats.nbytes(), BlocksOf(floats, 4096));
  writer.AddArray("bytes", "|u1", {33, 12}, bytes.nbytes(), BlocksOf(bytes, 100));
  writer.AddArray("empty", "<f4", {0, 16}, 0, BlocksOf(empty, 64));
  writer.Close();
  const auto arrays = ReadNpz(dir / "a.npz");
  ASSERT_EQ(arrays.size(), 3u);
  EXPECT_TRUE(at::equal(arrays.at("model.x.weight_like").data, floats));
  EXPECT_EQ(arrays.at("bytes").descr, "|u1");
  EXPECT_TRUE(at::equal(arrays.at("bytes").data, bytes));
  EXPECT_EQ(arrays.at("empty").shape, (std::vector<int64_t>{0, 16}));
}

TEST(NpzWriterTest, AProducerErrorFailsCloseAndLeavesNoFile) {
  ScratchDir dir;
  NpzWriter writer(dir / "bad.npz");
  writer.AddArray("t", "<f4", {10, 2}, 80, [] {
    return BlockProducer([](std::vector<char>&) -> size_t { throw Error("table t: row 3 is bad"); });
  });
  EXPECT_EQ(ErrorOf([&] { writer.Close(); }), "table t: row 3 is bad");
  EXPECT_FALSE(std::filesystem::exists(dir / "bad.npz"));
}

TEST(NpzWriterTest, AShortProducerIsAnError) {
  ScratchDir dir;
  const at::Tensor half = at::zeros({5, 2});
  NpzWriter writer(dir / "short.npz");
  writer.AddArray("t", "<f4", {10, 2}, 80, BlocksOf(half, 16));
  EXPECT_THAT(ErrorOf([&] { writer.Close(); }), HasSubstr("array t.npy produced 40 of its 80 data bytes"));
  EXPECT_FALSE(std::filesystem::exists(dir / "short.npz"));
}

}  // namespace
}  // namespace tzrec::exporting::distributed
