// PEPNet's personalisation blocks, laid out like upstream's
// tzrec.modules.personalized_net:
//
// GateNU: gamma * sigmoid(Linear(relu(Linear(x)))), parameters
//   dense_layers.0.* and dense_layers.2.* (indices of the Sequential
//   Linear, ReLU, Linear, Sigmoid).
// EPNet (embedding personalisation): main * gate_nu([domain, main.detach()]),
//   parameters gate_nu.dense_layers.*; the gate's hidden width defaults to the
//   main width, its output width is the main width.
// PPNet (parameter personalisation): per task, a stack of layers
//   x = dropout(activation(Linear(x)) * GateNU([uia, main.detach()])), the
//   gates sized like their layer. Upstream keeps the per-task, per-layer parts
//   in four flat lists indexed task * num_layers + layer: linears.<k>.*,
//   activations.<k>.* (parameters only for Dice / PReLU), dropout_ratios.<k>
//   (none) and gate_nus.<k>.dense_layers.*.
//
// The gates read the main input detached: the personalisation signal does not
// train the shared embeddings through the gate, as upstream.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <torch/script.h>

namespace tzrec::models {

// forward(x: Tensor[B, input_dim]) -> Tensor[B, output_dim].
torch::jit::Module BuildGateNU(int64_t input_dim, int64_t hidden_dim, int64_t output_dim,
                               double gamma);

// forward(main: Tensor[B, main_dim], domain: Tensor[B, domain_dim]) -> Tensor[B, main_dim].
torch::jit::Module BuildEPNet(int64_t main_dim, int64_t domain_dim, int64_t hidden_dim,
                              double gamma);

struct PPNetOptions {
  std::vector<int64_t> hidden_units;
  std::string activation = "nn.ReLU";
  // Empty: no dropout; one value: every layer; else one per layer.
  std::vector<double> dropout_ratio;
  double gamma = 2.0;
  int64_t num_task = 1;
};

// forward(main: Tensor[B, main_dim], uia: Tensor[B, uia_dim]) -> List[Tensor]:
// num_task outputs of [B, hidden_units[-1]]. `where` names the config field
// (model_config.pepnet) for errors.
torch::jit::Module BuildPPNet(int64_t main_dim, int64_t uia_dim, const PPNetOptions& options,
                              const std::string& where);

}  // namespace tzrec::models
