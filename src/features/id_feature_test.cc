#include "features/id_feature.h"

#include <gtest/gtest.h>

#include "common/error.h"
#include "features/feature_test_util.h"

namespace tzrec {
namespace {

using testing::Build;
using testing::FgText;

TEST(IdFeatureTest, HashBucketTableAndFgEntry) {
  const auto built = Build(R"(
    feature_configs { id_feature { feature_name: "cate" expression: "item:cate"
                                   hash_bucket_size: 100 embedding_dim: 8 } })");
  const Feature& f = built[0];
  EXPECT_STREQ(f.type_name(), "IdFeature");
  EXPECT_EQ(f.name(), "cate");
  EXPECT_TRUE(f.is_sparse());
  EXPECT_FALSE(f.is_sequence());
  EXPECT_FALSE(f.is_weighted());
  EXPECT_EQ(f.value_dim(), 0u);
  EXPECT_EQ(f.output_dim(), 8u);
  const EmbeddingTable table = f.embedding_table();
  EXPECT_EQ(table.name, "cate_emb");
  EXPECT_EQ(table.num_embeddings, 100u);
  EXPECT_EQ(table.embedding_dim, 8u);
  EXPECT_EQ(table.pooling, Pooling::kSum);
  EXPECT_EQ(f.values_key(), "cate.values");
  EXPECT_EQ(f.lengths_key(), "cate.lengths");
  EXPECT_EQ(FgText(f), R"([
    {
        "feature_type": "id_feature",
        "feature_name": "cate",
        "default_value": "",
        "expression": "item:cate",
        "value_type": "string",
        "need_prefix": false,
        "hash_bucket_size": 100,
        "value_dim": 0
    }
])");
}

TEST(IdFeatureTest, InputsDependOnFgMode) {
  FeatureOptions dag;
  dag.fg_mode = protos::FG_DAG;
  const auto encoded = Build(R"(
    feature_configs { id_feature { feature_name: "uid" expression: "user:user_id"
                                   num_buckets: 10 embedding_dim: 4 } })");
  EXPECT_EQ(encoded[0].inputs(), std::vector<std::string>{"uid"});
  const auto raw = Build(encoded.config.DebugString(), dag);
  EXPECT_EQ(raw[0].inputs(), std::vector<std::string>{"user_id"});
  EXPECT_EQ(raw[0].side_inputs(), (std::vector<FeatureInput>{{"user", "user_id"}}));
  EXPECT_TRUE(raw[0].is_user_feature());
}

TEST(IdFeatureTest, SharedEmbeddingNameAndMeanPooling) {
  const auto built = Build(R"(
    feature_configs { id_feature { feature_name: "a" expression: "item:a" num_buckets: 7
                                   embedding_dim: 4 embedding_name: "shared" pooling: "MEAN" } })");
  const EmbeddingTable table = built[0].embedding_table();
  EXPECT_EQ(table.name, "shared");
  EXPECT_EQ(table.num_embeddings, 7u);
  EXPECT_EQ(table.pooling, Pooling::kMean);
}

TEST(IdFeatureTest, VocabListGetsDefaultAndOovRows) {
  const auto built = Build(R"(
    feature_configs { id_feature { feature_name: "c" expression: "item:c" embedding_dim: 4
                                   vocab_list: ["x", "y", "z"] } })");
  EXPECT_EQ(built[0].num_embeddings(), 5u);
  const auto entry = built[0].FgJson()[0];
  EXPECT_EQ(entry["vocab_list"], nlohmann::ordered_json({"", "<OOV>", "x", "y", "z"}));
  EXPECT_EQ(entry["default_bucketize_value"], 1);
}

TEST(IdFeatureTest, VocabListWithDefaultBucketizeValueIsKeptAsIs) {
  const auto built = Build(R"(
    feature_configs { id_feature { feature_name: "c" expression: "item:c" embedding_dim: 4
                                   vocab_list: ["x", "y"] default_bucketize_value: 1 } })");
  EXPECT_EQ(built[0].num_embeddings(), 2u);
  const auto entry = built[0].FgJson()[0];
  EXPECT_EQ(entry["vocab_list"], nlohmann::ordered_json({"x", "y"}));
  EXPECT_EQ(entry["default_bucketize_value"], 1);
  EXPECT_THROW(Build(R"(
    feature_configs { id_feature { feature_name: "c" expression: "item:c" embedding_dim: 4
                                   vocab_list: ["x", "y"] default_bucketize_value: 2 } })"),
               ConfigError);
}

TEST(IdFeatureTest, VocabDictKeepsConfigOrderAndMapsDefaultToZero) {
  const auto built = Build(R"(
    feature_configs { id_feature { feature_name: "c" expression: "item:c" embedding_dim: 4
                                   default_value: "none"
                                   vocab_dict { key: "zeta" value: 5 }
                                   vocab_dict { key: "alpha" value: 2 }
                                   vocab_dict { key: "mid" value: 3 } } })");
  EXPECT_EQ(built[0].num_embeddings(), 6u);
  const std::string text = FgText(built[0]);
  EXPECT_NE(text.find(R"("vocab_dict": {
            "zeta": 5,
            "alpha": 2,
            "mid": 3,
            "none": 0
        },
        "default_bucketize_value": 1,)"),
            std::string::npos)
      << text;
}

