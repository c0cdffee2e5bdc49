// MLP: a stack of perceptrons, each Linear -> [BatchNorm1d] -> [LayerNorm] ->
// activation -> [Dropout], laid out like upstream's tzrec.modules.mlp so that
// parameters are named mlp.<i>.perceptron.<j>.<weight|bias|running_mean...>.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <torch/script.h>

namespace tzrec::models {

// Mirrors the MLP message of module.proto.
struct MlpOptions {
  std::vector<int64_t> hidden_units;
  // Empty: no dropout; one value: used for every layer; else one per layer.
  std::vector<double> dropout_ratio;
  std::string activation = "nn.ReLU";
  bool use_bn = false;
  bool bias = true;
  bool use_ln = false;
};

// Module with forward(x: Tensor[B, in_features]) -> Tensor[B, hidden_units[-1]].
// `where` names the config field, for error messages.
torch::jit::Module BuildMlp(int64_t in_features, const MlpOptions& options,
                            const std::string& where);

// Leaf layers, each a module with forward(x) -> Tensor, initialised like
// their torch.nn namesakes.
torch::jit::Module BuildLinear(int64_t in_features, int64_t out_features, bool bias);
torch::jit::Module BuildBatchNorm1d(int64_t features);
torch::jit::Module BuildLayerNorm(int64_t features);
torch::jit::Module BuildDropout(double ratio);
// Activation from upstream's spelling: "nn.ReLU", "nn.LeakyReLU(negative_slope=0.1)"...
// Unknown names are a config error naming `where`.
torch::jit::Module BuildActivation(const std::string& spec, int64_t features,
                                   const std::string& where);

}  // namespace tzrec::models
