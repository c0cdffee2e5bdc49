// MaskNet's building blocks, laid out like upstream's tzrec.modules.masknet
// so that state-dict names match:
//   MaskBlock: mask_generator = Sequential(Linear(mask_in, agg), ReLU,
//              Linear(agg, in)); ffn = Sequential(Linear(in, hidden),
//              LayerNorm(hidden), ReLU); out = ffn(x * mask_generator(mask)).
//   MaskNetModule: ln_emb = LayerNorm(feature_dim); mask_blocks (ModuleList);
//              optional top_mlp (MLP).
#pragma once

#include <cstdint>
#include <string>

#include <torch/script.h>

#include "config/protos/module.pb.h"

namespace tzrec::models {

// Width of a MaskBlock's aggregation layer, as upstream derives it from the
// config: upstream passes every field with its default (reduction_ratio 1.0
// included), so a non-zero reduction_ratio wins over aggregation_dim and the
// width is int(input_dim * reduction_ratio), with the ratio read as Python
// reads a float32 config value (its shortest decimal form).
int64_t MaskBlockAggregationDim(int64_t input_dim, const protos::MaskBlock& config,
                                const std::string& where);

// forward(feature_input: Tensor[B, input_dim], mask_input: Tensor[B, mask_input_dim])
//   -> Tensor[B, hidden_dim].
torch::jit::Module BuildMaskBlock(int64_t input_dim, int64_t mask_input_dim,
                                  const protos::MaskBlock& config, const std::string& where);

struct MaskNetModule {
  // forward(feature_emb: Tensor[B, feature_dim]) -> Tensor[B, output_dim].
  torch::jit::Module module;
  int64_t output_dim = 0;
};

// Parallel blocks all read the layer-normed features and are concatenated;
// serial blocks feed each one's output into the next; each block's mask is
// generated from the raw features. `where` names the config field.
MaskNetModule BuildMaskNetModule(int64_t feature_dim, const protos::MaskNetModule& config,
                                 const std::string& where);

}  // namespace tzrec::models
