#include "models/wukong.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "common/error.h"
#include "models/model_test_util.h"
#include "models/modules/wukong_layer.h"

namespace tzrec::models {
namespace {

using testing::BuildModelFrom;
using testing::StateMap;
using testing::StateNames;
using testing::StateTensor;

// Groups dense [price] and sparse [cat_a, cat_b] (dim 4 each); dense_mlp [4]
// makes the dense input a third feature. Layer 0 maps 3 features to 2 + 2
// (residual projection), layer 1 keeps 4 (identity residual).
const char kLayers[] = R"(
    wukong_layers { lcb_feature_num: 2 fmb_feature_num: 2 compressed_feature_num: 2 feature_num_mlp { hidden_units: [6] } }
    wukong_layers { lcb_feature_num: 2 fmb_feature_num: 2 compressed_feature_num: 3 feature_num_mlp { hidden_units: [6, 5] } })";

protos::EasyRecConfig Config(const std::string& layers = kLayers, const std::string& dense_units = "[4]") {
  return testing::SmallModelConfig(R"(
  feature_groups { group_name: "dense" feature_names: "price" group_type: DEEP }
  feature_groups { group_name: "sparse" feature_names: "cat_a" feature_names: "cat_b" group_type: DEEP }
  wukong { dense_mlp { hidden_units: )" + dense_units + " } " + layers + R"(
    final { hidden_units: [5] } }
  metrics { auc {} }
  losses { binary_cross_entropy {} })");
}

std::vector<int64_t> Shape(std::initializer_list<int64_t> dims) { return dims; }

TEST(WuKongTest, UpstreamStateDictNames) {
  auto b = BuildModelFrom(Config());
  const std::string bags = "model.embedding_group.emb_impls.__BASE__.ebc.embedding_bags.";
  const std::string l0 = "model._wukong_layers.0.", l1 = "model._wukong_layers.1.";
  std::vector<std::string> expected = {
      bags + "cat_a_emb.weight", bags + "cat_b_emb.weight",
      "model.dense_mlp.mlp.0.perceptron.0.weight", "model.dense_mlp.mlp.0.perceptron.0.bias",
      l0 + "lcb.weight", l0 + "fmb.weight", l0 + "fmb.norm.weight", l0 + "fmb.norm.bias",
      l0 + "fmb.mlp.mlp.0.perceptron.0.weight", l0 + "fmb.mlp.mlp.0.perceptron.0.bias",
      l0 + "fmb.feature_out_liner.weight", l0 + "fmb.feature_out_liner.bias",
      l0 + "norm.weight", l0 + "norm.bias", l0 + "residual_projection.weight",
      l1 + "lcb.weight", l1 + "fmb.weight", l1 + "fmb.norm.weight", l1 + "fmb.norm.bias",
      l1 + "fmb.mlp.mlp.0.perceptron.0.weight", l1 + "fmb.mlp.mlp.0.perceptron.0.bias",
      l1 + "fmb.mlp.mlp.1.perceptron.0.weight", l1 + "fmb.mlp.mlp.1.perceptron.0.bias",
      l1 + "fmb.feature_out_liner.weight", l1 + "fmb.feature_out_liner.bias",
      l1 + "norm.weight", l1 + "norm.bias",
      "model.final_mlp.mlp.0.perceptron.0.weight", "model.final_mlp.mlp.0.perceptron.0.bias",
      "model.output_mlp.weight", "model.output_mlp.bias"};
  EXPECT_EQ(StateNames(*b.model), expected);

  const Model& m = *b.model;
  EXPECT_EQ(StateTensor(m, "model.dense_mlp.mlp.0.perceptron.0.weight").sizes(), Shape({4, 1}));
  EXPECT_EQ(StateTensor(m, l0 + "lcb.weight").sizes(), Shape({3, 2}));
  EXPECT_EQ(StateTensor(m, l0 + "fmb.weight").sizes(), Shape({3, 2}));
  EXPECT_EQ(StateTensor(m, l0 + "fmb.norm.weight").sizes(), Shape({6}));
  EXPECT_EQ(StateTensor(m, l0 + "fmb.mlp.mlp.0.perceptron.0.weight").sizes(), Shape({6, 6}));
  EXPECT_EQ(StateTensor(m, l0 + "fmb.feature_out_liner.weight").sizes(), Shape({8, 6}));
  EXPECT_EQ(StateTensor(m, l0 + "norm.weight").sizes(), Shape({4}));
  EXPECT_EQ(StateTensor(m, l0 + "residual_projection.weight").sizes(), Shape({3, 4}));
  EXPECT_EQ(StateTensor(m, l1 + "lcb.weight").sizes(), Shape({4, 2}));
  EXPECT_EQ(StateTensor(m, l1 + "fmb.weight").sizes(), Shape({4, 3}));
  EXPECT_EQ(StateTensor(m, l1 + "fmb.norm.weight").sizes(), Shape({12}));
  EXPECT_EQ(StateTensor(m, l1 + "fmb.feature_out_liner.weight").sizes(), Shape({8, 5}));
  EXPECT_EQ(StateTensor(m, "model.final_mlp.mlp.0.perceptron.0.weight").sizes(), Shape({5, 16}));
  EXPECT_EQ(StateTensor(m, "model.output_mlp.weight").sizes(), Shape({1, 5}));
  EXPECT_EQ(m.SparseParameters().size(), 2u);
  EXPECT_EQ(m.output_names(), (std::vector<std::string>{"logits", "probs"}));
}

TEST(WuKongTest, CompressWeightsAreKaimingUniform) {
  // kaiming_uniform_ defaults: bound sqrt(6 / fan_in), fan_in = size(1).
  at::manual_seed(1);
  torch::jit::Module lcb = BuildLinearCompressBlock(400, 6);
  at::Tensor w = lcb.attr("weight").toTensor();
  const double bound = std::sqrt(6.0 / 6);
  EXPECT_LE(w.abs().max().item<double>(), bound);
  EXPECT_GT(w.abs().max().item<double>(), 0.95 * bound);
  EXPECT_NEAR(w.std().item<double>(), bound / std::sqrt(3.0), 0.05);
}

// A LayerNorm over the last axis at `prefix`.
at::Tensor Norm(const std::map<std::string, at::Tensor>& s, const std::string& prefix, const at::Tensor& x) {
  return at::layer_norm(x, {x.size(-1)}, s.at(prefix + ".weight"), s.at(prefix + ".bias"), 1e-5);
}

// Upstream's WuKongLayer from the state dict: x [B, N, D].
at::Tensor WuKongLayerByHand(const std::map<std::string, at::Tensor>& s, const std::string& p,
                             const at::Tensor& x, int mlp_layers, int64_t fmb_num) {
  const int64_t batch = x.size(0), d = x.size(2);
  at::Tensor lcb = at::matmul(x.transpose(1, 2), s.at(p + "lcb.weight")).transpose(1, 2);
  // FM block: the dot product of feature i with compressed feature c.
  at::Tensor compressed = at::einsum("bnd,nc->bdc", {x, s.at(p + "fmb.weight")});
  at::Tensor fm = at::einsum("bnd,bdc->bnc", {x, compressed}).reshape({batch, -1});
  fm = testing::ReluMlp(s, p + "fmb.mlp", Norm(s, p + "fmb.norm", fm), mlp_layers);
  fm = testing::Linear(s, p + "fmb.feature_out_liner", fm).reshape({batch, fmb_num, d});
  at::Tensor residual = x;
  if (s.count(p + "residual_projection.weight")) {
    residual = at::matmul(x.transpose(1, 2), s.at(p + "residual_projection.weight")).transpose(1, 2);
  }
  return Norm(s, p + "norm", at::cat({fm, lcb}, 1) + residual);
}

TEST(WuKongTest, ForwardMatchesHandComputation) {
  auto b = BuildModelFrom(Config());
  Model& m = *b.model;
  {
    // Non-trivial layer norms, so that they count in the comparison.
    at::NoGradGuard no_grad;
    for (auto& [name, t] : m.StateDict()) {
      if (name.find("norm.") != std::string::npos) t.uniform_(0.5, 1.5);
    }
  }
  m.SetTraining(false);
  auto batch = testing::MakeSyntheticBatch(6);
  auto out = m.Forward(batch.inputs);
  auto s = StateMap(m);
  // AllGroup is [cat_a | cat_b | price]: the sparse features are its first 8 columns.
  at::Tensor all = testing::AllGroup(s, batch.inputs);
  at::Tensor sparse = all.slice(1, 0, 8).reshape({6, 2, 4});
  at::Tensor dense = testing::ReluMlp(s, "model.dense_mlp", batch.inputs.at("price.values"), 1);
  at::Tensor feat = at::cat({dense.unsqueeze(1), sparse}, 1);
  feat = WuKongLayerByHand(s, "model._wukong_layers.0.", feat, 1, 2);
  feat = WuKongLayerByHand(s, "model._wukong_layers.1.", feat, 2, 2);
  at::Tensor h = testing::ReluMlp(s, "model.final_mlp", feat.reshape({6, -1}), 1);
  at::Tensor y = testing::Linear(s, "model.output_mlp", h).squeeze(1);
  EXPECT_TRUE(at::allclose(out.at("logits"), y, 1e-5, 1e-6)) << out.at("logits") << y;
  EXPECT_TRUE(at::allclose(out.at("probs"), at::sigmoid(y), 1e-5, 1e-6));
}

TEST(WuKongTest, SingleGroupIsTheSparseGroupAndLayersMayBeAbsent) {
  auto b = BuildModelFrom(testing::SmallModelConfig(R"(
  feature_groups { group_name: "all" feature_names: "cat_a" feature_names: "cat_b" group_type: DEEP }
  wukong { final { hidden_units: [3] } }
  losses { binary_cross_entropy {} })"));
  EXPECT_EQ(StateTensor(*b.model, "model.final_mlp.mlp.0.perceptron.0.weight").sizes(), Shape({3, 8}));
  EXPECT_EQ(b.model->Forward(testing::MakeSyntheticBatch(3).inputs).at("logits").sizes(), Shape({3}));
}

TEST(WuKongTest, LearnsSyntheticRule) {
  testing::ExpectLearnsSyntheticRule([] { return BuildModelFrom(Config()); });
}

TEST(WuKongTest, UpstreamCriteoConfigNeedsMatchingDenseWidth) {
  // The upstream example ends dense_mlp at 128 while its ids are 16 wide:
  // upstream's WuKong raises on that, and so does this builder.
  auto config = testing::UpstreamConfigWithSmallTables("wukong_criteo");
  try {
    BuildModelFrom(config);
    ADD_FAILURE() << "no error";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("(128) must equal the sparse embedding dim (16)"),
              std::string::npos)
        << e.what();
  }
  // With dense_mlp ending at 16: 26 ids + the dense feature = 27 features
  // into layer 0, 16 + 16 out of each layer.
  config.mutable_model_config()->mutable_wukong()->mutable_dense_mlp()->set_hidden_units(2, 16);
  auto b = BuildModelFrom(config);
  const std::string l0 = "model._wukong_layers.0.", l1 = "model._wukong_layers.1.";
  EXPECT_EQ(StateTensor(*b.model, "model.dense_mlp.mlp.0.perceptron.0.weight").sizes(), Shape({512, 13}));
  EXPECT_EQ(StateTensor(*b.model, l0 + "lcb.weight").sizes(), Shape({27, 16}));
  EXPECT_EQ(StateTensor(*b.model, l0 + "fmb.mlp.mlp.0.perceptron.0.weight").sizes(), Shape({512, 27 * 24}));
  EXPECT_EQ(StateTensor(*b.model, l0 + "fmb.feature_out_liner.weight").sizes(), Shape({16 * 16, 512}));
  EXPECT_EQ(StateTensor(*b.model, l0 + "residual_projection.weight").sizes(), Shape({27, 32}));
  const std::vector<std::string> names = StateNames(*b.model);
  EXPECT_EQ(std::count(names.begin(), names.end(), l1 + "residual_projection.weight"), 0);
  EXPECT_EQ(StateTensor(*b.model, "model.final_mlp.mlp.0.perceptron.0.weight").sizes(),
            Shape({512, 32 * 16}));
}

TEST(WuKongTest, ConfigErrors) {
  auto expect_error = [](const protos::EasyRecConfig& config, const std::string& fragment) {
    try {
      BuildModelFrom(config);
      ADD_FAILURE() << "no error";
    } catch (const ConfigError& e) {
      EXPECT_NE(std::string(e.what()).find(fragment), std::string::npos) << e.what();
    }
  };
  expect_error(Config(kLayers, "[3]"), "must equal the sparse embedding dim");
  expect_error(Config("wukong_layers { lcb_feature_num: 0 fmb_feature_num: 2 feature_num_mlp { hidden_units: [2] } }"),
               "lcb_feature_num");
  expect_error(testing::SmallModelConfig(R"(
  feature_groups { group_name: "sparse" feature_names: "cat_a" feature_names: "price" group_type: DEEP }
  feature_groups { group_name: "other" feature_names: "cat_b" group_type: DEEP }
  wukong { final { hidden_units: [3] } }
  losses { binary_cross_entropy {} })"),
               "same embedding dim");
}

}  // namespace
}  // namespace tzrec::models
