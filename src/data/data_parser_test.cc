#include "data/batch_iterator.h"

#include <filesystem>
#include <fstream>
#include <sstream>
#include <set>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "common/error.h"

namespace tzrec::data {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

std::vector<int64_t> Longs(const at::Tensor& t) {
  EXPECT_EQ(t.scalar_type(), at::kLong);
  return std::vector<int64_t>(t.data_ptr<int64_t>(), t.data_ptr<int64_t>() + t.numel());
}
std::vector<float> Floats(const at::Tensor& t) {
  EXPECT_EQ(t.scalar_type(), at::kFloat);
  return std::vector<float>(t.data_ptr<float>(), t.data_ptr<float>() + t.numel());
}

class DataPathTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("data_path_test_" + std::to_string(::getpid()));
    fs::create_directories(dir_);
    fg_json_ = Write("fg.json", R"({"features": [
      {"feature_type": "id_feature", "feature_name": "uid", "default_value": "", "expression": "user:uid",
       "value_type": "string", "need_prefix": false, "hash_bucket_size": 100, "value_dim": 0},
      {"feature_type": "id_feature", "feature_name": "tags", "default_value": "", "expression": "item:tags",
       "value_type": "string", "need_prefix": false, "num_buckets": 10, "weighted": true, "value_dim": 0},
      {"feature_type": "raw_feature", "feature_name": "price", "default_value": "0", "expression": "item:price",
       "value_type": "float", "value_dim": 2, "separator": "|"},
      {"sequence_name": "seq", "sequence_length": 3, "sequence_delim": ";", "sequence_pk": "user:seq",
       "features": [
        {"feature_type": "id_feature", "feature_name": "cate", "default_value": "0", "expression": "item:cate",
         "value_type": "string", "need_prefix": false, "num_buckets": 10, "value_dim": 1},
        {"feature_type": "raw_feature", "feature_name": "ts", "default_value": "0", "expression": "item:ts",
         "value_type": "float"}]}]})");
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string Write(const std::string& name, const std::string& text) {
    std::string path = (dir_ / name).string();
    std::ofstream(path, std::ios::binary) << text;
    return path;
  }
  BatchIteratorOptions Options(const std::string& path, int64_t batch_size, int epochs) {
    BatchIteratorOptions o;
    o.input_path = path;
    o.batch_size = batch_size;
    o.num_epochs = epochs;
    o.csv.with_header = true;
    return o;
  }
  fs::path dir_;
  std::string fg_json_;
};

const char* kHeader = "label,w,uid,tags,price,seq__cate,seq__ts\n";

TEST_F(DataPathTest, TensorsFromFgDagCsv) {
  auto csv = Write("a.csv", std::string(kHeader) +
                                "1,0.5,abc,1:0.5\x1d" "2:2,1|2,1;2;3;4,5;6;7\n"
                                "0,1.5,,,,,\n");
  auto engine = std::make_shared<fg::FgEngine>(fg::FgEngine::FromFile(fg_json_, {}));
  BatchIterator it(Options(csv, 10, 1), engine, {{"label"}, {"w"}});
  Batch b;
  ASSERT_TRUE(it.Next(&b));
  EXPECT_EQ(b.batch_size, 2);
  auto& in = b.inputs;
  EXPECT_EQ(Longs(in.at("uid.values")), std::vector<int64_t>{33});
  EXPECT_EQ(Longs(in.at("uid.lengths")), (std::vector<int64_t>{1, 0}));
  EXPECT_EQ(Longs(in.at("tags.values")), (std::vector<int64_t>{1, 2}));
  EXPECT_EQ(Floats(in.at("tags.weights")), (std::vector<float>{0.5f, 2.0f}));
  EXPECT_EQ(in.at("price.values").sizes(), (std::vector<int64_t>{2, 2}));
  EXPECT_EQ(Floats(in.at("price.values")), (std::vector<float>{1, 2, 0, 0}));
  // Sequences truncated to 3; an empty one is one default element.
  EXPECT_EQ(Longs(in.at("seq__cate.values")), (std::vector<int64_t>{1, 2, 3, 0}));
  EXPECT_EQ(Longs(in.at("seq__cate.lengths")), (std::vector<int64_t>{3, 1}));
  EXPECT_EQ(in.count("seq__cate.key_lengths"), 0u);
  EXPECT_EQ(in.at("seq__ts.values").sizes(), (std::vector<int64_t>{4, 1}));
  EXPECT_EQ(Longs(in.at("seq__ts.lengths")), (std::vector<int64_t>{3, 1}));
  EXPECT_EQ(Longs(in.at("label")), (std::vector<int64_t>{1, 0}));
  EXPECT_EQ(Floats(in.at("w")), (std::vector<float>{0.5f, 1.5f}));
  EXPECT_FALSE(it.Next(&b));
}

