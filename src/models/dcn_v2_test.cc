#include "models/dcn_v2.h"

#include <gtest/gtest.h>

#include "common/error.h"
#include "models/model_test_util.h"
#include "models/modules/cross.h"

namespace tzrec::models {
namespace {

using testing::BuildModelFrom;
using testing::StateMap;
using testing::StateNames;

// Group "all": cat_a (4) + cat_b (4, mean) + price (1) = 9 wide; a second
// group that DCN v2 must ignore (upstream reads the first group only).
protos::EasyRecConfig Config(const std::string& dcn_body) {
  return testing::SmallModelConfig(R"(
  feature_groups { group_name: "all" feature_names: "cat_a" feature_names: "cat_b" feature_names: "price" group_type: DEEP }
  dcn_v2 { )" + dcn_body + R"( }
  metrics { auc {} }
  losses { binary_cross_entropy {} })");
}

const char kFull[] =
    "backbone { hidden_units: [12, 6] } cross { cross_num: 2 low_rank: 3 } "
    "deep { hidden_units: [8, 5] } final { hidden_units: [7] }";

TEST(DCNV2Test, UpstreamStateDictNames) {
  auto b = BuildModelFrom(Config(kFull));
  const std::string bags = "model.embedding_group.emb_impls.__BASE__.ebc.embedding_bags.";
  const std::vector<std::pair<std::string, std::vector<int64_t>>> expected = {
      {bags + "cat_a_emb.weight", {10, 4}},
      {bags + "cat_b_emb.weight", {20, 4}},
      {"model.backbone.mlp.0.perceptron.0.weight", {12, 9}},
      {"model.backbone.mlp.0.perceptron.0.bias", {12}},
      {"model.backbone.mlp.1.perceptron.0.weight", {6, 12}},
      {"model.backbone.mlp.1.perceptron.0.bias", {6}},
      {"model.cross.u_kernels.0.weight", {3, 6}},
      {"model.cross.u_kernels.1.weight", {3, 6}},
      {"model.cross.v_kernels.0.weight", {6, 3}},
      {"model.cross.v_kernels.0.bias", {6}},
      {"model.cross.v_kernels.1.weight", {6, 3}},
      {"model.cross.v_kernels.1.bias", {6}},
      {"model.deep.mlp.0.perceptron.0.weight", {8, 9}},
      {"model.deep.mlp.0.perceptron.0.bias", {8}},
      {"model.deep.mlp.1.perceptron.0.weight", {5, 8}},
      {"model.deep.mlp.1.perceptron.0.bias", {5}},
      {"model.final.mlp.0.perceptron.0.weight", {7, 6 + 5}},
      {"model.final.mlp.0.perceptron.0.bias", {7}},
      {"model.output_mlp.weight", {1, 7}}};  // upstream: Linear without bias
  std::vector<std::pair<std::string, std::vector<int64_t>>> actual;
  for (const auto& [name, t] : b.model->StateDict()) actual.emplace_back(name, t.sizes().vec());
  EXPECT_EQ(actual, expected);
  EXPECT_EQ(b.model->output_names(), (std::vector<std::string>{"logits", "probs"}));

  // Without backbone and deep: the cross runs on the group, final reads it alone.
  auto minimal = BuildModelFrom(Config("cross {} final { hidden_units: [4] }"));
  const std::vector<std::string> names = {
      bags + "cat_a_emb.weight",          bags + "cat_b_emb.weight",
      "model.cross.u_kernels.0.weight",   "model.cross.u_kernels.1.weight",
      "model.cross.u_kernels.2.weight",   "model.cross.v_kernels.0.weight",
      "model.cross.v_kernels.0.bias",     "model.cross.v_kernels.1.weight",
      "model.cross.v_kernels.1.bias",     "model.cross.v_kernels.2.weight",
      "model.cross.v_kernels.2.bias",     "model.final.mlp.0.perceptron.0.weight",
      "model.final.mlp.0.perceptron.0.bias", "model.output_mlp.weight"};
  EXPECT_EQ(StateNames(*minimal.model), names);
  auto state = StateMap(*minimal.model);
  // Proto defaults: cross_num 3, low_rank 32.
  EXPECT_EQ(state.at("model.cross.u_kernels.0.weight").sizes(), (std::vector<int64_t>{32, 9}));
  EXPECT_EQ(state.at("model.final.mlp.0.perceptron.0.weight").sizes(),
            (std::vector<int64_t>{4, 9}));
}

// x_{l+1} = x0 * (V_l (U_l x_l) + c_l) + x_l, by hand.
TEST(DCNV2Test, CrossV2MatchesItsFormula) {
  torch::jit::Module cross = BuildCrossV2(5, 2, 3, "cross");
  std::map<std::string, at::Tensor> p;
  for (const auto& param : cross.named_parameters()) p[param.name] = param.value;
  at::Tensor x0 = at::randn({4, 5});
  at::Tensor x = x0;
  for (int i = 0; i < 2; ++i) {
    const std::string n = std::to_string(i);
    at::Tensor u = at::matmul(x, p.at("u_kernels." + n + ".weight").t());
    x = x0 * (at::matmul(u, p.at("v_kernels." + n + ".weight").t()) + p.at("v_kernels." + n + ".bias")) + x;
  }
  EXPECT_TRUE(at::allclose(cross.forward({x0}).toTensor(), x, 1e-5, 1e-6));
}

TEST(DCNV2Test, ForwardMatchesHandComputation) {
  auto b = BuildModelFrom(Config(kFull));
  Model& m = *b.model;
  m.SetTraining(false);
  auto batch = testing::MakeSyntheticBatch(6);
  auto out = m.Forward(batch.inputs);
  auto s = StateMap(m);
  at::Tensor features = testing::AllGroup(s, batch.inputs);
  at::Tensor x0 = testing::ReluMlp(s, "model.backbone", features, 2);
  at::Tensor x = x0;
  for (int i = 0; i < 2; ++i) {
    const std::string n = std::to_string(i);
    at::Tensor low = at::linear(x, s.at("model.cross.u_kernels." + n + ".weight"));
    x = x0 * testing::Linear(s, "model.cross.v_kernels." + n, low) + x;
  }
  at::Tensor deep = testing::ReluMlp(s, "model.deep", features, 2);
  at::Tensor h = testing::ReluMlp(s, "model.final", at::cat({x, deep}, 1), 1);
  at::Tensor y = at::linear(h, s.at("model.output_mlp.weight")).squeeze(1);
  EXPECT_TRUE(at::allclose(out.at("logits"), y, 1e-5, 1e-6));
  EXPECT_TRUE(at::allclose(out.at("probs"), at::sigmoid(y)));
  EXPECT_EQ(out.at("logits").sizes(), (std::vector<int64_t>{6}));
}

TEST(DCNV2Test, ReadsOnlyTheFirstGroup) {
  auto config = testing::SmallModelConfig(R"(
  feature_groups { group_name: "first" feature_names: "cat_a" group_type: DEEP }
  feature_groups { group_name: "second" feature_names: "cat_b" feature_names: "price" group_type: DEEP }
  dcn_v2 { cross { cross_num: 1 low_rank: 2 } final { hidden_units: [3] } }
  losses { binary_cross_entropy {} })");
  auto b = BuildModelFrom(config);
  EXPECT_EQ(StateMap(*b.model).at("model.cross.u_kernels.0.weight").sizes(),
            (std::vector<int64_t>{2, 4}));
  EXPECT_EQ(b.model->Forward(testing::MakeSyntheticBatch(3).inputs).at("probs").sizes(),
            (std::vector<int64_t>{3}));
}

TEST(DCNV2Test, LearnsSyntheticRule) {
  testing::ExpectLearnsSyntheticRule([] {
    return BuildModelFrom(Config("cross { cross_num: 2 low_rank: 4 } deep { hidden_units: [16, 8] } "
                                 "final { hidden_units: [8] }"));
  });
}

TEST(DCNV2Test, ConfigErrors) {
  try {
    BuildModelFrom(Config("cross { low_rank: 0 } final { hidden_units: [4] }"));
    FAIL();
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("model_config.dcn_v2.cross.low_rank"), std::string::npos)
        << e.what();
  }
  try {
    BuildModelFrom(Config("cross {} deep {} final { hidden_units: [4] }"));
    FAIL();
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("model_config.dcn_v2.deep.hidden_units"), std::string::npos)
        << e.what();
  }
}

}  // namespace
}  // namespace tzrec::models
