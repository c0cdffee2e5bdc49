#include "models/dcn_v1.h"

#include <gtest/gtest.h>

#include <cmath>

#include "common/error.h"
#include "models/model_test_util.h"
#include "models/modules/cross.h"

namespace tzrec::models {
namespace {

using testing::BuildModelFrom;
using testing::StateMap;

// Group "all": cat_a (4) + cat_b (4, mean) + price (1) = 9 wide.
protos::EasyRecConfig Config(const std::string& dcn_body) {
  return testing::SmallModelConfig(R"(
  feature_groups { group_name: "all" feature_names: "cat_a" feature_names: "cat_b" feature_names: "price" group_type: DEEP }
  dcn_v1 { )" + dcn_body + R"( }
  metrics { auc {} }
  losses { binary_cross_entropy {} })");
}

const char kBody[] = "cross { cross_num: 2 } deep { hidden_units: [8, 5] } final { hidden_units: [6] }";

TEST(DCNV1Test, UpstreamStateDictNames) {
  auto b = BuildModelFrom(Config(kBody));
  const std::string bags = "model.embedding_group.emb_impls.__BASE__.ebc.embedding_bags.";
  const std::vector<std::pair<std::string, std::vector<int64_t>>> expected = {
      {bags + "cat_a_emb.weight", {10, 4}},
      {bags + "cat_b_emb.weight", {20, 4}},
      {"model.cross.w.0.weight", {1, 9}},
      {"model.cross.w.1.weight", {1, 9}},
      {"model.cross.b.0", {9}},
      {"model.cross.b.1", {9}},
      {"model.deep.mlp.0.perceptron.0.weight", {8, 9}},
      {"model.deep.mlp.0.perceptron.0.bias", {8}},
      {"model.deep.mlp.1.perceptron.0.weight", {5, 8}},
      {"model.deep.mlp.1.perceptron.0.bias", {5}},
      {"model.final_dnn.mlp.0.perceptron.0.weight", {6, 9 + 5}},
      {"model.final_dnn.mlp.0.perceptron.0.bias", {6}},
      {"model.output_linear.weight", {1, 6}}};  // upstream: Linear without bias
  std::vector<std::pair<std::string, std::vector<int64_t>>> actual;
  for (const auto& [name, t] : b.model->StateDict()) actual.emplace_back(name, t.sizes().vec());
  EXPECT_EQ(actual, expected);
  EXPECT_EQ(b.model->output_names(), (std::vector<std::string>{"logits", "probs"}));
  // cross_num defaults to 3.
  auto defaults = BuildModelFrom(Config("cross {} deep { hidden_units: [4] } final { hidden_units: [4] }"));
  EXPECT_EQ(StateMap(*defaults.model).count("model.cross.b.2"), 1u);
  EXPECT_EQ(StateMap(*defaults.model).count("model.cross.b.3"), 0u);
}

// Upstream's initialisation: Xavier-uniform weights, zero biases.
TEST(DCNV1Test, CrossInitialisation) {
  torch::jit::Module cross = BuildCross(50, 2, "cross");
  const double bound = std::sqrt(6.0 / 51.0);
  for (const auto& p : cross.named_parameters()) {
    if (p.name.rfind("b.", 0) == 0) {
      EXPECT_TRUE(at::equal(p.value, at::zeros({50}))) << p.name;
    } else {
      EXPECT_LE(p.value.abs().max().item<double>(), bound) << p.name;
      EXPECT_GT(p.value.abs().max().item<double>(), bound / 2) << p.name;
    }
  }
}

// x_{l+1} = (x_l . w_l) * x0 + b_l + x_l, by hand, with non-zero biases.
TEST(DCNV1Test, CrossMatchesItsFormula) {
  torch::jit::Module cross = BuildCross(5, 3, "cross");
  std::map<std::string, at::Tensor> p;
  {
    at::NoGradGuard no_grad;
    for (const auto& param : cross.named_parameters()) {
      if (param.name.rfind("b.", 0) == 0) param.value.uniform_(-1, 1);
      p[param.name] = param.value;
    }
  }
  at::Tensor x0 = at::randn({4, 5});
  at::Tensor x = x0;
  for (int i = 0; i < 3; ++i) {
    const std::string n = std::to_string(i);
    at::Tensor dot = (x * p.at("w." + n + ".weight").squeeze(0)).sum(1, true);
    x = dot * x0 + p.at("b." + n) + x;
  }
  EXPECT_TRUE(at::allclose(cross.forward({x0}).toTensor(), x, 1e-5, 1e-5));
}

TEST(DCNV1Test, ForwardMatchesHandComputation) {
  auto b = BuildModelFrom(Config(kBody));
  Model& m = *b.model;
  {
    at::NoGradGuard no_grad;  // non-zero cross biases, so they count in the check
    for (auto& [name, t] : m.DenseParameters()) {
      if (name.rfind("model.cross.b.", 0) == 0) t.uniform_(-0.5, 0.5);
    }
  }
  m.SetTraining(false);
  auto batch = testing::MakeSyntheticBatch(6);
  auto out = m.Forward(batch.inputs);
  auto s = StateMap(m);
  at::Tensor x0 = testing::AllGroup(s, batch.inputs);
  at::Tensor x = x0;
  for (int i = 0; i < 2; ++i) {
    const std::string n = std::to_string(i);
    x = at::linear(x, s.at("model.cross.w." + n + ".weight")) * x0 + s.at("model.cross.b." + n) + x;
  }
  at::Tensor deep = testing::ReluMlp(s, "model.deep", x0, 2);
  at::Tensor h = testing::ReluMlp(s, "model.final_dnn", at::cat({x, deep}, 1), 1);
  at::Tensor y = at::linear(h, s.at("model.output_linear.weight")).squeeze(1);
  EXPECT_TRUE(at::allclose(out.at("logits"), y, 1e-5, 1e-6));
  EXPECT_TRUE(at::allclose(out.at("probs"), at::sigmoid(y)));
  EXPECT_EQ(out.at("logits").sizes(), (std::vector<int64_t>{6}));
}

TEST(DCNV1Test, LearnsSyntheticRule) {
  testing::ExpectLearnsSyntheticRule([] {
    return BuildModelFrom(Config("cross { cross_num: 2 } deep { hidden_units: [16, 8] } "
                                 "final { hidden_units: [8] }"));
  });
}

TEST(DCNV1Test, ConfigErrors) {
  try {
    BuildModelFrom(Config("cross {} deep {} final { hidden_units: [4] }"));
    FAIL();
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("model_config.dcn_v1.deep.hidden_units"), std::string::npos)
        << e.what();
  }
  try {
    BuildModelFrom(Config("cross {} deep { hidden_units: [4] } final {}"));
    FAIL();
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("model_config.dcn_v1.final.hidden_units"), std::string::npos)
        << e.what();
  }
}

}  // namespace
}  // namespace tzrec::models