TEST_F(DataPathTest, FgNoneMatchesFgDag) {
  auto dag_csv = Write("dag.csv", std::string(kHeader) + "1,1,abc,3:1,1|2,1;2,5;6\n0,1,xyz,,3|4,,\n");
  // The same rows FG-encoded: columns named after features, \x03 between values.
  auto none_csv = Write("none.csv", "label,w,uid,tags,price,seq__cate,seq__ts\n"
                                    "1,1,33,3:1,1\x03" "2,1;2,5;6\n0,1,13,,3\x03" "4,0,0\n");
  auto dag = std::make_shared<fg::FgEngine>(fg::FgEngine::FromFile(fg_json_, {}));
  fg::FgEngineOptions encoded;
  encoded.mode = fg::FgMode::kEncoded;
  auto none = std::make_shared<fg::FgEngine>(fg::FgEngine::FromFile(fg_json_, encoded));
  BatchIterator a(Options(dag_csv, 10, 1), dag, {{"label"}, {}});
  BatchIterator b(Options(none_csv, 10, 1), none, {{"label"}, {}});
  Batch ba, bb;
  ASSERT_TRUE(a.Next(&ba));
  ASSERT_TRUE(b.Next(&bb));
  ASSERT_EQ(ba.inputs.size(), bb.inputs.size());
  for (const auto& [name, t] : ba.inputs) {
    ASSERT_TRUE(bb.inputs.count(name)) << name;
    EXPECT_TRUE(at::equal(t, bb.inputs.at(name))) << name << "\n" << t << "\n" << bb.inputs.at(name);
  }
}

TEST_F(DataPathTest, EpochsGlobsAndRemainder) {
  Write("part-0.csv", std::string(kHeader) + "1,1,a,,,,\n0,1,b,,,,\n1,1,c,,,,\n");
  Write("part-1.csv", std::string(kHeader) + "0,1,d,,,,\n");
  auto engine = std::make_shared<fg::FgEngine>(fg::FgEngine::FromFile(fg_json_, {}));
  EXPECT_EQ(ExpandInputPath((dir_ / "part-*.csv").string()).size(), 2u);
  BatchIterator it(Options((dir_ / "part-*.csv").string(), 2, 2), engine, {{"label"}, {}});
  std::vector<int64_t> sizes, epochs;
  Batch b;
  while (it.Next(&b)) {
    sizes.push_back(b.batch_size);
    epochs.push_back(b.epoch);
  }
  EXPECT_EQ(sizes, (std::vector<int64_t>{2, 1, 1, 2, 1, 1}));
  EXPECT_EQ(epochs, (std::vector<int64_t>{0, 0, 0, 1, 1, 1}));
  auto opts = Options((dir_ / "part-0.csv").string() + "," + (dir_ / "part-1.csv").string(), 2, 1);
  opts.drop_remainder = true;
  BatchIterator dropping(opts, engine, {{"label"}, {}});
  sizes.clear();
  while (dropping.Next(&b)) sizes.push_back(b.batch_size);
  EXPECT_EQ(sizes, (std::vector<int64_t>{2}));
  EXPECT_THROW(ExpandInputPath((dir_ / "none-*.csv").string()), Error);
}

TEST_F(DataPathTest, BadValuesNameFileAndLineOrAreSkipped) {
  auto csv = Write("bad.csv", std::string(kHeader) + "1,1,a,,1|2,,\n0,1,b,,1|x,,\n1,1,c,,3|4,,\n");
  auto engine = std::make_shared<fg::FgEngine>(fg::FgEngine::FromFile(fg_json_, {}));
  BatchIterator it(Options(csv, 10, 1), engine, {{"label"}, {}});
  Batch b;
  try {
    it.Next(&b);
    FAIL();
  } catch (const Error& e) {
    EXPECT_THAT(e.what(), HasSubstr(csv + ":3"));
    EXPECT_THAT(e.what(), HasSubstr("price"));
    EXPECT_THAT(e.what(), HasSubstr("'x'"));
  }
  fg::FgEngineOptions skip;
  skip.skip_bad_rows = true;
  auto lenient = std::make_shared<fg::FgEngine>(fg::FgEngine::FromFile(fg_json_, skip));
  BatchIterator it2(Options(csv, 10, 1), lenient, {{"label"}, {}});
  ASSERT_TRUE(it2.Next(&b));
  EXPECT_EQ(b.batch_size, 2);
  EXPECT_EQ(it2.skipped_rows(), 1);
  EXPECT_EQ(Longs(b.inputs.at("label")), (std::vector<int64_t>{1, 1}));
  EXPECT_EQ(b.inputs.at("price.values").size(0), 2);
  // An input column fg.json needs but the file lacks.
  auto missing = Write("missing.csv", "label,w,uid\n1,1,a\n");
  BatchIterator it3(Options(missing, 10, 1), engine, {{"label"}, {}});
  try {
    it3.Next(&b);
    FAIL();
  } catch (const Error& e) {
    EXPECT_THAT(e.what(), HasSubstr("'tags'"));
    EXPECT_THAT(e.what(), HasSubstr(missing + ":2"));
  }
}

