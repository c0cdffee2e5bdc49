#include "models/wide_and_deep.h"

#include <gtest/gtest.h>

#include "common/error.h"
#include "models/model_test_util.h"

namespace tzrec::models {
namespace {

using testing::BuildModelFrom;
using testing::StateNames;
using testing::StateTensor;

const char kBags[] = "model.embedding_group.emb_impls.__BASE__.ebc.embedding_bags.";

protos::EasyRecConfig Config(const std::string& extra = "") {
  return testing::SmallModelConfig(R"(
  feature_groups { group_name: "wide" feature_names: "cat_a" feature_names: "cat_b" group_type: WIDE }
  feature_groups { group_name: "deep" feature_names: "cat_a" feature_names: "cat_b" feature_names: "price" group_type: DEEP }
  wide_and_deep { deep { hidden_units: [16, 8] } wide_embedding_dim: 1 )" + extra + R"( }
  metrics { auc {} }
  losses { binary_cross_entropy {} })");
}

TEST(WideAndDeepTest, UpstreamStateDictNames) {
  auto b = BuildModelFrom(Config());
  const std::string bags = kBags;
  std::vector<std::string> expected = {bags + "cat_a_emb_wide.weight",
                                       bags + "cat_b_emb_wide.weight",
                                       bags + "cat_a_emb.weight",
                                       bags + "cat_b_emb.weight",
                                       "model.deep_mlp.mlp.0.perceptron.0.weight",
                                       "model.deep_mlp.mlp.0.perceptron.0.bias",
                                       "model.deep_mlp.mlp.1.perceptron.0.weight",
                                       "model.deep_mlp.mlp.1.perceptron.0.bias",
                                       "model.output_mlp.weight",
                                       "model.output_mlp.bias"};
  EXPECT_EQ(StateNames(*b.model), expected);
  EXPECT_EQ(StateTensor(*b.model, expected[0]).sizes(), (std::vector<int64_t>{10, 1}));
  EXPECT_EQ(StateTensor(*b.model, expected[4]).sizes(), (std::vector<int64_t>{16, 9}));
  EXPECT_EQ(b.model->type(), "wide_and_deep");
  EXPECT_EQ(b.model->output_names(), (std::vector<std::string>{"logits", "probs"}));
  EXPECT_EQ(b.model->SparseParameters().size(), 4u);
}

// y = sum(wide embeddings) + output_mlp(deep_mlp(deep)).
TEST(WideAndDeepTest, ForwardMatchesHandComputation) {
  auto b = BuildModelFrom(Config());
  Model& m = *b.model;
  m.SetTraining(false);
  auto batch = testing::MakeSyntheticBatch(6);
  auto out = m.Forward(batch.inputs);
  const std::string bags = kBags;
  at::Tensor len = batch.inputs["cat_b.lengths"];
  at::Tensor off = at::cumsum(len, 0) - len;
  auto pool_b = [&](const at::Tensor& table) {
    at::Tensor sum =
        std::get<0>(at::embedding_bag(table, batch.inputs["cat_b.values"], off, false, 0));
    return sum / at::clamp(len, 1).unsqueeze(1).to(at::kFloat);
  };
  at::Tensor a = batch.inputs["cat_a.values"];
  at::Tensor y_wide = at::embedding(StateTensor(m, bags + "cat_a_emb_wide.weight"), a).sum(1) +
                      pool_b(StateTensor(m, bags + "cat_b_emb_wide.weight")).sum(1);
  at::Tensor deep = at::cat({at::embedding(StateTensor(m, bags + "cat_a_emb.weight"), a),
                             pool_b(StateTensor(m, bags + "cat_b_emb.weight")),
                             batch.inputs["price.values"]},
                            1);
  at::Tensor h = deep;
  for (int i = 0; i < 2; ++i) {
    const std::string p = "model.deep_mlp.mlp." + std::to_string(i) + ".perceptron.0.";
    h = at::relu(at::linear(h, StateTensor(m, p + "weight"), StateTensor(m, p + "bias")));
  }
  at::Tensor y = y_wide + at::linear(h, StateTensor(m, "model.output_mlp.weight"),
                                     StateTensor(m, "model.output_mlp.bias"))
                              .squeeze(1);
  EXPECT_TRUE(at::allclose(out.at("logits"), y, 1e-5, 1e-6));
  EXPECT_TRUE(at::allclose(out.at("probs"), at::sigmoid(y)));
}

TEST(WideAndDeepTest, FinalMlpTakesWideAndDeep) {
  auto b = BuildModelFrom(Config("final { hidden_units: [5] }"));
  EXPECT_EQ(StateTensor(*b.model, "model.final_mlp.mlp.0.perceptron.0.weight").sizes(),
            (std::vector<int64_t>{5, 1 + 8}));
  EXPECT_EQ(StateTensor(*b.model, "model.output_mlp.weight").sizes(), (std::vector<int64_t>{1, 5}));
  EXPECT_EQ(b.model->Forward(testing::MakeSyntheticBatch(3).inputs).at("probs").sizes(),
            (std::vector<int64_t>{3}));
}

TEST(WideAndDeepTest, LearnsSyntheticRule) {
  testing::ExpectLearnsSyntheticRule([] { return BuildModelFrom(Config()); });
}

TEST(WideAndDeepTest, NeedsWideAndDeepGroups) {
  auto config = Config();
  config.mutable_model_config()->mutable_feature_groups()->RemoveLast();
  try {
    BuildModelFrom(config);
    FAIL();
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("'deep'"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace tzrec::models
