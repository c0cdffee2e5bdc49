#include "features/match_feature.h"

#include <gtest/gtest.h>

#include "features/feature_test_util.h"

namespace tzrec {
namespace {

using testing::Build;
using testing::FgText;

TEST(MatchFeatureTest, NumericHit) {
  FeatureOptions dag;
  dag.fg_mode = protos::FG_DAG;
  const auto built = Build(R"(
    feature_configs { match_feature { feature_name: "m" nested_map: "user:cate_brand_click"
                                      pkey: "item:cate" skey: "item:brand" } })",
                           dag);
  const Feature& f = built[0];
  EXPECT_STREQ(f.type_name(), "MatchFeature");
  EXPECT_TRUE(f.is_dense());
  EXPECT_EQ(f.output_dim(), 1u);
  EXPECT_EQ(f.inputs(), (std::vector<std::string>{"cate_brand_click", "cate", "brand"}));
  EXPECT_FALSE(f.is_user_feature());
  EXPECT_EQ(FgText(f), R"([
    {
        "feature_type": "match_feature",
        "feature_name": "m",
        "user": "user:cate_brand_click",
        "category": "item:cate",
        "item": "item:brand",
        "matchType": "hit",
        "default_value": "0",
        "value_type": "float",
        "needDiscrete": false,
        "show_category": false,
        "show_item": false
    }
])");
}

TEST(MatchFeatureTest, WildcardAndVocabList) {
  FeatureOptions dag;
  dag.fg_mode = protos::FG_DAG;
  const auto built = Build(R"(
    feature_configs { match_feature { feature_name: "m" nested_map: "user:nm" pkey: "ALL"
                                      skey: "item:brand" vocab_list: ["a", "b"]
                                      embedding_dim: 4 } })",
                           dag);
  const Feature& f = built[0];
  EXPECT_TRUE(f.is_sparse());
  // Upstream sizes a match vocabulary one row beyond its numbered entries.
  EXPECT_EQ(f.num_embeddings(), 5u);
  EXPECT_EQ(f.inputs(), (std::vector<std::string>{"nm", "brand"}));
  EXPECT_EQ(FgText(f), R"([
    {
        "feature_type": "match_feature",
        "feature_name": "m",
        "user": "user:nm",
        "category": "ALL",
        "item": "item:brand",
        "matchType": "multihit",
        "default_value": "0",
        "value_type": "string",
        "needDiscrete": true,
        "show_category": false,
        "show_item": false,
        "vocab_list": [
            "0",
            "<OOV>",
            "a",
            "b"
        ],
        "default_bucketize_value": 1,
        "value_dim": 1
    }
])");
}

TEST(MatchFeatureTest, BoundariesSize) {
  const auto built = Build(R"(
    feature_configs { match_feature { feature_name: "m" nested_map: "user:nm" pkey: "item:c"
                                      skey: "ALL" boundaries: [1, 2, 3] embedding_dim: 4 } })");
  EXPECT_EQ(built[0].num_embeddings(), 4u);
  EXPECT_FALSE(built[0].FgJson()[0].contains("value_dim"));
}

}  // namespace
}  // namespace tzrec
