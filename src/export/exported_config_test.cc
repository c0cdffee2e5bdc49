#include "export/exported_config.h"

#include <filesystem>

#include <gmock/gmock.h>
#include <google/protobuf/text_format.h>
#include <gtest/gtest.h>

#include "common/test_support.h"
#include "features/feature_factory.h"
#include "features/fg_json.h"

namespace tzrec::exporting {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using testing::ReadTextFile;
using testing::ScratchDir;
using testing::WriteTextFile;

protos::EasyRecConfig Parse(const std::string& text) {
  protos::EasyRecConfig config;
  google::protobuf::TextFormat::Parser parser;
  parser.AllowPartialMessage(true);
  EXPECT_TRUE(parser.ParseFromString(text, &config));
  return config;
}

class ExportedConfigTest : public ::testing::Test {
 protected:
  void SetUp() override {
    vocab_path_ = dir_ / "assets/cat.vocab.txt";
    WriteTextFile(vocab_path_, "red\ngreen\nblue\n");
    config_ = Parse(R"(
      model_dir: "experiments/m"
      feature_configs { id_feature { feature_name: "user_id" expression: "user:user_id"
                                     hash_bucket_size: 100 embedding_dim: 8 } }
      feature_configs { id_feature { feature_name: "color" expression: "item:color"
                                     vocab_file: ")" + vocab_path_ + R"("
                                     default_bucketize_value: 0 embedding_dim: 4 } }
      feature_configs { raw_feature { feature_name: "price" expression: "item:price" } }
      feature_configs { sequence_feature {
        sequence_name: "click_seq" sequence_length: 50 sequence_delim: "|"
        features { id_feature { feature_name: "item_id" expression: "item:item_id"
                                hash_bucket_size: 1000 embedding_dim: 8 } }
        features { raw_feature { feature_name: "ts" expression: "item:ts" } }
      } }
    )");
    features_ = CreateFeatures(config_.feature_configs(), FeatureOptions{});
  }

  const Feature* Find(const std::string& name) const {
    for (const auto& feature : features_) {
      if (feature->name() == name) return feature.get();
    }
    ADD_FAILURE() << "no feature " << name;
    return nullptr;
  }

  ScratchDir dir_;
  std::string vocab_path_;
  protos::EasyRecConfig config_;
  FeatureList features_;
};

TEST_F(ExportedConfigTest, KeepsExportOrderAndRegroupsSequences) {
  const std::vector<const Feature*> selected = {Find("click_seq__ts"), Find("price"),
                                                Find("click_seq__item_id")};
  const protos::EasyRecConfig exported =
      ExportedPipelineConfig(config_, selected, dir_ / "staging", "/final/export");
  EXPECT_EQ(exported.model_dir(), "experiments/m");
  ASSERT_EQ(exported.feature_configs_size(), 2);
  ASSERT_TRUE(exported.feature_configs(0).has_sequence_feature());
  const auto& sequence = exported.feature_configs(0).sequence_feature();
  EXPECT_EQ(sequence.sequence_name(), "click_seq");
  EXPECT_EQ(sequence.sequence_length(), 50u);
  EXPECT_EQ(sequence.sequence_delim(), "|");
  EXPECT_EQ(sequence.sequence_pk(), "user:click_seq");
  ASSERT_EQ(sequence.features_size(), 2);
  EXPECT_EQ(sequence.features(0).raw_feature().feature_name(), "ts");
  EXPECT_EQ(sequence.features(1).id_feature().feature_name(), "item_id");
  EXPECT_EQ(exported.feature_configs(1).raw_feature().feature_name(), "price");
  // The original is untouched.
  EXPECT_EQ(config_.feature_configs_size(), 4);
}

TEST_F(ExportedConfigTest, AssetsAreCopiedUnderTheirMd5AndTheEntryPointsAtTheCopy) {
  const std::vector<const Feature*> selected = {Find("user_id"), Find("color")};
  const std::string staging = (dir_.path() / "staging").string();
  const protos::EasyRecConfig exported =
      ExportedPipelineConfig(config_, selected, staging, "/final/export");
  ASSERT_EQ(exported.feature_configs_size(), 2);
  const auto& color = exported.feature_configs(1).id_feature();
  const std::string expected_name = "cat.vocab_" + Md5HexOfFile(vocab_path_) + ".txt";
  EXPECT_EQ(color.vocab_file(), expected_name);
  EXPECT_EQ(color.asset_dir(), "/final/export");
  EXPECT_EQ(ReadTextFile(staging + "/" + expected_name), "red\ngreen\nblue\n");
  EXPECT_FALSE(exported.feature_configs(0).id_feature().has_asset_dir());
}

}  // namespace
}  // namespace tzrec::exporting
