#include "features/feature_factory.h"

#include <gtest/gtest.h>

#include "common/error.h"
#include "features/feature_test_util.h"

namespace tzrec {
namespace {

using testing::Build;
using testing::FgText;
using testing::ParseConfig;

constexpr char kGroupedSequence[] = R"(
  feature_configs { id_feature { feature_name: "uid" expression: "user:uid" num_buckets: 10
                                 embedding_dim: 4 } }
  feature_configs { sequence_feature {
      sequence_name: "click_seq" sequence_length: 20 sequence_delim: "|"
      features { id_feature { feature_name: "item_id" expression: "item:item_id"
                              num_buckets: 100 embedding_dim: 8 } }
      features { raw_feature { feature_name: "price" expression: "item:price" } }
      features { id_feature { feature_name: "uage" expression: "user:age" num_buckets: 5
                              embedding_dim: 4 sequence_fields: ["other"] } } } }
  feature_configs { raw_feature { feature_name: "age" expression: "user:age" } })";

TEST(FeatureFactoryTest, GroupedSequenceExpandsInPlace) {
  FeatureOptions dag;
  dag.fg_mode = protos::FG_DAG;
  const auto built = Build(kGroupedSequence, dag);
  ASSERT_EQ(built.features.size(), 5u);
  std::vector<std::string> names;
  for (const auto& f : built.features) names.push_back(f->name());
  EXPECT_EQ(names, (std::vector<std::string>{"uid", "click_seq__item_id", "click_seq__price",
                                             "click_seq__uage", "age"}));
  const Feature& item = built[1];
  EXPECT_TRUE(item.is_grouped_sequence());
  EXPECT_EQ(item.feature_name(), "item_id");
  EXPECT_EQ(item.sequence_group()->pk, "user:click_seq");
  EXPECT_EQ(item.sequence_delim(), "|");
  EXPECT_EQ(item.sequence_length(), 20u);
  EXPECT_EQ(item.value_dim(), 1u);
  EXPECT_EQ(item.embedding_table().name, "click_seq__item_id_emb");
  EXPECT_EQ(item.values_key(), "click_seq__item_id.values");
  // Sequence inputs of a grouped sub-feature carry the group prefix.
  EXPECT_EQ(item.inputs(), std::vector<std::string>{"click_seq__item_id"});
  EXPECT_TRUE(item.is_user_feature());
  // sequence_fields decides which inputs are sequences.
  EXPECT_EQ(built[3].inputs(), std::vector<std::string>{"age"});
  EXPECT_EQ(built[2].default_value(), "0");
  // The grouped sub-feature's own fg entry is not renamed.
  EXPECT_EQ(built[1].FgJson()[0]["feature_type"], "id_feature");
  EXPECT_EQ(built[3].FgJson()[0]["sequence_fields"], nlohmann::ordered_json({"other"}));
}

TEST(FeatureFactoryTest, UnsupportedTypeNamesFeatureAndType) {
  const auto config = ParseConfig(R"(
    feature_configs { id_feature { feature_name: "a" expression: "user:a" num_buckets: 3
                                   embedding_dim: 4 } }
    feature_configs { tokenize_feature { feature_name: "title_tok" expression: "item:title"
                                         embedding_dim: 4 vocab_file: "v.json" } })");
  try {
    CreateFeatures(config.feature_configs(), FeatureOptions{});
    FAIL() << "expected a ConfigError";
  } catch (const ConfigError& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find("feature_configs[1]"), std::string::npos) << message;
    EXPECT_NE(message.find("title_tok"), std::string::npos) << message;
    EXPECT_NE(message.find("tokenize_feature is not supported"), std::string::npos) << message;
  }
  for (const char* text : {
           R"(feature_configs { combine_feature { feature_name: "x" expression: "user:x" } })",
           R"(feature_configs { custom_feature { feature_name: "x" operator_name: "o"
                                                 operator_lib_file: "l.so" } })",
           R"(feature_configs { bool_mask_feature { feature_name: "x" embedding_dim: 4 } })",
           R"(feature_configs { kv_dot_product { feature_name: "x" query: "user:q"
                                                 document: "item:d" } })",
           R"(feature_configs { overlap_feature { feature_name: "x" query: "user:q"
                                                  title: "item:t" method: "is_equal" } })",
           R"(feature_configs { sequence_feature { sequence_name: "s" sequence_length: 3
               features { combine_feature { feature_name: "x" expression: "item:x" } } } })",
           R"(feature_configs { })",
       }) {
    SCOPED_TRACE(text);
    EXPECT_THROW(CreateFeatures(ParseConfig(text).feature_configs(), FeatureOptions{}),
                 ConfigError);
  }
}

TEST(FeatureFactoryTest, DagInputsResolveUserSide) {
  FeatureOptions dag;
  dag.fg_mode = protos::FG_DAG;
  const auto built = Build(R"(
    feature_configs { raw_feature { feature_name: "u" expression: "user:x" stub_type: true } }
    feature_configs { raw_feature { feature_name: "from_u" expression: "feature:u" } }
    feature_configs { raw_feature { feature_name: "i" expression: "item:y" } }
    feature_configs { expr_feature { feature_name: "mix" expression: "u+i"
                                     variables: ["feature:u", "feature:i"] } })",
                           dag);
  EXPECT_TRUE(built[0].is_user_feature());
  EXPECT_TRUE(built[0].stub_type());
  EXPECT_TRUE(built[1].is_user_feature());
  EXPECT_FALSE(built[2].is_user_feature());
  EXPECT_FALSE(built[3].is_user_feature());
}

TEST(FeatureFactoryTest, PipelineConfigOptions) {
  const auto config = ParseConfig(R"(
    data_config { fg_mode: FG_DAG fg_encoded_multival_sep: "|"
                  negative_sampler { input_path: "p" num_sample: 2 attr_fields: ["item_id"]
                                     item_id_field: "item_id" } }
    feature_configs { id_feature { feature_name: "item_id" expression: "item:item_id"
                                   num_buckets: 3 embedding_dim: 4 } }
    feature_configs { id_feature { feature_name: "uid" expression: "user:uid"
                                   num_buckets: 3 embedding_dim: 4 } })");
  const FeatureList features = CreateFeatures(config);
  EXPECT_EQ(features[0]->options().fg_mode, protos::FG_DAG);
  EXPECT_EQ(features[0]->options().fg_encoded_multival_sep, "|");
  EXPECT_TRUE(features[0]->is_neg());
  EXPECT_FALSE(features[1]->is_neg());

  const auto tdm = ParseConfig(R"(
    data_config { fg_mode: FG_DAG
                  tdm_sampler { item_input_path: "i" edge_input_path: "e"
                                predict_edge_input_path: "p" attr_fields: ["item_id"]
                                item_id_field: "item_id" layer_num_sample: [1] } }
    feature_configs { id_feature { feature_name: "item_id" expression: "item:item_id"
                                   num_buckets: 3 embedding_dim: 4 } })");
  EXPECT_FALSE(CreateFeatures(tdm)[0]->is_neg());
}

TEST(FeatureFactoryTest, FindFeature) {
  const auto built = Build(kGroupedSequence);
  const auto pointers = FeaturePointers(built.features);
  EXPECT_EQ(&FindFeature(pointers, "click_seq__price", "test"), built.features[2].get());
  EXPECT_THROW(FindFeature(pointers, "price", "test"), ConfigError);
}

}  // namespace
}  // namespace tzrec
