#include "predict/prediction_writer.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "common/error.h"

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
  PredictionWriter writer(path_, {}, {"id", "note"});
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
  PredictionWriter writer(path_, {"probs", "logits"}, {});
  writer.Write(Predictions(), {}, 2);
  writer.Commit();
  EXPECT_EQ(Read(), "probs,logits\n0.25,-1\n0.75,1\n");
}

TEST_F(PredictionWriterTest, UnknownOutputListsTheModelsOutputs) {
  PredictionWriter writer(path_, {"probs_ctr"}, {});
  try {
    writer.Write(Predictions(), {}, 2);
    FAIL() << "expected an error";
  } catch (const ConfigError& e) {
    EXPECT_STREQ(e.what(), "output column 'probs_ctr' is not an output of the model (outputs: emb, logits, probs)");
  }
}

TEST_F(PredictionWriterTest, ClashingNamesAreRefused) {
  EXPECT_THROW({ PredictionWriter w(path_, {"probs"}, {"probs"}); }, ConfigError);
  EXPECT_THROW({ PredictionWriter w(path_, {}, {"id", "id"}); }, ConfigError);
  EXPECT_FALSE(fs::exists(path_));
  EXPECT_TRUE(fs::is_empty(dir_));  // no temporary file left either
  PredictionWriter writer(path_, {}, {"probs"});
  EXPECT_THROW(writer.Write(Predictions(), {"a", "b"}, 2), ConfigError);
}

}  // namespace
}  // namespace tzrec::predict
