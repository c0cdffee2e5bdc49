#include "data/negative_sampler.h"

#include <map>

#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "common/error.h"
#include "common/test_support.h"
#include "config/pipeline_config.h"
#include "data/batch_iterator.h"
#include "data/data_options.h"
#include "features/feature_factory.h"
#include "features/fg/fg_spec.h"
#include "features/fg_json.h"

namespace tzrec::data {
namespace {

using ::testing::HasSubstr;

class NegativeSamplerTest : public ::testing::Test {
 protected:
  std::string Write(const std::string& name, const std::string& text) {
    testing::WriteTextFile(dir_ / name, text);
    return dir_ / name;
  }
  protos::NegativeSampler Config(const std::string& path, int num_sample) {
    protos::NegativeSampler config;
    config.set_input_path(path);
    config.set_num_sample(num_sample);
    config.set_item_id_field("item_id");
    config.add_attr_fields("item_id");
    config.add_attr_fields("cate");
    return config;
  }
  // Draw counts per item id over `rounds` batches whose own items are `batch_ids`.
  std::map<std::string, int> Draws(NegativeSampler& sampler, const std::vector<std::string_view>& batch_ids,
                                   int rounds) {
    std::mt19937_64 rng(7);
    RowBatch rows;
    std::map<std::string, int> counts;
    for (int i = 0; i < rounds; ++i) {
      sampler.Sample(batch_ids, rng, &rows);
      EXPECT_EQ(rows.num_rows, sampler.num_sample());
      EXPECT_EQ(rows.column_names, (std::vector<std::string>{"item_id", "cate"}));
      for (int64_t r = 0; r < rows.num_rows; ++r) ++counts[std::string(rows.Field(r, 0))];
    }
    return counts;
  }
  testing::ScratchDir dir_;
};

// Upstream's table: a typed header, then id, weight, attrs joined by ':'.
const char kTable[] =
    "id:int64\tweight:float\tattrs:string\n"
    "1\t1\t1:c1\n"
    "2\t3\t2:c2\n"
    "3\t0\t3:c3\n"
    "4\t4\t4:c4\n";

TEST_F(NegativeSamplerTest, DrawsItemsByWeightWithTheirAttrs) {
  NegativeSampler sampler(Config(Write("items", kTable), 8), /*for_eval=*/false);
  EXPECT_EQ(sampler.num_items(), 4);
  std::map<std::string, int> counts = Draws(sampler, {}, 500);  // 4000 draws
  EXPECT_EQ(counts.count("3"), 0u) << "weight 0 is never drawn";
  // Expected 500, 1500, 2000: a wide band (tens of standard deviations apart).
  EXPECT_GT(counts["1"], 300);
  EXPECT_LT(counts["1"], 700);
  EXPECT_GT(counts["2"], 1200);
  EXPECT_LT(counts["2"], 1800);
  EXPECT_GT(counts["4"], 1700);
  std::mt19937_64 rng(1);
  RowBatch rows;
  sampler.Sample({}, rng, &rows);
  for (int64_t r = 0; r < rows.num_rows; ++r) {
    EXPECT_EQ("c" + std::string(rows.Field(r, 0)), std::string(rows.Field(r, 1)));
  }
}

TEST_F(NegativeSamplerTest, AvoidsTheBatchsOwnItems) {
  NegativeSampler sampler(Config(Write("items", kTable), 8), false);
  std::map<std::string, int> counts = Draws(sampler, {"4", "2"}, 200);
  // Item 1 has weight 1/8; a batch item is kept only after 5 redraws drew
  // batch items too ((7/8)^6 = 0.45 of draws), so item 1 gets ~55% of 1600
  // draws instead of 12.5%.
  EXPECT_GT(counts["1"], 700);
  // A table of only batch items still yields negatives.
  std::map<std::string, int> all = Draws(sampler, {"1", "2", "4"}, 10);
  EXPECT_EQ(all["1"] + all["2"] + all["4"], 80);
}

TEST_F(NegativeSamplerTest, EvalUsesNumEvalSample) {
  auto config = Config(Write("items", kTable), 8);
  EXPECT_EQ(NegativeSampler(config, /*for_eval=*/true).num_sample(), 8);
  config.set_num_eval_sample(3);
  EXPECT_EQ(NegativeSampler(config, true).num_sample(), 3);
  EXPECT_EQ(NegativeSampler(config, false).num_sample(), 8);
}

TEST_F(NegativeSamplerTest, BadTablesNameFileLineAndValue) {
  auto expect_error = [&](const std::string& text, const std::string& what) {
    try {
      NegativeSampler(Config(Write("bad", text), 2), false);
      ADD_FAILURE() << "no error for " << what;
    } catch (const ConfigError& e) {
      EXPECT_THAT(e.what(), HasSubstr(what));
    }
  };
  expect_error("1\t1\t1:c1\n2\t1\t2\n", "bad:2: 1 attrs, but negative_sampler.attr_fields names 2");
  expect_error("1\tx\t1:c1\n", "bad:1: weight 'x' is not a number >= 0");
  expect_error("1\t1\n", "bad:1: 2 fields");
  expect_error("id:int64\tweight:float\tattrs:string\n", "has no items");
  expect_error("1\t0\t1:c\n", "every item has weight 0");
  try {
    NegativeSampler(Config("odps://project/tables/items", 2), false);
    ADD_FAILURE() << "odps accepted";
  } catch (const ConfigError& e) {
    EXPECT_THAT(e.what(), HasSubstr("odps://project/tables/items"));
  }
}

// Batches get sampled items on the __NEG__ features only: B + num_sample rows
// there, B everywhere else.
TEST_F(NegativeSamplerTest, BatchesAppendSampledRowsToItemFeatures) {
  const std::string fg_json = Write("fg.json", R"({"features": [
    {"feature_type": "id_feature", "feature_name": "uid", "default_value": "", "expression": "user:uid",
     "value_type": "string", "need_prefix": false, "hash_bucket_size": 100, "value_dim": 0},
    {"feature_type": "id_feature", "feature_name": "item_id", "default_value": "", "expression": "item:item_id",
     "value_type": "string", "need_prefix": false, "num_buckets": 10, "value_dim": 0},
    {"feature_type": "id_feature", "feature_name": "cate", "default_value": "", "expression": "item:cate",
     "value_type": "string", "need_prefix": false, "hash_bucket_size": 50, "value_dim": 0}]})");
  const std::string csv = Write("rows.csv", "label,uid,item_id,cate\n1,a,1,c1\n1,b,2,c2\n");
  auto engine = std::make_shared<fg::FgEngine>(fg::FgEngine::FromFile(fg_json, {}));
  DataParserOptions parser;
  parser.label_fields = {"label"};
  parser.negative_sampler = std::make_shared<NegativeSampler>(Config(Write("items", kTable), 3), false);
  parser.negative_features = {"item_id", "cate"};
  BatchIteratorOptions options;
  options.input_path = csv;
  options.csv.with_header = true;
  BatchIterator it(options, engine, parser);
  Batch b;
  ASSERT_TRUE(it.Next(&b));
  EXPECT_EQ(b.batch_size, 2);
  EXPECT_EQ(b.inputs.at("uid.lengths").size(0), 2);
  EXPECT_EQ(b.inputs.at("label").size(0), 2);
  const at::Tensor ids = b.inputs.at("item_id.values");
  ASSERT_EQ(b.inputs.at("item_id.lengths").size(0), 5);
  ASSERT_EQ(ids.size(0), 5);
  EXPECT_EQ(ids[0].item<int64_t>(), 1);
  EXPECT_EQ(ids[1].item<int64_t>(), 2);
  EXPECT_EQ(b.inputs.at("cate.lengths").size(0), 5);
  // Sampled rows are items of the table, weight 0 excluded.
  for (int64_t r = 2; r < 5; ++r) {
    const int64_t id = ids[r].item<int64_t>();
    EXPECT_TRUE(id == 1 || id == 2 || id == 4) << id;
  }
}