TEST(IdFeatureTest, WeightedSeparatorValueTypeAndStub) {
  const auto built = Build(R"(
    feature_configs { id_feature { feature_name: "tags" expression: "user:tags"
                                   hash_bucket_size: 10 embedding_dim: 4 weighted: true
                                   separator: "|" fg_value_type: "int64" stub_type: false } })");
  EXPECT_TRUE(built[0].is_weighted());
  EXPECT_EQ(built[0].weights_key(), "tags.weights");
  EXPECT_EQ(FgText(built[0]), R"([
    {
        "feature_type": "id_feature",
        "feature_name": "tags",
        "default_value": "",
        "expression": "user:tags",
        "value_type": "int64",
        "need_prefix": false,
        "separator": "|",
        "hash_bucket_size": 10,
        "weighted": true,
        "value_dim": 0,
        "stub_type": false
    }
])");
}

TEST(IdFeatureTest, StandaloneSequenceIdFeature) {
  const auto built = Build(R"(
    feature_configs { sequence_id_feature { feature_name: "click_seq" expression: "user:click_seq"
                                            sequence_length: 50 sequence_delim: ";"
                                            num_buckets: 100 embedding_dim: 8 } })");
  const Feature& f = built[0];
  EXPECT_TRUE(f.is_sequence());
  EXPECT_FALSE(f.is_grouped_sequence());
  EXPECT_EQ(f.value_dim(), 1u);
  EXPECT_EQ(f.default_value(), "0");
  EXPECT_EQ(f.sequence_length(), 50u);
  EXPECT_EQ(FgText(f), R"([
    {
        "feature_type": "sequence_id_feature",
        "feature_name": "click_seq",
        "default_value": "0",
        "expression": "user:click_seq",
        "value_type": "string",
        "need_prefix": false,
        "num_buckets": 100,
        "value_dim": 1,
        "sequence_delim": ";",
        "sequence_length": 50
    }
])");
}

TEST(IdFeatureTest, ZeroCollisionHashUsesMaxBucketInFg) {
  const auto built = Build(R"(
    feature_configs { id_feature { feature_name: "c" expression: "item:c" embedding_dim: 4
                                   hash_bucket_size: 10 zch { zch_size: 1000 lfu {} } } })");
  EXPECT_EQ(built[0].num_embeddings(), 1000u);
  EXPECT_EQ(built[0].FgJson()[0]["hash_bucket_size"], kMaxHashBucketSize);
}

TEST(IdFeatureTest, MissingSizeOrDimIsAConfigError) {
  const auto no_size = Build(R"(
    feature_configs { id_feature { feature_name: "c" expression: "item:c" embedding_dim: 4 } })");
  EXPECT_THROW(no_size[0].num_embeddings(), ConfigError);
  const auto no_dim = Build(R"(
    feature_configs { id_feature { feature_name: "c" expression: "item:c" num_buckets: 3 } })");
  EXPECT_THROW(no_dim[0].embedding_table(), ConfigError);
  const auto bad_pooling = Build(R"(
    feature_configs { id_feature { feature_name: "c" expression: "item:c" num_buckets: 3
                                   embedding_dim: 4 pooling: "max" } })");
  EXPECT_THROW(bad_pooling[0].pooling(), ConfigError);
}

TEST(IdFeatureTest, VocabFileNeedsDefaultBucketizeValue) {
  EXPECT_THROW(Build(R"(
    feature_configs { id_feature { feature_name: "c" expression: "item:c" embedding_dim: 4
                                   vocab_file: "vocab.txt" } })"),
               ConfigError);
}

TEST(IdFeatureTest, BadInputNameIsAConfigError) {
  FeatureOptions dag;
  dag.fg_mode = protos::FG_DAG;
  const auto built = Build(R"(
    feature_configs { id_feature { feature_name: "c" expression: "cate" num_buckets: 3
                                   embedding_dim: 4 } })",
                           dag);
  EXPECT_THROW(built[0].side_inputs(), ConfigError);
}

}  // namespace
}  // namespace tzrec
