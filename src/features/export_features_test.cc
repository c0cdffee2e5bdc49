#include "features/export_features.h"

#include <gtest/gtest.h>

#include "common/error.h"
#include "features/feature_test_util.h"

namespace tzrec {
namespace {

using testing::ParseConfig;

std::vector<std::string> Names(const std::vector<const Feature*>& features) {
  std::vector<std::string> names;
  for (const Feature* f : features) names.push_back(f->name());
  return names;
}

constexpr char kFeatures[] = R"(
  feature_configs { id_feature { feature_name: "u" expression: "user:u" num_buckets: 3
                                 embedding_dim: 4 } }
  feature_configs { id_feature { feature_name: "i" expression: "item:i" num_buckets: 3
                                 embedding_dim: 4 } }
  feature_configs { sequence_feature { sequence_name: "s" sequence_length: 3
      features { id_feature { feature_name: "i" expression: "item:i" num_buckets: 3
                              embedding_dim: 4 } } } }
  feature_configs { raw_feature { feature_name: "p" expression: "item:p" } })";

TEST(ExportFeaturesTest, RankModelExportsEverything) {
  const auto config = ParseConfig(std::string(kFeatures) + R"(
    model_config { feature_groups { group_name: "all" feature_names: ["u", "i"] }
                   deepfm {} })");
  const FeatureList features = CreateFeatures(config);
  const auto sets = ExportFeatureSets(config.model_config(), FeaturePointers(features));
  ASSERT_EQ(sets.size(), 1u);
  EXPECT_EQ(sets[0].subdir, "");
  EXPECT_EQ(Names(sets[0].features), (std::vector<std::string>{"u", "i", "s__i", "p"}));
}

TEST(ExportFeaturesTest, DssmTowersFollowGroups) {
  const auto config = ParseConfig(std::string(kFeatures) + R"(
    model_config {
      feature_groups { group_name: "user" feature_names: ["u", "s__i"]
                       sequence_groups { group_name: "sg" feature_names: ["s__i", "i"] } }
      feature_groups { group_name: "item" feature_names: ["p", "i"] }
      dssm { user_tower { input: "user" } item_tower { input: "item" } output_dim: 8 } })");
  const FeatureList features = CreateFeatures(config);
  const auto sets = ExportFeatureSets(config.model_config(), FeaturePointers(features));
  ASSERT_EQ(sets.size(), 2u);
  EXPECT_EQ(sets[0].subdir, "user");
  EXPECT_EQ(Names(sets[0].features), (std::vector<std::string>{"u", "s__i", "i"}));
  EXPECT_EQ(sets[1].subdir, "item");
  EXPECT_EQ(Names(sets[1].features), (std::vector<std::string>{"p", "i"}));
}

TEST(ExportFeaturesTest, MindUserTowerAppendsHistory) {
  const auto config = ParseConfig(std::string(kFeatures) + R"(
    model_config {
      feature_groups { group_name: "user" feature_names: ["u", "i"] }
      feature_groups { group_name: "hist" feature_names: ["s__i", "i"] group_type: SEQUENCE }
      feature_groups { group_name: "item" feature_names: ["i"] }
      mind { user_tower { input: "user" history_input: "hist" user_mlp {} }
             item_tower { input: "item" } output_dim: 8 } })");
  const FeatureList features = CreateFeatures(config);
  const auto pointers = FeaturePointers(features);
  // Concatenated as is: "i" appears in both groups and twice in the tower.
  EXPECT_EQ(Names(SelectTowerFeatures(config.model_config(), pointers, "user")),
            (std::vector<std::string>{"u", "i", "s__i", "i"}));
  EXPECT_EQ(Names(SelectTowerFeatures(config.model_config(), pointers, "item")),
            (std::vector<std::string>{"i"}));
}

TEST(ExportFeaturesTest, TdmEmbeddingTakesNonSequenceFeaturesOfFirstSequenceGroup) {
  const auto config = ParseConfig(std::string(kFeatures) + R"(
    model_config {
      feature_groups { group_name: "seq" feature_names: ["s__i", "p", "i"] group_type: SEQUENCE }
      feature_groups { group_name: "user" feature_names: ["u"] }
      tdm {} })");
  const FeatureList features = CreateFeatures(config);
  const auto sets = ExportFeatureSets(config.model_config(), FeaturePointers(features));
  ASSERT_EQ(sets.size(), 2u);
  EXPECT_EQ(sets[0].subdir, "embedding");
  EXPECT_EQ(Names(sets[0].features), (std::vector<std::string>{"p", "i"}));
  EXPECT_EQ(sets[1].subdir, "model");
  EXPECT_EQ(sets[1].features.size(), 4u);
}

TEST(ExportFeaturesTest, UnknownGroupOrFeatureIsAConfigError) {
  const auto config = ParseConfig(std::string(kFeatures) + R"(
    model_config {
      feature_groups { group_name: "user" feature_names: ["nope"] }
      dssm { user_tower { input: "user" } item_tower { input: "missing" } output_dim: 8 } })");
  const FeatureList features = CreateFeatures(config);
  const auto pointers = FeaturePointers(features);
  EXPECT_THROW(SelectTowerFeatures(config.model_config(), pointers, "user"), ConfigError);
  EXPECT_THROW(SelectTowerFeatures(config.model_config(), pointers, "item"), ConfigError);
}

}  // namespace
}  // namespace tzrec