TEST_F(NegativeSamplerTest, ItemFeaturesMustReadSampledFields) {
  const std::string fg_json = Write("fg.json", R"({"features": [
    {"feature_type": "id_feature", "feature_name": "brand", "default_value": "", "expression": "item:brand",
     "value_type": "string", "need_prefix": false, "hash_bucket_size": 100, "value_dim": 0}]})");
  auto engine = std::make_shared<fg::FgEngine>(fg::FgEngine::FromFile(fg_json, {}));
  DataParserOptions parser;
  parser.negative_sampler = std::make_shared<NegativeSampler>(Config(Write("items", kTable), 3), false);
  parser.negative_features = {"brand"};
  try {
    DataParser p(engine.get(), parser);
    ADD_FAILURE() << "no error";
  } catch (const ConfigError& e) {
    EXPECT_THAT(e.what(), HasSubstr("column 'brand'"));
  }
}

// A sampled value FG cannot take names the item table and the item's line.
TEST_F(NegativeSamplerTest, BadSampledValuesNameTheTableLine) {
  const std::string fg_json = Write("fg.json", R"({"features": [
    {"feature_type": "id_feature", "feature_name": "item_id", "default_value": "", "expression": "item:item_id",
     "value_type": "string", "need_prefix": false, "num_buckets": 10, "value_dim": 0}]})");
  const std::string csv = Write("rows.csv", "label,item_id,cate\n1,1,c1\n");
  const std::string table = Write("items", "id:int64\tweight:float\tattrs:string\n1\t0\t1:c1\n42\t1\t42:c9\n");
  auto engine = std::make_shared<fg::FgEngine>(fg::FgEngine::FromFile(fg_json, {}));
  DataParserOptions parser;
  parser.label_fields = {"label"};
  parser.negative_sampler = std::make_shared<NegativeSampler>(Config(table, 2), false);
  parser.negative_features = {"item_id"};
  BatchIteratorOptions options;
  options.input_path = csv;
  options.csv.with_header = true;
  BatchIterator it(options, engine, parser);
  Batch b;
  try {
    it.Next(&b);
    FAIL();
  } catch (const Error& e) {
    EXPECT_THAT(e.what(), HasSubstr(table + ":3"));
    EXPECT_THAT(e.what(), HasSubstr("item_id"));
  }
}

