#include "models/xdeepfm.h"

#include <gtest/gtest.h>

#include "common/error.h"
#include "models/model_test_util.h"
#include "models/modules/cin.h"

namespace tzrec::models {
namespace {

using testing::BuildModelFrom;
using testing::StateMap;

// wide: cat_a, cat_b (wide tables); deep: cat_a (4) + cat_b (4, mean) + price (1).
protos::EasyRecConfig Config(const std::string& xdeepfm_body) {
  return testing::SmallModelConfig(R"(
  feature_groups { group_name: "wide" feature_names: "cat_a" feature_names: "cat_b" group_type: WIDE }
  feature_groups { group_name: "deep" feature_names: "cat_a" feature_names: "cat_b" feature_names: "price" group_type: DEEP }
  xdeepfm { )" + xdeepfm_body + R"( }
  metrics { auc {} }
  losses { binary_cross_entropy {} })");
}

const char kBody[] =
    "cin { cin_layer_size: [3, 2] } deep { hidden_units: [8, 4] } final { hidden_units: [5] } "
    "wide_embedding_dim: 6";

TEST(XDeepFMTest, UpstreamStateDictNames) {
  auto b = BuildModelFrom(Config(kBody));
  const std::string bags = "model.embedding_group.emb_impls.__BASE__.ebc.embedding_bags.";
  const std::vector<std::pair<std::string, std::vector<int64_t>>> expected = {
      {bags + "cat_a_emb_wide.weight", {10, 6}},
      {bags + "cat_b_emb_wide.weight", {20, 6}},
      {bags + "cat_a_emb.weight", {10, 4}},
      {bags + "cat_b_emb.weight", {20, 4}},
      {"model.deep.mlp.0.perceptron.0.weight", {8, 9}},
      {"model.deep.mlp.0.perceptron.0.bias", {8}},
      {"model.deep.mlp.1.perceptron.0.weight", {4, 8}},
      {"model.deep.mlp.1.perceptron.0.bias", {4}},
      // Conv1d(N * N, 3, 1), then Conv1d(3 * N, 2, 1) for N = 2 wide features.
      {"model.cin.cin_layers.0.weight", {3, 4, 1}},
      {"model.cin.cin_layers.0.bias", {3}},
      {"model.cin.cin_layers.1.weight", {2, 6, 1}},
      {"model.cin.cin_layers.1.bias", {2}},
      {"model.final.mlp.0.perceptron.0.weight", {5, 3 + 2 + 4}},
      {"model.final.mlp.0.perceptron.0.bias", {5}},
      {"model.output_mlp.weight", {1, 5}},
      {"model.output_mlp.bias", {1}}};
  std::vector<std::pair<std::string, std::vector<int64_t>>> actual;
  for (const auto& [name, t] : b.model->StateDict()) actual.emplace_back(name, t.sizes().vec());
  EXPECT_EQ(actual, expected);
  EXPECT_EQ(b.model->output_names(), (std::vector<std::string>{"logits", "probs"}));
  // wide_embedding_dim defaults to 16 for xDeepFM.
  auto defaults = BuildModelFrom(
      Config("cin { cin_layer_size: [2] } deep { hidden_units: [4] } final { hidden_units: [4] }"));
  EXPECT_EQ(StateMap(*defaults.model).at(bags + "cat_a_emb_wide.weight").sizes(),
            (std::vector<int64_t>{10, 16}));
}

// One CIN layer by its definition: row (h, f) of the products is
// x_{i-1}[h] * x0[f]; each output row k is sum_j W[k, j] * z[j] + bias[k].
at::Tensor CinLayer(const at::Tensor& x, const at::Tensor& x0, const at::Tensor& weight,
                    const at::Tensor& bias) {
  std::vector<at::Tensor> products;
  for (int64_t h = 0; h < x.size(1); ++h) {
    for (int64_t f = 0; f < x0.size(1); ++f) products.push_back(x.select(1, h) * x0.select(1, f));
  }
  at::Tensor z = at::stack(products, 1);  // [B, H * N, D]
  std::vector<at::Tensor> rows;
  for (int64_t k = 0; k < weight.size(0); ++k) {
    at::Tensor row = bias[k] + at::zeros_like(z.select(1, 0));
    for (int64_t j = 0; j < weight.size(1); ++j) row = row + weight[k][j][0] * z.select(1, j);
    rows.push_back(row);
  }
  return at::stack(rows, 1);
}

TEST(XDeepFMTest, CinMatchesItsDefinition) {
  torch::jit::Module cin = BuildCIN(3, {4, 2}, "cin");
  std::map<std::string, at::Tensor> p;
  for (const auto& param : cin.named_parameters()) p[param.name] = param.value.detach();
  at::Tensor x0 = at::randn({5, 3, 7});
  at::Tensor x1 = CinLayer(x0, x0, p.at("cin_layers.0.weight"), p.at("cin_layers.0.bias"));
  at::Tensor x2 = CinLayer(x1, x0, p.at("cin_layers.1.weight"), p.at("cin_layers.1.bias"));
  at::Tensor expected = at::cat({x1.sum(2), x2.sum(2)}, 1);
  at::Tensor out = cin.forward({x0}).toTensor();
  ASSERT_EQ(out.sizes(), (std::vector<int64_t>{5, 6}));
  EXPECT_TRUE(at::allclose(out, expected, 1e-5, 1e-5));
}

TEST(XDeepFMTest, ForwardMatchesHandComputation) {
  auto b = BuildModelFrom(Config(kBody));
  Model& m = *b.model;
  m.SetTraining(false);
  auto batch = testing::MakeSyntheticBatch(6);
  auto out = m.Forward(batch.inputs);
  auto s = StateMap(m);
  const std::string bags = "model.embedding_group.emb_impls.__BASE__.ebc.embedding_bags.";
  const at::Tensor& b_len = batch.inputs.at("cat_b.lengths");
  at::Tensor b_off = at::cumsum(b_len, 0) - b_len;
  at::Tensor wb = std::get<0>(at::embedding_bag(s.at(bags + "cat_b_emb_wide.weight"),
                                                batch.inputs.at("cat_b.values"), b_off, false, 0)) /
                  at::clamp(b_len, 1).unsqueeze(1).to(at::kFloat);  // mean pooling
  at::Tensor wa = at::embedding(s.at(bags + "cat_a_emb_wide.weight"), batch.inputs.at("cat_a.values"));
  at::Tensor x0 = at::stack({wa, wb}, 1);  // [B, 2, 6]
  at::Tensor x1 = CinLayer(x0, x0, s.at("model.cin.cin_layers.0.weight"), s.at("model.cin.cin_layers.0.bias"));
  at::Tensor x2 = CinLayer(x1, x0, s.at("model.cin.cin_layers.1.weight"), s.at("model.cin.cin_layers.1.bias"));
  at::Tensor deep = testing::ReluMlp(s, "model.deep", testing::AllGroup(s, batch.inputs), 2);
  at::Tensor h = testing::ReluMlp(s, "model.final", at::cat({x1.sum(2), x2.sum(2), deep}, 1), 1);
  at::Tensor y = testing::Linear(s, "model.output_mlp", h).squeeze(1);
  EXPECT_TRUE(at::allclose(out.at("logits"), y, 1e-5, 1e-5));
  EXPECT_TRUE(at::allclose(out.at("probs"), at::sigmoid(y)));
  EXPECT_EQ(out.at("logits").sizes(), (std::vector<int64_t>{6}));
}

TEST(XDeepFMTest, LearnsSyntheticRule) {
  testing::ExpectLearnsSyntheticRule([] {
    return BuildModelFrom(Config("cin { cin_layer_size: [4, 4] } deep { hidden_units: [16, 8] } "
                                 "final { hidden_units: [8] } wide_embedding_dim: 4"));
  });
}

TEST(XDeepFMTest, ConfigErrors) {
  try {
    BuildModelFrom(Config("cin {} deep { hidden_units: [4] } final { hidden_units: [4] }"));
    FAIL();
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("model_config.xdeepfm.cin.cin_layer_size"), std::string::npos)
        << e.what();
  }
  auto config = Config(kBody);
  config.mutable_model_config()->mutable_feature_groups()->DeleteSubrange(0, 1);  // no wide group
  try {
    BuildModelFrom(config);
    FAIL();
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("wide"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace tzrec::models
