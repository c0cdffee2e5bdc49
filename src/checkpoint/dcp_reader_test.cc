#include "checkpoint/dcp_reader.h"

#include <gtest/gtest.h>

#include "common/test_support.h"
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <iterator>

#include <ATen/ATen.h>

#include "checkpoint/dcp_writer.h"
#include "checkpoint/pickle.h"
#include "common/error.h"

namespace fs = std::filesystem;

namespace tzrec::checkpoint {
namespace {

// `table` saved as the blocks a sharding plan gives its ranks: `row_cuts` and
// `col_cuts` are the block boundaries (grid: both).
std::vector<DcpItem> Blocks(const std::string& fqn, const at::Tensor& table, const std::vector<int64_t>& row_cuts,
                            const std::vector<int64_t>& col_cuts) {
  std::vector<DcpItem> items;
  for (size_t r = 0; r + 1 < row_cuts.size(); ++r) {
    for (size_t c = 0; c + 1 < col_cuts.size(); ++c) {
      DcpItem item;
      item.fqn = fqn;
      item.tensor = table.slice(0, row_cuts[r], row_cuts[r + 1]).slice(1, col_cuts[c], col_cuts[c + 1]).clone();
      item.global_size = table.sizes().vec();
      item.offsets = {row_cuts[r], col_cuts[c]};
      items.push_back(item);
    }
  }
  return items;
}

std::string ErrorOf(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(DcpReaderTest, ReadsWholeTensorsBack) {
  at::manual_seed(1);
  const at::Tensor table = at::randn({50, 8});
  const at::Tensor bias = at::randn({5});
  const at::Tensor step = at::full({}, 12, at::kLong);
  const at::Tensor half = at::randn({4, 3}).to(at::kHalf);
  const tzrec::testing::ScratchDir scratch_whole;
  const fs::path dir = scratch_whole.path();
  WriteDcpDirectory(dir.string(), {{"model.t.weight", {}, table}, {"model.b", {}, bias},
                                   {"state.step", {"state", "step"}, step}, {"model.h", {}, half}});
  EXPECT_TRUE(fs::exists(dir / ".metadata"));
  EXPECT_TRUE(fs::exists(dir / "__0_0.distcp"));
  DcpReader reader(dir.string());
  ASSERT_EQ(reader.entries().size(), 4u);
  EXPECT_EQ(reader.entries()[0].name, "model.t.weight");
  EXPECT_EQ(reader.Entry("model.h").dtype, at::kHalf);
  EXPECT_TRUE(at::equal(reader.Read("model.t.weight"), table));
  EXPECT_TRUE(at::equal(reader.ReadRows("model.t.weight", 13, 29), table.slice(0, 13, 29)));
  EXPECT_TRUE(at::equal(reader.Map("model.t.weight"), table));
  reader.Release("model.t.weight");
  EXPECT_TRUE(at::equal(reader.Read("model.b"), bias));
  EXPECT_EQ(reader.Read("state.step").item<int64_t>(), 12);
  EXPECT_TRUE(at::equal(reader.Read("model.h"), half));
  EXPECT_EQ(reader.metadata().planner_data.at("state.step"), (std::vector<std::string>{"state", "step"}));
}

TEST(DcpReaderTest, AssemblesEveryShardingLayout) {
  at::manual_seed(2);
  const at::Tensor table = at::randn({103, 10});
  struct Layout {
    const char* name;
    std::vector<int64_t> rows, cols;
  };
  for (const Layout& layout : {Layout{"table_wise", {0, 103}, {0, 10}},
                               Layout{"row_wise_uneven", {0, 35, 70, 103}, {0, 10}},
                               Layout{"column_wise", {0, 103}, {0, 4, 7, 10}},
                               Layout{"grid", {0, 52, 103}, {0, 5, 10}},
                               Layout{"one_row_blocks", {0, 1, 2, 50, 103}, {0, 10}}}) {
    SCOPED_TRACE(layout.name);
    const tzrec::testing::ScratchDir scratch;
    const fs::path dir = scratch.path();
    std::vector<DcpItem> items = Blocks("model.e.weight", table, layout.rows, layout.cols);
    // Chunks come in any order.
    std::reverse(items.begin(), items.end());
    WriteDcpDirectory(dir.string(), items);
    DcpReader reader(dir.string());
    EXPECT_EQ(reader.Entry("model.e.weight").shape, (std::vector<int64_t>{103, 10}));
    EXPECT_TRUE(at::equal(reader.Read("model.e.weight"), table));
    EXPECT_TRUE(at::equal(reader.Map("model.e.weight"), table));
    for (auto [begin, end] : {std::pair<int64_t, int64_t>{0, 1}, {34, 36}, {51, 53}, {69, 103}, {7, 7}}) {
      EXPECT_TRUE(at::equal(reader.ReadRows("model.e.weight", begin, end), table.slice(0, begin, end)))
          << begin << ".." << end;
    }
  }
}

TEST(DcpReaderTest, ReplicatedCopiesCollapseAndOldSequenceNamesAreRenamed) {
  const at::Tensor w = at::arange(0, 24, at::kFloat).reshape({6, 4});
  const tzrec::testing::ScratchDir scratch_renames;
  const fs::path dir = scratch_renames.path();
  WriteDcpDirectory(dir.string(),
                    {{"model.embedding_group.seq_emb_impls.__BASE__.ec_list.0.embeddings.click_emb.weight", {}, w},
                     {"model.dense.weight", {}, w}, {"model.dense.weight", {}, w}});
  DcpReader reader(dir.string());
  ASSERT_EQ(reader.entries().size(), 2u);
  EXPECT_EQ(reader.entries()[0].name,
            "model.embedding_group.seq_emb_impls.__BASE__.ec_dict.4.embeddings.click_emb.weight");
  EXPECT_TRUE(at::equal(reader.Read(reader.entries()[0].name), w));
  EXPECT_TRUE(at::equal(reader.Read("model.dense.weight"), w));
}

// Rewrites dir/.metadata through `edit` of its parsed tree.
void EditMetadata(const fs::path& dir, const std::function<void(pickle::Value&)>& edit) {
  std::ifstream in(dir / ".metadata", std::ios::binary);
  const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  pickle::ValuePtr root = pickle::Parse(bytes, "metadata");
  edit(*root);
  std::ofstream(dir / ".metadata", std::ios::binary | std::ios::trunc) << pickle::Serialize(*root);
}

pickle::Value& StorageInfo(pickle::Value& root) {
  for (auto& [key, value] : root.state->entries) {
    if (key->text == "storage_data") return *value->entries.front().second;
  }
  throw std::logic_error("no storage_data");
}

TEST(DcpReaderTest, RefusesWhatItCannotReadWithTheReason) {
  const at::Tensor table = at::randn({20, 4});
  // A fresh copy of the checkpoint in `scratch`, to break one thing in.
  auto fresh = [&](const tzrec::testing::ScratchDir& scratch) {
    const fs::path dir = scratch.path();
    WriteDcpDirectory(dir.string(), Blocks("model.e.weight", table, {0, 10, 20}, {0, 4}));
    return dir;
  };
  {
    const tzrec::testing::ScratchDir scratch;
    const fs::path dir = fresh(scratch);
    fs::remove(dir / "__0_0.distcp");
    const std::string e = ErrorOf([&] { DcpReader reader(dir.string()); });
    EXPECT_NE(e.find("__0_0.distcp, which is missing"), std::string::npos) << e;
  }
  {
    const tzrec::testing::ScratchDir scratch;
    const fs::path dir = fresh(scratch);
    fs::resize_file(dir / "__0_0.distcp", fs::file_size(dir / "__0_0.distcp") - 100);
    const std::string e = ErrorOf([&] { DcpReader reader(dir.string()); });
    EXPECT_NE(e.find("model.e.weight lies at bytes"), std::string::npos) << e;
  }
  {
    const tzrec::testing::ScratchDir scratch;
    const fs::path dir = fresh(scratch);
    EditMetadata(dir, [](pickle::Value& root) {
      StorageInfo(root).state->entries.emplace_back(pickle::Str("transform_descriptors"),
                                                    pickle::List({pickle::Str("zstd")}));
    });
    const std::string e = ErrorOf([&] { DcpReader reader(dir.string()); });
    EXPECT_NE(e.find("stream transforms (zstd)"), std::string::npos) << e;
  }
  {
    const tzrec::testing::ScratchDir scratch;
    const fs::path dir = fresh(scratch);
    const auto size = fs::file_size(dir / "__0_0.distcp");
    std::string blob(size, ' ');
    blob.replace(0, 9, std::string("\x40\x00\x00\x00\x00\x00\x00\x00{", 9));
    std::ofstream(dir / "__0_0.distcp", std::ios::binary | std::ios::trunc) << blob;
    const std::string e = ErrorOf([&] { DcpReader reader(dir.string()); });
    EXPECT_NE(e.find("safetensors"), std::string::npos) << e;
  }
  {
    const tzrec::testing::ScratchDir scratch_gap;
    const fs::path dir = scratch_gap.path();
    std::vector<DcpItem> items = Blocks("model.e.weight", table, {0, 10, 20}, {0, 4});
    items.pop_back();
    WriteDcpDirectory(dir.string(), items);
    const std::string e = ErrorOf([&] { DcpReader reader(dir.string()); });
    EXPECT_NE(e.find("cover 40 of its 80 elements"), std::string::npos) << e;
  }
  {
    const tzrec::testing::ScratchDir scratch;
    const fs::path dir = fresh(scratch);
    EditMetadata(dir, [](pickle::Value& root) {
      for (auto& [k, v] : StorageInfo(root).state->entries) {
        if (k->text == "relative_path") v = pickle::Str("../elsewhere.distcp");
      }
    });
    const std::string e = ErrorOf([&] { DcpReader reader(dir.string()); });
    EXPECT_NE(e.find("outside its directory"), std::string::npos) << e;
  }
  {
    const tzrec::testing::ScratchDir scratch;
    const fs::path dir = fresh(scratch);
    // Past the zip's central directory: the item no longer parses.
    std::fstream f(dir / "__0_0.distcp", std::ios::binary | std::ios::in | std::ios::out);
    f.seekp(static_cast<std::streamoff>(fs::file_size(dir / "__0_0.distcp") - 30));
    f << "garbage-garbage-garbage-garbag";
    f.close();
    DcpReader reader(dir.string());
    const std::string e = ErrorOf([&] { reader.Read("model.e.weight"); });
    EXPECT_NE(e.find("model.e.weight"), std::string::npos) << e;
  }
}

TEST(DcpReaderTest, CorruptItemBytesAreAnErrorNamingTheFileAndTensor) {
  at::manual_seed(5);
  const at::Tensor table = at::randn({20, 4});
  const tzrec::testing::ScratchDir scratch;
  const fs::path dir = scratch.path();
  WriteDcpDirectory(dir.string(), Blocks("model.e.weight", table, {0, 10, 20}, {0, 4}));
  const fs::path data = dir / "__0_0.distcp";
  std::ifstream in(data, std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  in.close();
  // One bit of row 15 (the second chunk) flipped.
  const at::Tensor row = table[15].contiguous();
  const size_t at = bytes.find(std::string(static_cast<const char*>(row.data_ptr()), row.nbytes()));
  ASSERT_NE(at, std::string::npos);
  bytes[at + 2] ^= 0x01;
  std::ofstream(data, std::ios::binary | std::ios::trunc) << bytes;
  DcpReader reader(dir.string());
  // Rows of the intact first chunk read; any read touching the second fails.
  EXPECT_TRUE(at::equal(reader.ReadRows("model.e.weight", 0, 10), table.slice(0, 0, 10)));
  for (const auto& read : std::vector<std::function<void()>>{[&] { reader.Read("model.e.weight"); },
                                                             [&] { reader.ReadRows("model.e.weight", 10, 11); },
                                                             [&] { reader.Map("model.e.weight"); }}) {
    const std::string e = ErrorOf(read);
    EXPECT_NE(e.find(data.string() + " is corrupted: tensor model.e.weight fails its CRC-32 check (zip entry "),
              std::string::npos)
        << e;
    EXPECT_EQ(e.find('\n'), std::string::npos) << e;
  }
}

// Every int in `value` (recursively) equal to `from` becomes `to`; returns how many.
int ReplaceInts(pickle::Value& value, int64_t from, int64_t to) {
  int n = 0;
  if (value.Is(pickle::Value::Kind::kInt) && value.integer == from) {
    value.integer = to;
    ++n;
  }
  for (auto& item : value.items) n += ReplaceInts(*item, from, to);
  for (auto& [k, v] : value.entries) n += ReplaceInts(*k, from, to) + ReplaceInts(*v, from, to);
  if (value.state) n += ReplaceInts(*value.state, from, to);
  return n;
}

TEST(DcpReaderTest, RefusesChunksDeclaredLargerThanTheirItems) {
  const at::Tensor table = at::randn({20, 4});
  const tzrec::testing::ScratchDir scratch;
  const fs::path dir = scratch.path();
  WriteDcpDirectory(dir.string(), Blocks("model.e.weight", table, {0, 7, 20}, {0, 4}));
  // The tensor claims 2^40 rows, its second chunk all but the first 7: the
  // chunks still tile the shape, but 16 TiB would be allocated to read it.
  const int64_t rows = int64_t{1} << 40;
  EditMetadata(dir, [&](pickle::Value& root) {
    for (auto& [key, value] : root.state->entries) {
      if (key->text != "state_dict_metadata") continue;
      EXPECT_EQ(ReplaceInts(*value, 20, rows), 1);
      EXPECT_EQ(ReplaceInts(*value, 13, rows - 7), 1);
    }
  });
  const std::string e = ErrorOf([&] { DcpReader reader(dir.string()); });
  EXPECT_NE(e.find("tensor model.e.weight: the chunk at [7, 0] declares 4398046511076 elements of 4 bytes, but "
                   "its item in __0_0.distcp has "),
            std::string::npos)
      << e;
  // A shape whose element count overflows.
  const tzrec::testing::ScratchDir scratch_overflow;
  const fs::path dir2 = scratch_overflow.path();
  WriteDcpDirectory(dir2.string(), Blocks("model.e.weight", table, {0, 7, 20}, {0, 4}));
  EditMetadata(dir2, [&](pickle::Value& root) {
    for (auto& [key, value] : root.state->entries) {
      if (key->text == "state_dict_metadata") ReplaceInts(*value, 20, int64_t{1} << 62);
    }
  });
  const std::string e2 = ErrorOf([&] { DcpReader reader(dir2.string()); });
  EXPECT_NE(e2.find("tensor model.e.weight: shape [4611686018427387904, 4] is not a possible shape"),
            std::string::npos)
      << e2;
}

}  // namespace
}  // namespace tzrec::checkpoint
