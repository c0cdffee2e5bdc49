#include "features/raw_feature.h"

#include <gtest/gtest.h>

#include "common/error.h"
#include "features/feature_test_util.h"

namespace tzrec {
namespace {

using testing::Build;
using testing::FgText;

TEST(RawFeatureTest, DenseValue) {
  const auto built = Build(R"(
    feature_configs { raw_feature { feature_name: "age" expression: "user:age" } })");
  const Feature& f = built[0];
  EXPECT_STREQ(f.type_name(), "RawFeature");
  EXPECT_TRUE(f.is_dense());
  EXPECT_FALSE(f.has_embedding());
  EXPECT_EQ(f.value_dim(), 1u);
  EXPECT_EQ(f.output_dim(), 1u);
  EXPECT_THROW(f.embedding_table(), Error);
  EXPECT_EQ(FgText(f), R"([
    {
        "feature_type": "raw_feature",
        "feature_name": "age",
        "default_value": "0",
        "expression": "user:age",
        "value_type": "float"
    }
])");
}

TEST(RawFeatureTest, BoundariesMakeItSparse) {
  const auto built = Build(R"(
    feature_configs { raw_feature { feature_name: "price" expression: "item:price"
                                    boundaries: [1.1, 15, 100] embedding_dim: 6 } })");
  const Feature& f = built[0];
  EXPECT_TRUE(f.is_sparse());
  EXPECT_EQ(f.num_embeddings(), 4u);
  EXPECT_EQ(f.output_dim(), 6u);
  EXPECT_EQ(f.embedding_table().name, "price_emb");
  EXPECT_EQ(FgText(f), R"([
    {
        "feature_type": "raw_feature",
        "feature_name": "price",
        "default_value": "0",
        "expression": "item:price",
        "value_type": "float",
        "boundaries": [
            1.100000023841858,
            15.0,
            100.0
        ]
    }
])");
}

TEST(RawFeatureTest, MultiDimNormalizerAndSeparator) {
  const auto built = Build(R"(
    feature_configs { raw_feature { feature_name: "emb" expression: "item:emb" value_dim: 3
                                    separator: "," normalizer: "method=log10" } })");
  const Feature& f = built[0];
  EXPECT_EQ(f.value_dim(), 3u);
  EXPECT_EQ(f.output_dim(), 3u);
  EXPECT_EQ(FgText(f), R"([
    {
        "feature_type": "raw_feature",
        "feature_name": "emb",
        "default_value": "0",
        "expression": "item:emb",
        "value_type": "float",
        "separator": ",",
        "value_dim": 3,
        "normalizer": "method=log10"
    }
])");
}

TEST(RawFeatureTest, DenseEmbeddingOutputDim) {
  const auto built = Build(R"(
    feature_configs { raw_feature { feature_name: "x" expression: "item:x" embedding_dim: 5
                                    autodis { num_channels: 3 } } }
    feature_configs { sequence_raw_feature { feature_name: "s" expression: "user:s"
                                             sequence_length: 10 embedding_dim: 5
                                             mlp {} } })");
  EXPECT_EQ(built[0].dense_embedding_type(), "autodis");
  EXPECT_TRUE(built[0].has_embedding());
  EXPECT_EQ(built[0].output_dim(), 5u);
  // Sequences carry no dense embedding.
  EXPECT_EQ(built[1].dense_embedding_type(), "");
  EXPECT_EQ(built[1].output_dim(), 1u);
  const auto entry = built[1].FgJson()[0];
  EXPECT_EQ(entry["feature_type"], "sequence_raw_feature");
  EXPECT_EQ(entry["sequence_delim"], ";");
  EXPECT_EQ(entry["sequence_length"], 10);
}

}  // namespace
}  // namespace tzrec
