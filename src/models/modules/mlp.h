// MLP: a stack of perceptrons, each Linear -> [BatchNorm1d] -> [LayerNorm] ->
// activation -> [Dropout], laid out like upstream's tzrec.modules.mlp so that
// parameters are named mlp.<i>.perceptron.<j>.<weight|bias|running_mean...>.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <torch/script.h>

#include "config/protos/module.pb.h"

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
  // Rank of the input: 2 ([B, F]) or 3 ([B, L, F], e.g. DIN's attention MLP;
  // batch norm and Dice then normalise over F with the sequence axis moved
  // aside, as upstream's Perceptron(dim=3) does with Transpose modules).
  int dim = 2;
};

// Module with forward(x: Tensor[B, in_features]) -> Tensor[B, hidden_units[-1]]
// (or [B, L, ...] when options.dim is 3).
// `where` names the config field, for error messages.
// The options of an MLP message of the config.
MlpOptions MlpFromProto(const protos::MLP& mlp);

torch::jit::Module BuildMlp(int64_t in_features, const MlpOptions& options,
                            const std::string& where);

// Leaf layers, each a module with forward(x) -> Tensor, initialised like
// their torch.nn namesakes.
torch::jit::Module BuildLinear(int64_t in_features, int64_t out_features, bool bias);
// affine = false: no weight/bias (Dice's normalisation).
torch::jit::Module BuildBatchNorm1d(int64_t features, bool affine = true);
// Swaps axes 1 and 2 (upstream's tzrec.modules.utils.Transpose).
torch::jit::Module BuildTranspose();
torch::jit::Module BuildLayerNorm(int64_t features);
torch::jit::Module BuildDropout(double ratio);
// Activation from upstream's spelling: "nn.ReLU", "nn.LeakyReLU(negative_slope=0.1)",
// "Dice" (DIN's data-adaptive activation over `features` channels of a
// rank-`dim` input)... Unknown names are a config error naming `where`.
torch::jit::Module BuildActivation(const std::string& spec, int64_t features,
                                   const std::string& where, int dim = 2);

}  // namespace tzrec::models
