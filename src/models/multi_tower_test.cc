#include "models/multi_tower.h"

#include <gtest/gtest.h>

#include "common/error.h"
#include "models/model_test_util.h"

namespace tzrec::models {
namespace {

using testing::BuildModelFrom;
using testing::StateNames;
using testing::StateTensor;

protos::EasyRecConfig Config(const std::string& final_mlp = "final { hidden_units: [6] }") {
  return testing::SmallModelConfig(R"(
  feature_groups { group_name: "user" feature_names: "cat_a" group_type: DEEP }
  feature_groups { group_name: "item" feature_names: "cat_b" feature_names: "price" group_type: DEEP }
  multi_tower {
    towers { input: "user" mlp { hidden_units: [8] } }
    towers { input: "item" mlp { hidden_units: [8, 3] } }
    )" + final_mlp + R"(
  }
  metrics { auc {} }
  losses { binary_cross_entropy {} })");
}

TEST(MultiTowerTest, UpstreamStateDictNames) {
  auto b = BuildModelFrom(Config());
  const std::string bags = "model.embedding_group.emb_impls.__BASE__.ebc.embedding_bags.";
  std::vector<std::string> expected = {bags + "cat_a_emb.weight",
                                       bags + "cat_b_emb.weight",
                                       "model.towers.user.mlp.0.perceptron.0.weight",
                                       "model.towers.user.mlp.0.perceptron.0.bias",
                                       "model.towers.item.mlp.0.perceptron.0.weight",
                                       "model.towers.item.mlp.0.perceptron.0.bias",
                                       "model.towers.item.mlp.1.perceptron.0.weight",
                                       "model.towers.item.mlp.1.perceptron.0.bias",
                                       "model.final_mlp.mlp.0.perceptron.0.weight",
                                       "model.final_mlp.mlp.0.perceptron.0.bias",
                                       "model.output_mlp.weight",
                                       "model.output_mlp.bias"};
  EXPECT_EQ(StateNames(*b.model), expected);
  EXPECT_EQ(StateTensor(*b.model, "model.towers.item.mlp.0.perceptron.0.weight").sizes(),
            (std::vector<int64_t>{8, 5}));
  EXPECT_EQ(StateTensor(*b.model, "model.final_mlp.mlp.0.perceptron.0.weight").sizes(),
            (std::vector<int64_t>{6, 8 + 3}));
  EXPECT_EQ(b.model->output_names(), (std::vector<std::string>{"logits", "probs"}));
}

TEST(MultiTowerTest, ForwardMatchesHandComputation) {
  auto b = BuildModelFrom(Config());
  Model& m = *b.model;
  m.SetTraining(false);
  auto batch = testing::MakeSyntheticBatch(5);
  auto out = m.Forward(batch.inputs);
  const std::string bags = "model.embedding_group.emb_impls.__BASE__.ebc.embedding_bags.";
  auto layer = [&](const at::Tensor& x, const std::string& p) {
    return at::relu(at::linear(x, StateTensor(m, p + "weight"), StateTensor(m, p + "bias")));
  };
  at::Tensor len = batch.inputs["cat_b.lengths"];
  at::Tensor off = at::cumsum(len, 0) - len;
  at::Tensor eb = std::get<0>(at::embedding_bag(StateTensor(m, bags + "cat_b_emb.weight"),
                                                batch.inputs["cat_b.values"], off, false, 0)) /
                  at::clamp(len, 1).unsqueeze(1).to(at::kFloat);
  at::Tensor user = layer(at::embedding(StateTensor(m, bags + "cat_a_emb.weight"),
                                        batch.inputs["cat_a.values"]),
                          "model.towers.user.mlp.0.perceptron.0.");
  at::Tensor item = layer(layer(at::cat({eb, batch.inputs["price.values"]}, 1),
                                "model.towers.item.mlp.0.perceptron.0."),
                          "model.towers.item.mlp.1.perceptron.0.");
  at::Tensor h = layer(at::cat({user, item}, 1), "model.final_mlp.mlp.0.perceptron.0.");
  at::Tensor y = at::linear(h, StateTensor(m, "model.output_mlp.weight"),
                            StateTensor(m, "model.output_mlp.bias"))
                     .squeeze(1);
  EXPECT_TRUE(at::allclose(out.at("logits"), y, 1e-5, 1e-6));
}

TEST(MultiTowerTest, WithoutFinalTheOutputReadsTheTowers) {
  auto b = BuildModelFrom(Config(""));
  EXPECT_EQ(StateTensor(*b.model, "model.output_mlp.weight").sizes(), (std::vector<int64_t>{1, 11}));
  EXPECT_EQ(b.model->Forward(testing::MakeSyntheticBatch(4).inputs).at("probs").sizes(),
            (std::vector<int64_t>{4}));
}

TEST(MultiTowerTest, LearnsSyntheticRule) {
  testing::ExpectLearnsSyntheticRule([] { return BuildModelFrom(Config()); });
}

TEST(MultiTowerTest, UpstreamTaobaoConfigBuilds) {
  auto b = BuildModelFrom(testing::UpstreamConfigWithSmallTables("multi_tower_taobao"));
  // user: 10 features of dim 16; item: 5 ids + bucketized price, dim 16.
  EXPECT_EQ(StateTensor(*b.model, "model.towers.user.mlp.0.perceptron.0.weight").sizes(),
            (std::vector<int64_t>{512, 160}));
  EXPECT_EQ(StateTensor(*b.model, "model.towers.item.mlp.0.perceptron.0.weight").sizes(),
            (std::vector<int64_t>{512, 96}));
  EXPECT_EQ(StateTensor(*b.model, "model.final_mlp.mlp.0.perceptron.0.weight").sizes(),
            (std::vector<int64_t>{64, 256}));
  EXPECT_EQ(StateTensor(*b.model, "model.output_mlp.weight").sizes(), (std::vector<int64_t>{1, 64}));
}

TEST(MultiTowerTest, ConfigErrors) {
  auto config = Config();
  config.mutable_model_config()->mutable_multi_tower()->mutable_towers(1)->set_input("nope");
  try {
    BuildModelFrom(config);
    FAIL();
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("'nope'"), std::string::npos) << e.what();
  }
  config = Config();
  config.mutable_model_config()->mutable_multi_tower()->mutable_towers(1)->clear_mlp();
  try {
    BuildModelFrom(config);
    FAIL();
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("towers[1].mlp"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace tzrec::models
