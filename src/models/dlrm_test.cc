#include "models/dlrm.h"

#include <gtest/gtest.h>

#include "common/error.h"
#include "models/model_test_util.h"

namespace tzrec::models {
namespace {

using testing::BuildModelFrom;
using testing::StateNames;
using testing::StateTensor;

protos::EasyRecConfig Config(const std::string& extra = "", const std::string& dense_units = "[8, 4]") {
  return testing::SmallModelConfig(R"(
  feature_groups { group_name: "dense" feature_names: "price" group_type: DEEP }
  feature_groups { group_name: "sparse" feature_names: "cat_a" feature_names: "cat_b" group_type: DEEP }
  dlrm { dense_mlp { hidden_units: )" + dense_units + R"( } final { hidden_units: [16, 8] } )" + extra + R"( }
  metrics { auc {} }
  losses { binary_cross_entropy {} })");
}

TEST(DLRMTest, InteractionIsTheStrictUpperTriangleRowMajor) {
  torch::jit::Module arch = BuildInteractionArch(4);
  at::Tensor x = at::randn({2, 4, 3});
  at::Tensor out = arch.forward({x}).toTensor();
  ASSERT_EQ(out.sizes(), (std::vector<int64_t>{2, 6}));
  int k = 0;
  for (int i = 0; i < 4; ++i) {
    for (int j = i + 1; j < 4; ++j, ++k) {
      at::Tensor dot = (x.select(1, i) * x.select(1, j)).sum(1);
      EXPECT_TRUE(at::allclose(out.select(1, k), dot, 1e-5, 1e-6)) << i << "," << j;
    }
  }
  EXPECT_EQ(arch.named_parameters().size(), 0u);
  EXPECT_EQ(arch.named_buffers().size(), 0u);  // upstream's triu buffer is not persistent
}

TEST(DLRMTest, UpstreamStateDictNames) {
  auto b = BuildModelFrom(Config());
  const std::string bags = "model.embedding_group.emb_impls.__BASE__.ebc.embedding_bags.";
  std::vector<std::string> expected = {bags + "cat_a_emb.weight",
                                       bags + "cat_b_emb.weight",
                                       "model.dense_mlp.mlp.0.perceptron.0.weight",
                                       "model.dense_mlp.mlp.0.perceptron.0.bias",
                                       "model.dense_mlp.mlp.1.perceptron.0.weight",
                                       "model.dense_mlp.mlp.1.perceptron.0.bias",
                                       "model.final_mlp.mlp.0.perceptron.0.weight",
                                       "model.final_mlp.mlp.0.perceptron.0.bias",
                                       "model.final_mlp.mlp.1.perceptron.0.weight",
                                       "model.final_mlp.mlp.1.perceptron.0.bias",
                                       "model.output_mlp.weight",
                                       "model.output_mlp.bias"};
  EXPECT_EQ(StateNames(*b.model), expected);
  // 3 interactions of (dense, cat_a, cat_b) + dense 4 + sparse group 8.
  EXPECT_EQ(StateTensor(*b.model, "model.final_mlp.mlp.0.perceptron.0.weight").sizes(),
            (std::vector<int64_t>{16, 3 + 4 + 8}));
  auto no_sparse = BuildModelFrom(Config("arch_with_sparse: false"));
  EXPECT_EQ(StateTensor(*no_sparse.model, "model.final_mlp.mlp.0.perceptron.0.weight").sizes(),
            (std::vector<int64_t>{16, 3 + 4}));
}

TEST(DLRMTest, ForwardMatchesHandComputation) {
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
  at::Tensor ea = at::embedding(StateTensor(m, bags + "cat_a_emb.weight"), batch.inputs["cat_a.values"]);
  at::Tensor d = layer(layer(batch.inputs["price.values"], "model.dense_mlp.mlp.0.perceptron.0."),
                       "model.dense_mlp.mlp.1.perceptron.0.");
  auto dot = [](const at::Tensor& x, const at::Tensor& y) { return (x * y).sum(1, true); };
  at::Tensor in = at::cat({dot(d, ea), dot(d, eb), dot(ea, eb), d, ea, eb}, 1);
  at::Tensor h = layer(layer(in, "model.final_mlp.mlp.0.perceptron.0."),
                       "model.final_mlp.mlp.1.perceptron.0.");
  at::Tensor y = at::linear(h, StateTensor(m, "model.output_mlp.weight"),
                            StateTensor(m, "model.output_mlp.bias"))
                     .squeeze(1);
  EXPECT_TRUE(at::allclose(out.at("logits"), y, 1e-5, 1e-6));
}

TEST(DLRMTest, SingleGroupIsTheSparseGroup) {
  auto config = testing::SmallModelConfig(R"(
  feature_groups { group_name: "all" feature_names: "cat_a" feature_names: "cat_b" group_type: DEEP }
  dlrm { final { hidden_units: [4] } }
  losses { binary_cross_entropy {} })");
  auto b = BuildModelFrom(config);
  EXPECT_EQ(StateTensor(*b.model, "model.final_mlp.mlp.0.perceptron.0.weight").sizes(),
            (std::vector<int64_t>{4, 1 + 8}));
  EXPECT_EQ(b.model->Forward(testing::MakeSyntheticBatch(3).inputs).at("logits").sizes(),
            (std::vector<int64_t>{3}));
}

TEST(DLRMTest, LearnsSyntheticRule) {
  testing::ExpectLearnsSyntheticRule([] { return BuildModelFrom(Config()); });
}

TEST(DLRMTest, UpstreamCriteoConfigBuilds) {
  auto b = BuildModelFrom(testing::UpstreamConfigWithSmallTables("dlrm_criteo"));
  // 13 raw ints -> dense_mlp [64, 16]; 26 ids of dim 16: 27 * 26 / 2 = 351
  // interactions + 16 + 26 * 16.
  EXPECT_EQ(StateTensor(*b.model, "model.dense_mlp.mlp.0.perceptron.0.weight").sizes(),
            (std::vector<int64_t>{64, 13}));
  EXPECT_EQ(StateTensor(*b.model, "model.final_mlp.mlp.0.perceptron.0.weight").sizes(),
            (std::vector<int64_t>{64, 351 + 16 + 416}));
}

TEST(DLRMTest, ConfigErrors) {
  try {
    BuildModelFrom(Config("", "[8, 3]"));
    FAIL();
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("dense_mlp"), std::string::npos) << e.what();
  }
  auto config = Config();
  config.mutable_model_config()->mutable_feature_groups(1)->add_feature_names("price");
  try {
    BuildModelFrom(config);
    FAIL();
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("same embedding dim"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace tzrec::models
