#include "features/lookup_feature.h"

#include <gtest/gtest.h>

#include "features/feature_test_util.h"

namespace tzrec {
namespace {

using testing::Build;
using testing::FgText;

TEST(LookupFeatureTest, NumericLookupIsDense) {
  const auto built = Build(R"(
    feature_configs { lookup_feature { feature_name: "cate_click" map: "user:kv_cate_click"
                                       key: "item:cate" } })");
  const Feature& f = built[0];
  EXPECT_STREQ(f.type_name(), "LookupFeature");
  EXPECT_TRUE(f.is_dense());
  EXPECT_EQ(f.output_dim(), 1u);
  EXPECT_EQ(FgText(f), R"([
    {
        "feature_type": "lookup_feature",
        "feature_name": "cate_click",
        "map": "user:kv_cate_click",
        "key": "item:cate",
        "default_value": "0",
        "value_type": "float",
        "needDiscrete": false,
        "needKey": false,
        "combiner": "sum"
    }
])");
}

TEST(LookupFeatureTest, HashedLookupIsSparseAndDiscrete) {
  const auto built = Build(R"(
    feature_configs { lookup_feature { feature_name: "l" map: "user:m" key: "item:k"
                                       hash_bucket_size: 10 embedding_dim: 4 combiner: "MEAN" } })");
  const Feature& f = built[0];
  EXPECT_TRUE(f.is_sparse());
  EXPECT_EQ(f.num_embeddings(), 10u);
  EXPECT_EQ(FgText(f), R"([
    {
        "feature_type": "lookup_feature",
        "feature_name": "l",
        "map": "user:m",
        "key": "item:k",
        "default_value": "0",
        "value_type": "string",
        "needDiscrete": true,
        "needKey": false,
        "combiner": "",
        "hash_bucket_size": 10,
        "value_dim": 1
    }
])");
}

TEST(LookupFeatureTest, BoundariesAndDefaultSize) {
  const auto built = Build(R"(
    feature_configs { lookup_feature { feature_name: "l" map: "user:m" key: "item:k"
                                       boundaries: [0.5, 2] embedding_dim: 4 } })");
  EXPECT_TRUE(built[0].is_sparse());
  EXPECT_EQ(built[0].num_embeddings(), 3u);
  const auto entry = built[0].FgJson()[0];
  EXPECT_EQ(entry["combiner"], "sum");
  EXPECT_FALSE(entry.contains("value_dim"));
  EXPECT_EQ(entry["boundaries"], nlohmann::ordered_json({0.5, 2.0}));
}

TEST(LookupFeatureTest, MultiDimValueBecomesStubPlusRaw) {
  const auto built = Build(R"(
    feature_configs { lookup_feature { feature_name: "vec" map: "item:m" key: "user:k"
                                       value_dim: 2 normalizer: "method=log10" } })");
  EXPECT_EQ(built[0].output_dim(), 2u);
  EXPECT_EQ(FgText(built[0]), R"([
    {
        "feature_type": "lookup_feature",
        "feature_name": "vec__lookup",
        "map": "item:m",
        "key": "user:k",
        "default_value": "0,0",
        "value_type": "string",
        "needDiscrete": true,
        "needKey": false,
        "combiner": "",
        "value_dim": 1,
        "stub_type": true
    },
    {
        "feature_type": "raw_feature",
        "feature_name": "vec",
        "default_value": "0",
        "expression": "feature:vec__lookup",
        "separator": ",",
        "value_dim": 2,
        "value_type": "float",
        "normalizer": "method=log10"
    }
])");
}

}  // namespace
}  // namespace tzrec