// Batches of several files as uids (one letter per row), in the order given.
std::vector<std::vector<int64_t>> UidBatches(BatchIterator& it) {
  std::vector<std::vector<int64_t>> out;
  Batch b;
  while (it.Next(&b)) out.push_back(Longs(b.inputs.at("uid.values")));
  return out;
}

TEST_F(DataPathTest, WorkersReadFilesAtOnceAndTakeTurns) {
  // Four files of 3, 1, 2 and 2 rows; batches of 2.
  const std::vector<std::string> rows = {"a,b,c", "d", "e,f", "g,h"};
  for (size_t f = 0; f < rows.size(); ++f) {
    std::string text = kHeader;
    std::stringstream uids(rows[f]);
    std::string uid;
    while (std::getline(uids, uid, ',')) text += "1,1," + uid + ",,,,\n";
    Write("part-" + std::to_string(f) + ".csv", text);
  }
  auto engine = std::make_shared<fg::FgEngine>(fg::FgEngine::FromFile(fg_json_, {}));
  const std::string all = (dir_ / "part-*.csv").string();
  BatchIterator one(Options(all, 2, 2), engine, {{"label"}, {}});
  const auto sequential = UidBatches(one);
  ASSERT_EQ(sequential.size(), 10u);  // per epoch: ab c d ef gh
  auto options = Options(all, 2, 2);
  options.num_workers = 3;  // files 0,3 / 1 / 2
  BatchIterator three(options, engine, {{"label"}, {}});
  const auto parallel = UidBatches(three);
  // One batch of each worker in turn: w0 (ab), w1 (d), w2 (ef), w0 (c), ...
  ASSERT_EQ(parallel.size(), sequential.size());
  EXPECT_EQ(parallel[0], sequential[0]);
  EXPECT_EQ(parallel[1], sequential[2]);
  EXPECT_EQ(parallel[2], sequential[3]);
  EXPECT_EQ(parallel[3], sequential[1]);
  EXPECT_EQ(std::multiset<std::vector<int64_t>>(parallel.begin(), parallel.end()),
            std::multiset<std::vector<int64_t>>(sequential.begin(), sequential.end()));
  EXPECT_EQ(three.rows_read(), 16);
  // The same order every time.
  BatchIterator again(options, engine, {{"label"}, {}});
  EXPECT_EQ(UidBatches(again), parallel);

  // A worker's error reaches the caller.
  Write("part-9.csv", std::string(kHeader) + "1,1,z,,1|x,,\n");
  BatchIterator failing(options, engine, {{"label"}, {}});
  try {
    UidBatches(failing);
    FAIL();
  } catch (const Error& e) {
    EXPECT_THAT(e.what(), HasSubstr("part-9.csv:2"));
  }
}

TEST_F(DataPathTest, ShuffleReordersBatchesAndFiles) {
  std::string text = kHeader;
  for (char c = 'a'; c <= 'p'; ++c) text += std::string("1,1,") + c + ",,,,\n";
  Write("part-0.csv", text);
  Write("part-1.csv", std::string(kHeader) + "1,1,q,,,,\n1,1,r,,,,\n");
  auto engine = std::make_shared<fg::FgEngine>(fg::FgEngine::FromFile(fg_json_, {}));
  const std::string all = (dir_ / "part-*.csv").string();
  BatchIterator plain(Options(all, 2, 1), engine, {{"label"}, {}});
  const auto in_order = UidBatches(plain);
  auto options = Options(all, 2, 1);
  options.shuffle = true;
  options.shuffle_buffer_size = 4;
  BatchIterator shuffled(options, engine, {{"label"}, {}});
  const auto reordered = UidBatches(shuffled);
  EXPECT_NE(reordered, in_order);
  EXPECT_EQ(std::multiset<std::vector<int64_t>>(reordered.begin(), reordered.end()),
            std::multiset<std::vector<int64_t>>(in_order.begin(), in_order.end()));
  BatchIterator again(options, engine, {{"label"}, {}});
  EXPECT_EQ(UidBatches(again), reordered);  // seeded: runs repeat
}

}  // namespace
}  // namespace tzrec::data
