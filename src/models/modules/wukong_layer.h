// WuKong's interaction layer and its two blocks, laid out like upstream's
// tzrec.modules.interaction (LinearCompressBlock, FactorizationMachineBlock,
// WuKongLayer) so that state-dict names match. Inputs are [B, N, D]: N
// features of one width D.
#pragma once

#include <cstdint>
#include <string>

#include <torch/script.h>

#include "config/protos/module.pb.h"

namespace tzrec::models {

// `weight` [n_in, n_out] mixes the features: out[b, j, :] = sum_i x[b, i, :] w[i, j].
// forward(x: Tensor[B, n_in, D]) -> Tensor[B, n_out, D].
torch::jit::Module BuildLinearCompressBlock(int64_t feature_num_in, int64_t feature_num_out);

// Optimised FM: `weight` [n_in, C] compresses the features, their dot products
// with the inputs ([B, n_in, C]) go through `norm` (LayerNorm n_in * C),
// `mlp` (feature_num_mlp) and `feature_out_liner` (upstream's spelling) to
// n_out features of width D.
// forward(x: Tensor[B, n_in, D]) -> Tensor[B, n_out, D].
torch::jit::Module BuildFactorizationMachineBlock(int64_t input_dim, int64_t feature_num_in,
                                                  int64_t feature_num_out,
                                                  int64_t compressed_feature_num,
                                                  const protos::MLP& feature_num_mlp,
                                                  const std::string& where);

struct WuKongLayer {
  // forward(x: Tensor[B, feature_num, D]) -> Tensor[B, output_feature_num, D]:
  // norm(cat[fmb(x), lcb(x)] + residual_projection(x)), the projection an
  // identity (no parameters) when feature_num already equals the output count.
  torch::jit::Module module;
  int64_t output_feature_num = 0;
};

WuKongLayer BuildWuKongLayer(int64_t input_dim, int64_t feature_num,
                             const protos::WuKongLayer& config, const std::string& where);

}  // namespace tzrec::models
