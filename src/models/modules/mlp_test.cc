#include "models/modules/mlp.h"

#include <gtest/gtest.h>

#include "common/error.h"
#include "models/modules/jit_module.h"

namespace tzrec::models {
namespace {

std::vector<std::string> ParameterNames(const torch::jit::Module& m) {
  std::vector<std::string> names;
  for (const auto& p : m.named_parameters()) names.push_back(p.name);
  return names;
}

TEST(MlpTest, UpstreamParameterNamesAndShapes) {
  MlpOptions options;
  options.hidden_units = {8, 4};
  options.use_bn = true;
  torch::jit::Module mlp = BuildMlp(5, options, "deep");
  std::vector<std::string> expected = {
      "mlp.0.perceptron.0.weight", "mlp.0.perceptron.1.weight", "mlp.0.perceptron.1.bias",
      "mlp.1.perceptron.0.weight", "mlp.1.perceptron.1.weight", "mlp.1.perceptron.1.bias"};
  EXPECT_EQ(ParameterNames(mlp), expected);
  at::Tensor y = mlp.forward({at::randn({3, 5})}).toTensor();
  EXPECT_EQ(y.sizes(), (std::vector<int64_t>{3, 4}));
}

TEST(MlpTest, MatchesManualComputation) {
  MlpOptions options;
  options.hidden_units = {3};
  options.activation = "nn.LeakyReLU(negative_slope=0.2)";
  torch::jit::Module mlp = BuildMlp(4, options, "deep");
  at::Tensor w = mlp.attr("mlp").toModule().attr("0").toModule().attr("perceptron").toModule()
                     .attr("0").toModule().attr("weight").toTensor();
  at::Tensor b = mlp.attr("mlp").toModule().attr("0").toModule().attr("perceptron").toModule()
                     .attr("0").toModule().attr("bias").toTensor();
  at::Tensor x = at::randn({2, 4});
  at::Tensor expected = at::leaky_relu(at::linear(x, w, b), 0.2);
  EXPECT_TRUE(at::allclose(mlp.forward({x}).toTensor(), expected));
}

TEST(MlpTest, DropoutAndBatchNormFollowTrainingMode) {
  MlpOptions options;
  options.hidden_units = {64};
  options.dropout_ratio = {0.5};
  options.use_bn = true;
  torch::jit::Module mlp = BuildMlp(4, options, "deep");
  at::Tensor x = at::randn({16, 4});
  mlp.train();
  at::Tensor a = mlp.forward({x}).toTensor();
  // Dropout zeroes about half the activations in training.
  EXPECT_GT((a == 0).sum().item<int64_t>(), 16 * 64 / 2 + 16 * 64 / 8);
  const auto bn = mlp.attr("mlp").toModule().attr("0").toModule().attr("perceptron").toModule()
                      .attr("1").toModule();
  EXPECT_EQ(bn.attr("num_batches_tracked").toTensor().item<int64_t>(), 1);
  EXPECT_FALSE(at::allclose(bn.attr("running_mean").toTensor(), at::zeros({64})));
  mlp.eval();
  at::Tensor b1 = mlp.forward({x}).toTensor();
  at::Tensor b2 = mlp.forward({x}).toTensor();
  EXPECT_TRUE(at::equal(b1, b2));
  EXPECT_EQ(bn.attr("num_batches_tracked").toTensor().item<int64_t>(), 1);
}

TEST(MlpTest, DropoutOfWholeRatiosCompiles) {
  // 0 and 1 are whole numbers: the ratio must still reach TorchScript as a float.
  at::Tensor x = at::randn({8, 4});
  torch::jit::Module keep = BuildDropout(0.0);
  keep.train();
  EXPECT_TRUE(at::equal(keep.forward({x}).toTensor(), x));
  torch::jit::Module drop = BuildDropout(1.0);
  drop.train();
  EXPECT_EQ(drop.forward({x}).toTensor().abs().sum().item<float>(), 0.0f);
}

TEST(MlpTest, TrainsWithAutograd) {
  MlpOptions options;
  options.hidden_units = {1};
  options.activation = "";
  torch::jit::Module mlp = BuildMlp(2, options, "deep");
  at::Tensor x = at::randn({64, 2});
  at::Tensor y = x.select(1, 0) * 2 - x.select(1, 1);
  std::vector<at::Tensor> params;
  for (const auto& p : mlp.parameters()) params.push_back(p);
  for (int step = 0; step < 300; ++step) {
    at::Tensor loss = (mlp.forward({x}).toTensor().squeeze(1) - y).pow(2).mean();
    for (auto& p : params) p.mutable_grad() = at::Tensor();
    loss.backward();
    at::NoGradGuard guard;
    for (auto& p : params) p.sub_(p.grad() * 0.1);
  }
  at::Tensor loss = (mlp.forward({x}).toTensor().squeeze(1) - y).pow(2).mean();
  EXPECT_LT(loss.item<double>(), 1e-3);
}

TEST(MlpTest, BadConfigIsOneLineError) {
  MlpOptions options;
  options.hidden_units = {4, 2};
  options.dropout_ratio = {0.1, 0.2, 0.3};
  EXPECT_THROW(BuildMlp(3, options, "model_config.deepfm.deep"), ConfigError);
  options.dropout_ratio = {};
  options.activation = "nn.Bogus";
  try {
    BuildMlp(3, options, "model_config.deepfm.deep");
    FAIL();
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("nn.Bogus"), std::string::npos);
  }
}

}  // namespace
}  // namespace tzrec::models