// data_config.force_base_data_group with a negative sampler (upstream's
// dssm_v2_taobao), from the config as train_eval reads it.
class ForceBaseDataGroupTest : public NegativeSamplerTest {
 protected:
  // uid and pid are user/context side, item_id and cate read the sampler's
  // attr_fields, click_seq__item_id is a user-side sequence of items.
  protos::EasyRecConfig Config(const std::string& extra_features = "") {
    return ParsePipelineConfigText(fmt::format(R"(
      data_config {{
        batch_size: 2 label_fields: "label" fg_mode: FG_DAG with_header: true
        force_base_data_group: true
        negative_sampler {{
          input_path: "{}" num_sample: 3 attr_fields: ["item_id", "cate"] item_id_field: "item_id"
        }}
      }}
      feature_configs {{ id_feature {{ feature_name: "uid" expression: "user:uid" hash_bucket_size: 100 }} }}
      feature_configs {{ id_feature {{ feature_name: "pid" expression: "context:pid" hash_bucket_size: 10 }} }}
      feature_configs {{ id_feature {{ feature_name: "item_id" expression: "item:item_id" num_buckets: 10 }} }}
      feature_configs {{ id_feature {{ feature_name: "cate" expression: "item:cate" hash_bucket_size: 50 }} }}
      feature_configs {{ sequence_feature {{
        sequence_name: "click_seq" sequence_length: 5 sequence_delim: "|"
        features {{ id_feature {{ feature_name: "item_id" expression: "item:item_id" num_buckets: 10 }} }}
      }} }}
      {})",
                                                   Write("items", kTable), extra_features));
  }
  // train_eval's path: features, fg.json, FG engine, parser options.
  std::unique_ptr<BatchIterator> Iterator(const protos::EasyRecConfig& config, const FeatureList& features) {
    const auto pointers = FeaturePointers(features);
    auto engine = std::make_shared<fg::FgEngine>(
        fg::ParseFgJson(nlohmann::json::parse(CreateFgJson(pointers).dump()), "test"),
        FgEngineOptionsFromConfig(config));
    DataParserOptions parser = DataParserOptionsFromConfig(config.data_config());
    SetNegativeSampler(config.data_config(), pointers, /*for_eval=*/false, 1, parser);
    const std::string csv = Write("rows.csv", "label,uid,pid,item_id,cate,click_seq__item_id\n"
                                              "1,a,p1,1,c1,1|2\n"
                                              "0,b,p2,2,c2,4\n");
    return std::make_unique<BatchIterator>(BatchIteratorOptionsFromConfig(config.data_config(), csv, 1, false),
                                           engine, std::move(parser));
  }
};

