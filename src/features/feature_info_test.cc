#include "features/feature_info.h"

#include <map>

#include <gtest/gtest.h>

#include "config/pipeline_config.h"
#include "config/test_util.h"

namespace tzrec {
namespace {

using testing::UpstreamConfigPath;

TEST(ListFeatures, CountsMatchFixtures) {
  // feature_configs / features after expanding sequence_feature (fixtures' README).
  const std::map<std::string, std::pair<int, size_t>> expected = {
      {"dbmtl_taobao_seq", {17, 19}}, {"deepfm_criteo", {39, 39}}, {"dssm_taobao", {17, 19}},
      {"multi_tower_din_taobao", {17, 19}}, {"mind_taobao", {19, 19}}, {"tdm_taobao", {19, 19}},
  };
  for (const auto& [name, counts] : expected) {
    SCOPED_TRACE(name);
    auto config = LoadPipelineConfig(UpstreamConfigPath(name));
    EXPECT_EQ(config.feature_configs_size(), counts.first);
    EXPECT_EQ(ListFeatures(config).size(), counts.second);
  }
}

TEST(ListFeatures, DescribesSupportedTypesThroughTheirFeatureClasses) {
  // A raw feature with boundaries is sparse, a lookup feature without buckets
  // is dense and value_dim wide: the feature classes' rules, not a copy.
  auto config = ParsePipelineConfigText(R"pb(
    feature_configs { raw_feature { feature_name: "price" expression: "item:price"
                                    boundaries: [1, 2, 3] embedding_dim: 8 } }
    feature_configs { lookup_feature { feature_name: "kv" map: "user:kv" key: "item:id"
                                       value_dim: 3 } }
    feature_configs { sequence_feature { sequence_name: "click" sequence_length: 5
      features { id_feature { feature_name: "id" expression: "item:id"
                              hash_bucket_size: 10 embedding_dim: 4 } } } }
  )pb", "test.config");
  const auto features = ListFeatures(config);
  ASSERT_EQ(features.size(), 3u);
  EXPECT_TRUE(features[0].is_sparse);
  EXPECT_EQ(features[0].output_dim, 8u);
  EXPECT_FALSE(features[1].is_sparse);
  EXPECT_EQ(features[1].output_dim, 3u);
  EXPECT_EQ(features[2].name, "click__id");
  EXPECT_TRUE(features[2].is_sequence);
  EXPECT_EQ(features[2].value_dim, 1u);
  EXPECT_EQ(features[2].output_dim, 4u);
}

}  // namespace
}  // namespace tzrec
