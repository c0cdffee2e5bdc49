#include "features/fg_json.h"

#include <filesystem>
#include <fstream>
#include <sstream>

#include <gtest/gtest.h>

#include "common/error.h"
#include "common/test_support.h"
#include "features/feature_test_util.h"

namespace tzrec {
namespace {

namespace fs = std::filesystem;
using tzrec::testing::ReadTextFile;
using tzrec::testing::WriteTextFile;
using testing::Build;

class FgJsonTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("tzrec_fg_json_test_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_ / "src");
  }
  void TearDown() override { fs::remove_all(dir_); }

  fs::path dir_;
};

TEST_F(FgJsonTest, Md5OfFile) {
  WriteTextFile(dir_ / "a.txt", "hello\n");
  // md5sum of "hello\n".
  EXPECT_EQ(Md5HexOfFile((dir_ / "a.txt").string()), "b1946ac92492d2347c6235b4d2611184");
  EXPECT_THROW(Md5HexOfFile((dir_ / "missing").string()), Error);
}

TEST_F(FgJsonTest, VocabFileIsCopiedWithContentHash) {
  WriteTextFile(dir_ / "src" / "vocab.txt", "a 2\nb 5\nc 3\n");
  const auto built = Build(
      "feature_configs { id_feature { feature_name: 'c' expression: 'item:c' embedding_dim: 4 "
      "vocab_file: 'vocab.txt' asset_dir: '" + (dir_ / "src").string() +
      "' default_bucketize_value: 1 } }");
  const Feature& f = built[0];
  EXPECT_EQ(f.num_embeddings(), 6u);  // largest id + 1
  EXPECT_EQ(f.Assets().at("vocab_file"), (dir_ / "src" / "vocab.txt").string());

  const std::string hashed = "vocab_" + Md5HexOfFile((dir_ / "src" / "vocab.txt").string()) +
                             ".txt";
  FgJsonOptions options;
  options.asset_dir = (dir_ / "out").string();
  const auto fg_json = CreateFgJson({&f}, options);
  EXPECT_EQ(fg_json["features"][0]["vocab_file"], hashed);
  EXPECT_EQ(fg_json["features"][0]["default_bucketize_value"], 1);
  EXPECT_EQ(ReadTextFile(dir_ / "out" / hashed), "a 2\nb 5\nc 3\n");

  // Without an asset dir the original path is referenced.
  EXPECT_EQ(CreateFgJson({&f})["features"][0]["vocab_file"], (dir_ / "src" / "vocab.txt").string());
}

TEST_F(FgJsonTest, VocabFileWithoutIdsCountsTokens) {
  WriteTextFile(dir_ / "v.txt", "x\ny\nx\n");
  const auto built = Build("feature_configs { id_feature { feature_name: 'c' expression: "
                           "'item:c' embedding_dim: 4 vocab_file: '" +
                           (dir_ / "v.txt").string() + "' default_bucketize_value: 0 } }");
  EXPECT_EQ(built[0].num_embeddings(), 2u);
}

TEST_F(FgJsonTest, RemoveBucketizer) {
  const auto built = Build(R"(
    feature_configs { id_feature { feature_name: "a" expression: "user:a" hash_bucket_size: 9
                                   embedding_dim: 4 } }
    feature_configs { raw_feature { feature_name: "p" expression: "item:p" boundaries: [1]
                                    embedding_dim: 4 } })");
  FgJsonOptions options;
  options.remove_bucketizer = true;
  const auto fg_json = CreateFgJson(FeaturePointers(built.features), options);
  EXPECT_FALSE(fg_json["features"][0].contains("hash_bucket_size"));
  EXPECT_EQ(fg_json["features"][0]["value_dim"], 0);
  EXPECT_FALSE(fg_json["features"][1].contains("boundaries"));
}

TEST_F(FgJsonTest, GroupedSequenceIsOneBlockAtFirstPosition) {
  const auto built = Build(R"(
    feature_configs { sequence_feature {
        sequence_name: "s" sequence_length: 5 sequence_delim: ";" sequence_pk: "user:s_pk"
        features { id_feature { feature_name: "a" expression: "item:a" num_buckets: 3
                                embedding_dim: 4 } }
        features { lookup_feature { feature_name: "l" map: "item:m" key: "user:k"
                                    value_dim: 2 } } } }
    feature_configs { id_feature { feature_name: "b" expression: "user:b" num_buckets: 3
                                   embedding_dim: 4 } })");
  const auto fg_json = CreateFgJson(FeaturePointers(built.features));
  ASSERT_EQ(fg_json["features"].size(), 2u);
  const auto& block = fg_json["features"][0];
  EXPECT_EQ(block["sequence_name"], "s");
  EXPECT_EQ(block["sequence_length"], 5);
  EXPECT_EQ(block["sequence_delim"], ";");
  EXPECT_EQ(block["sequence_pk"], "user:s_pk");
  ASSERT_EQ(block["features"].size(), 3u);  // a, the lookup stub, its raw feature
  EXPECT_EQ(block["features"][1]["feature_name"], "l__lookup");
  EXPECT_EQ(block["features"][2]["sequence_fields"], nlohmann::ordered_json({"l__lookup"}));
  EXPECT_EQ(block["features"][2]["feature_type"], "raw_feature");
  EXPECT_EQ(fg_json["features"][1]["feature_name"], "b");
}

TEST_F(FgJsonTest, WriteFgJsonCreatesParentDirs) {
  nlohmann::ordered_json doc;
  doc["features"] = nlohmann::ordered_json::array();
  WriteFgJson(doc, (dir_ / "x" / "y" / "fg.json").string());
  EXPECT_EQ(ReadTextFile(dir_ / "x" / "y" / "fg.json"), "{\n    \"features\": []\n}");
}

}  // namespace
}  // namespace tzrec