// Every feature stays in __BASE__ (tables at upstream's __BASE__ names), yet
// the item features get the sampled items after the B label rows, as with
// __NEG__; user-side features keep B rows (upstream pads them with empty rows
// and cuts them off again in the model).
TEST_F(ForceBaseDataGroupTest, SampledItemsFollowTheBatchOnItemFeaturesOnly) {
  const protos::EasyRecConfig config = Config();
  const FeatureList features = CreateFeatures(config);
  std::vector<std::string> sampled;
  for (const auto& f : features) {
    EXPECT_EQ(f->data_group(), kBaseDataGroup) << f->name();
    if (f->gets_sampled_rows()) sampled.push_back(f->name());
  }
  EXPECT_THAT(sampled, ::testing::ElementsAre("item_id", "cate"));

  auto it = Iterator(config, features);
  Batch b;
  ASSERT_TRUE(it->Next(&b));
  EXPECT_EQ(b.batch_size, 2);
  EXPECT_EQ(b.inputs.at("label").size(0), 2);
  EXPECT_EQ(b.inputs.at("uid.lengths").size(0), 2);
  EXPECT_EQ(b.inputs.at("pid.lengths").size(0), 2);
  EXPECT_EQ(b.inputs.at("click_seq__item_id.lengths").size(0), 2);
  EXPECT_EQ(b.inputs.at("click_seq__item_id.values").size(0), 3);
  const at::Tensor ids = b.inputs.at("item_id.values");
  ASSERT_EQ(b.inputs.at("item_id.lengths").size(0), 5);
  ASSERT_EQ(ids.size(0), 5);
  EXPECT_EQ(ids[0].item<int64_t>(), 1);
  EXPECT_EQ(ids[1].item<int64_t>(), 2);
  for (int64_t r = 2; r < 5; ++r) {
    const int64_t id = ids[r].item<int64_t>();
    EXPECT_TRUE(id == 1 || id == 2 || id == 4) << id;  // table items, weight 0 excluded
  }
  ASSERT_EQ(b.inputs.at("cate.lengths").size(0), 5);
  // A sampled item's cate is the table's: c<id> hashed as the batch's c1, c2 are.
  const at::Tensor cates = b.inputs.at("cate.values");
  ASSERT_EQ(cates.size(0), 5);
  for (int64_t r = 2; r < 5; ++r) {
    const int64_t id = ids[r].item<int64_t>();
    if (id == 1 || id == 2) EXPECT_EQ(cates[r].item<int64_t>(), cates[id - 1].item<int64_t>()) << r;
  }
}

// A cross of user and item fields stays in __BASE__ too, but a sampled row has
// only the attr_fields to give it: refused naming the feature and the column.
TEST_F(ForceBaseDataGroupTest, CrossOfUserAndSampledFieldsIsRefusedByName) {
  const protos::EasyRecConfig config = Config(R"(
      feature_configs { combo_feature { feature_name: "uid_cate" expression: ["user:uid", "item:cate"]
                                        hash_bucket_size: 10 } })");
  const FeatureList features = CreateFeatures(config);
  const std::string error = testing::ErrorOf([&] {
    auto it = Iterator(config, features);
    Batch b;
    it->Next(&b);
  });
  EXPECT_THAT(error, HasSubstr("data_config.negative_sampler.attr_fields: feature 'uid_cate' gets sampled items "
                               "but also reads column 'uid'"));
  EXPECT_EQ(error.find('\n'), std::string::npos) << error;
}

// No feature reads attr_fields: said so, whatever force_base_data_group says.
TEST_F(ForceBaseDataGroupTest, AttrFieldsNoFeatureReadsAreNamed) {
  protos::EasyRecConfig config = Config();
  config.mutable_data_config()->mutable_negative_sampler()->clear_attr_fields();
  config.mutable_data_config()->mutable_negative_sampler()->add_attr_fields("brand");
  const FeatureList features = CreateFeatures(config);
  DataParserOptions parser;
  const std::string error = testing::ErrorOf(
      [&] { SetNegativeSampler(config.data_config(), FeaturePointers(features), false, 1, parser); });
  EXPECT_THAT(error, HasSubstr("data_config.negative_sampler.attr_fields: no feature reads them"));
}

}  // namespace
}  // namespace tzrec::data
