#include "models/mask_net.h"

#include <gtest/gtest.h>

#include "common/error.h"
#include "models/model_test_util.h"
#include "models/modules/masknet.h"

namespace tzrec::models {
namespace {

using testing::AllGroup;
using testing::BuildModelFrom;
using testing::StateMap;
using testing::StateNames;
using testing::StateTensor;

// One group "all" [cat_a, cat_b, price]: width 4 + 4 + 1 = 9.
protos::EasyRecConfig Config(const std::string& module_body) {
  return testing::SmallModelConfig(R"(
  feature_groups { group_name: "all" feature_names: "cat_a" feature_names: "cat_b" feature_names: "price" group_type: DEEP }
  mask_net { mask_net_module { )" + module_body + R"( } }
  metrics { auc {} }
  losses { binary_cross_entropy {} })");
}

const char kParallel[] =
    "n_mask_blocks: 2 mask_block { reduction_ratio: 0.5 hidden_dim: 6 } top_mlp { hidden_units: [5] }";
const char kSerial[] =
    "n_mask_blocks: 2 mask_block { reduction_ratio: 0.5 hidden_dim: 6 } top_mlp { hidden_units: [5] } "
    "use_parallel: false";

std::vector<int64_t> Shape(std::initializer_list<int64_t> dims) { return dims; }

TEST(MaskNetTest, UpstreamStateDictNames) {
  auto b = BuildModelFrom(Config(kParallel));
  const std::string bags = "model.embedding_group.emb_impls.__BASE__.ebc.embedding_bags.";
  std::vector<std::string> expected = {bags + "cat_a_emb.weight", bags + "cat_b_emb.weight",
                                       "model.mask_net_layer.ln_emb.weight",
                                       "model.mask_net_layer.ln_emb.bias"};
  for (const char* block : {"0", "1"}) {
    const std::string p = std::string("model.mask_net_layer.mask_blocks.") + block + ".";
    for (const char* layer : {"mask_generator.0.", "mask_generator.2.", "ffn.0.", "ffn.1."}) {
      expected.push_back(p + layer + "weight");
      expected.push_back(p + layer + "bias");
    }
  }
  expected.push_back("model.mask_net_layer.top_mlp.mlp.0.perceptron.0.weight");
  expected.push_back("model.mask_net_layer.top_mlp.mlp.0.perceptron.0.bias");
  expected.push_back("model.output_linear.weight");  // no bias, as upstream
  EXPECT_EQ(StateNames(*b.model), expected);

  const Model& m = *b.model;
  // aggregation dim = int(9 * 0.5) = 4.
  const std::string p = "model.mask_net_layer.mask_blocks.1.";
  EXPECT_EQ(StateTensor(m, "model.mask_net_layer.ln_emb.weight").sizes(), Shape({9}));
  EXPECT_EQ(StateTensor(m, p + "mask_generator.0.weight").sizes(), Shape({4, 9}));
  EXPECT_EQ(StateTensor(m, p + "mask_generator.2.weight").sizes(), Shape({9, 4}));
  EXPECT_EQ(StateTensor(m, p + "mask_generator.2.bias").sizes(), Shape({9}));
  EXPECT_EQ(StateTensor(m, p + "ffn.0.weight").sizes(), Shape({6, 9}));
  EXPECT_EQ(StateTensor(m, p + "ffn.1.weight").sizes(), Shape({6}));
  EXPECT_EQ(StateTensor(m, "model.mask_net_layer.top_mlp.mlp.0.perceptron.0.weight").sizes(),
            Shape({5, 12}));  // two parallel blocks of 6
  EXPECT_EQ(StateTensor(m, "model.output_linear.weight").sizes(), Shape({1, 5}));
  EXPECT_EQ(m.SparseParameters().size(), 2u);
  EXPECT_EQ(m.output_names(), (std::vector<std::string>{"logits", "probs"}));
  // Layer norms start as the identity transform, as torch.nn.LayerNorm does.
  EXPECT_TRUE(at::equal(StateTensor(m, p + "ffn.1.weight"), at::ones({6})));
  EXPECT_TRUE(at::equal(StateTensor(m, p + "ffn.1.bias"), at::zeros({6})));
}

TEST(MaskNetTest, SerialBlocksReadThePreviousHidden) {
  auto b = BuildModelFrom(Config(kSerial));
  const Model& m = *b.model;
  const std::string p = "model.mask_net_layer.mask_blocks.";
  EXPECT_EQ(StateTensor(m, p + "0.mask_generator.0.weight").sizes(), Shape({4, 9}));
  // Block 1: input is block 0's hidden (6), aggregation int(6 * 0.5) = 3; its
  // mask is still generated from the raw features (9).
  EXPECT_EQ(StateTensor(m, p + "1.mask_generator.0.weight").sizes(), Shape({3, 9}));
  EXPECT_EQ(StateTensor(m, p + "1.mask_generator.2.weight").sizes(), Shape({6, 3}));
  EXPECT_EQ(StateTensor(m, p + "1.ffn.0.weight").sizes(), Shape({6, 6}));
  EXPECT_EQ(StateTensor(m, "model.mask_net_layer.top_mlp.mlp.0.perceptron.0.weight").sizes(),
            Shape({5, 6}));
}

TEST(MaskNetTest, AggregationDimFollowsUpstreamsKwargs) {
  protos::MaskBlock block;
  block.set_hidden_dim(4);
  // reduction_ratio defaults to 1.0 and upstream passes it along: it wins.
  block.set_aggregation_dim(3);
  EXPECT_EQ(MaskBlockAggregationDim(10, block, "b"), 10);
  // 0.7 is read as Python reads the float32 field (0.7, not 0.699999988):
  // int(10 * 0.7) = 7.
  block.set_reduction_ratio(0.7f);
  EXPECT_EQ(MaskBlockAggregationDim(10, block, "b"), 7);
  block.set_reduction_ratio(0.0f);
  EXPECT_EQ(MaskBlockAggregationDim(10, block, "b"), 3);
  block.set_aggregation_dim(0);
  EXPECT_THROW(MaskBlockAggregationDim(10, block, "b"), ConfigError);
  block.set_reduction_ratio(0.05f);  // int(10 * 0.05) = 0
  EXPECT_THROW(MaskBlockAggregationDim(10, block, "b"), ConfigError);
}

// MaskBlock by upstream's definition, from the state dict.
at::Tensor MaskBlockByHand(const std::map<std::string, at::Tensor>& s, const std::string& p,
                           const at::Tensor& feature_input, const at::Tensor& mask_input) {
  auto linear = [&](const at::Tensor& x, const std::string& name) {
    return at::linear(x, s.at(p + name + ".weight"), s.at(p + name + ".bias"));
  };
  at::Tensor weights = linear(at::relu(linear(mask_input, "mask_generator.0")), "mask_generator.2");
  at::Tensor h = linear(feature_input * weights, "ffn.0");
  h = at::layer_norm(h, {h.size(1)}, s.at(p + "ffn.1.weight"), s.at(p + "ffn.1.bias"), 1e-5);
  return at::relu(h);
}

void ExpectForwardMatches(const std::string& module_body, bool parallel) {
  auto b = BuildModelFrom(Config(module_body));
  Model& m = *b.model;
  // Random (non-identity) layer norms so they count in the comparison.
  {
    at::NoGradGuard no_grad;
    for (auto& [name, t] : m.StateDict()) {
      if (name.find("ln_emb") != std::string::npos || name.find("ffn.1") != std::string::npos) {
        t.uniform_(0.5, 1.5);
      }
    }
  }
  m.SetTraining(false);
  auto batch = testing::MakeSyntheticBatch(7);
  auto out = m.Forward(batch.inputs);
  auto s = StateMap(m);
  at::Tensor x = AllGroup(s, batch.inputs);
  at::Tensor ln = at::layer_norm(x, {9}, s.at("model.mask_net_layer.ln_emb.weight"),
                                 s.at("model.mask_net_layer.ln_emb.bias"), 1e-5);
  const std::string p = "model.mask_net_layer.mask_blocks.";
  at::Tensor hidden;
  if (parallel) {
    hidden = at::cat({MaskBlockByHand(s, p + "0.", ln, x), MaskBlockByHand(s, p + "1.", ln, x)}, 1);
  } else {
    hidden = MaskBlockByHand(s, p + "1.", MaskBlockByHand(s, p + "0.", ln, x), x);
  }
  hidden = testing::ReluMlp(s, "model.mask_net_layer.top_mlp", hidden, 1);
  at::Tensor y = at::linear(hidden, s.at("model.output_linear.weight")).squeeze(1);
  EXPECT_TRUE(at::allclose(out.at("logits"), y, 1e-5, 1e-6)) << out.at("logits") << y;
  EXPECT_TRUE(at::allclose(out.at("probs"), at::sigmoid(y), 1e-5, 1e-6));
  EXPECT_EQ(out.at("logits").sizes(), Shape({7}));
}

TEST(MaskNetTest, ParallelForwardMatchesHandComputation) { ExpectForwardMatches(kParallel, true); }

TEST(MaskNetTest, SerialForwardMatchesHandComputation) { ExpectForwardMatches(kSerial, false); }

TEST(MaskNetTest, LearnsSyntheticRule) {
  testing::ExpectLearnsSyntheticRule([] { return BuildModelFrom(Config(kParallel)); });
  testing::ExpectLearnsSyntheticRule([] { return BuildModelFrom(Config(kSerial)); });
}

TEST(MaskNetTest, UpstreamCriteoConfigBuilds) {
  auto b = BuildModelFrom(testing::UpstreamConfigWithSmallTables("masknet_criteo"));
  // 26 ids of dim 16 + 13 raw ints (no boundaries: dense, one value each,
  // their embedding_dim unused): 429 wide; reduction_ratio 3.
  const std::string p = "model.mask_net_layer.mask_blocks.2.";
  EXPECT_EQ(StateTensor(*b.model, p + "mask_generator.0.weight").sizes(), Shape({1287, 429}));
  EXPECT_EQ(StateTensor(*b.model, p + "ffn.0.weight").sizes(), Shape({512, 429}));
  EXPECT_EQ(StateTensor(*b.model, "model.mask_net_layer.top_mlp.mlp.0.perceptron.0.weight").sizes(),
            Shape({256, 1536}));
  EXPECT_EQ(StateTensor(*b.model, "model.output_linear.weight").sizes(), Shape({1, 64}));
}

TEST(MaskNetTest, ConfigErrors) {
  auto expect_error = [](const std::string& body, const std::string& fragment) {
    try {
      BuildModelFrom(Config(body));
      ADD_FAILURE() << "no error for " << body;
    } catch (const ConfigError& e) {
      EXPECT_NE(std::string(e.what()).find(fragment), std::string::npos) << e.what();
    }
  };
  expect_error("n_mask_blocks: 1 mask_block { hidden_dim: 4 }", "top_mlp");
  expect_error("n_mask_blocks: 0 mask_block { hidden_dim: 4 } top_mlp { hidden_units: [2] }",
               "n_mask_blocks");
  expect_error("n_mask_blocks: 1 mask_block { hidden_dim: 0 } top_mlp { hidden_units: [2] }",
               "hidden_dim");
}

}  // namespace
}  // namespace tzrec::models
