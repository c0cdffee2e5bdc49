#include "predict/prediction_writer.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "common/error.h"
#include "data/parquet_reader.h"

namespace tzrec::predict {
namespace {

namespace fs = std::filesystem;

class PredictionWriterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("tzrec_prediction_writer_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    path_ = (dir_ / "out.csv").string();
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::string Read() {
    std::ifstream in(path_);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
  }

  static c10::Dict<std::string, at::Tensor> Predictions() {
    c10::Dict<std::string, at::Tensor> p;
    p.insert("probs", at::tensor({0.25f, 0.75f}));
    p.insert("logits", at::tensor({-1.0f, 1.0f}));
    p.insert("emb", at::tensor({1.0f, 2.0f, 3.0f, 4.0f}).reshape({2, 2}));
    return p;
  }

  fs::path dir_;
  std::string path_;
};

TEST_F(PredictionWriterTest, DefaultColumnsSortedThenReserved) {
  auto writer_ptr = PredictionWriter::Create(PredictionFormat::kCsv, path_, {}, {"id", "note"});
  PredictionWriter& writer = *writer_ptr;
  writer.Write(Predictions(), {"u1", "plain", "u2", "has,comma"}, 2);
  writer.Write(Predictions(), {"u3", "", "u4", "x"}, 2);
  writer.Commit();
  EXPECT_EQ(writer.header(), (std::vector<std::string>{"emb", "logits", "probs", "id", "note"}));
  EXPECT_EQ(writer.rows_written(), 4);
  EXPECT_EQ(Read(),
            "emb,logits,probs,id,note\n"
            "\"1,2\",-1,0.25,u1,plain\n"
            "\"3,4\",1,0.75,u2,\"has,comma\"\n"
            "\"1,2\",-1,0.25,u3,\n"
            "\"3,4\",1,0.75,u4,x\n");
}

TEST_F(PredictionWriterTest, RequestedColumnsInTheGivenOrder) {
  auto writer_ptr = PredictionWriter::Create(PredictionFormat::kCsv, path_, {"probs", "logits"}, {});
  PredictionWriter& writer = *writer_ptr;
  writer.Write(Predictions(), {}, 2);
  writer.Commit();
  EXPECT_EQ(Read(), "probs,logits\n0.25,-1\n0.75,1\n");
}

TEST_F(PredictionWriterTest, UnknownOutputListsTheModelsOutputs) {
  auto writer_ptr = PredictionWriter::Create(PredictionFormat::kCsv, path_, {"probs_ctr"}, {});
  PredictionWriter& writer = *writer_ptr;
  try {
    writer.Write(Predictions(), {}, 2);
    FAIL() << "expected an error";
  } catch (const ConfigError& e) {
    EXPECT_STREQ(e.what(), "output column 'probs_ctr' is not an output of the model (outputs: emb, logits, probs)");
  }
}

// Parquet output: part-0.parquet in the output directory, read back with
// Arrow's reader through tzrec's Parquet input (the columns' text).
TEST_F(PredictionWriterTest, ParquetPartFileInTheOutputDirectory) {
  const std::string dir = path_ + ".dir";
  auto writer = PredictionWriter::Create(PredictionFormat::kParquet, dir, {}, {"id"});
  writer->Write(Predictions(), {"u1", "u2"}, 2);
  writer->Write(Predictions(), {"u3", "u4"}, 2);
  EXPECT_FALSE(std::filesystem::exists(dir + "/part-0.parquet"));  // not before Commit
  writer->Commit();
  data::ParquetReader reader(dir + "/part-0.parquet", {});
  EXPECT_EQ(reader.column_names(), (std::vector<std::string>{"emb", "logits", "probs", "id"}));
  data::RowBatch batch;
  ASSERT_EQ(reader.ReadRows(10, &batch), 4);
  EXPECT_EQ(batch.Field(0, 0), "1\x1d" "2");  // list<float>, joined by the reader
  EXPECT_EQ(batch.Field(3, 2), "0.75");
  EXPECT_EQ(batch.Field(2, 3), "u3");
}

// Reserved columns keep the input's types: text parsed back, lists split.
TEST_F(PredictionWriterTest, ParquetReservedColumnsKeepTheirTypes) {
  const std::string dir = path_ + ".typed";
  auto writer = PredictionWriter::Create(PredictionFormat::kParquet, dir, {"probs"}, {"id", "ids", "w", "name"});
  using Kind = data::ColumnType::Kind;
  writer->SetReservedTypes({{Kind::kInt64, false}, {Kind::kInt64, true}, {Kind::kFloat, false}, {}}, '\x03');
  writer->Write(Predictions(), {"7", "1\x03" "2", "0.5", "a", "", "", "", ""}, 2);
  writer->Commit();
  data::ParquetReader reader(dir + "/part-0.parquet", {});
  const std::vector<data::ColumnType> types = reader.column_types();
  ASSERT_EQ(types.size(), 5u);
  EXPECT_EQ(types[1].kind, Kind::kInt64);
  EXPECT_TRUE(types[2].list);
  EXPECT_EQ(types[3].kind, Kind::kFloat);
  EXPECT_EQ(types[4].kind, Kind::kString);
  data::RowBatch batch;
  ASSERT_EQ(reader.ReadRows(10, &batch), 2);
  EXPECT_EQ(batch.Field(0, 2), "1\x1d" "2");  // read back with the reader's default separator
  EXPECT_EQ(batch.Field(1, 1), "");             // an empty int cell is null
  EXPECT_EQ(batch.Field(1, 2), "");             // an empty list
}

TEST_F(PredictionWriterTest, ClashingNamesAreRefused) {
  EXPECT_THROW({ PredictionWriter::Create(PredictionFormat::kCsv, path_, {"probs"}, {"probs"}); }, ConfigError);
  EXPECT_THROW({ PredictionWriter::Create(PredictionFormat::kCsv, path_, {}, {"id", "id"}); }, ConfigError);
  EXPECT_FALSE(fs::exists(path_));
  EXPECT_TRUE(fs::is_empty(dir_));  // no temporary file left either
  auto writer = PredictionWriter::Create(PredictionFormat::kCsv, path_, {}, {"probs"});
  EXPECT_THROW(writer->Write(Predictions(), {"a", "b"}, 2), ConfigError);
}

}  // namespace
}  // namespace tzrec::predict
