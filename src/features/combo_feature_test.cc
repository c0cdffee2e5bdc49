#include "features/combo_feature.h"

#include <gtest/gtest.h>

#include "common/error.h"
#include "features/feature_test_util.h"

namespace tzrec {
namespace {

using testing::Build;
using testing::FgText;

TEST(ComboFeatureTest, HashedCross) {
  const auto built = Build(R"(
    feature_configs { combo_feature { feature_name: "os_cate"
                                      expression: ["user:os", "item:cate"]
                                      hash_bucket_size: 1000 embedding_dim: 8 } })");
  const Feature& f = built[0];
  EXPECT_STREQ(f.type_name(), "ComboFeature");
  EXPECT_TRUE(f.is_sparse());
  EXPECT_EQ(f.num_embeddings(), 1000u);
  EXPECT_EQ(f.value_dim(), 0u);
  EXPECT_EQ(f.output_dim(), 8u);
  EXPECT_EQ(FgText(f), R"([
    {
        "feature_type": "combo_feature",
        "feature_name": "os_cate",
        "default_value": "",
        "expression": [
            "user:os",
            "item:cate"
        ],
        "value_type": "string",
        "need_prefix": false,
        "value_dim": 0,
        "hash_bucket_size": 1000
    }
])");
}

TEST(ComboFeatureTest, VocabListAndMissingSize) {
  const auto built = Build(R"(
    feature_configs { combo_feature { feature_name: "c" expression: ["user:a", "item:b"]
                                      vocab_list: ["a_b"] embedding_dim: 4 } }
    feature_configs { combo_feature { feature_name: "d" expression: ["user:a", "item:b"]
                                      embedding_dim: 4 } })");
  EXPECT_EQ(built[0].num_embeddings(), 3u);
  EXPECT_EQ(built[0].FgJson()[0]["vocab_list"], nlohmann::ordered_json({"", "<OOV>", "a_b"}));
  EXPECT_THROW(built[1].num_embeddings(), ConfigError);
}

TEST(ComboFeatureTest, NegativeSampledCrossGoesToCrossGroup) {
  protos::EasyRecConfig config = testing::ParseConfig(R"(
    feature_configs { combo_feature { feature_name: "c" expression: ["user:a", "item:b"]
                                      hash_bucket_size: 10 embedding_dim: 4 } }
    feature_configs { id_feature { feature_name: "b" expression: "item:b"
                                   hash_bucket_size: 10 embedding_dim: 4 } })");
  FeatureOptions options;
  options.fg_mode = protos::FG_DAG;
  const FeatureList features = CreateFeatures(config.feature_configs(), options, {"b"});
  EXPECT_TRUE(features[0]->is_neg());
  EXPECT_EQ(features[0]->data_group(), kCrossNegDataGroup);
  EXPECT_EQ(features[1]->data_group(), kNegDataGroup);
  const FeatureList forced = CreateFeatures(config.feature_configs(), options, {"b"}, true);
  EXPECT_EQ(forced[0]->data_group(), kBaseDataGroup);
}

}  // namespace
}  // namespace tzrec
