// DC2VR's Intervention, laid out like upstream's tzrec.modules.intervention:
//
// RotateLayer(dim, low_rank_dim): x @ W with W [dim, low_rank_dim] kept
//   orthonormal by torch.nn.utils.parametrizations.orthogonal, whose
//   state-dict names we keep: parametrizations.weight.original (the trained
//   [dim, low_rank_dim] parameter) and parametrizations.weight.0.base (a
//   [dim, dim] orthogonal buffer). For a tall W the map is PyTorch's
//   "householder" one with trivialisation:
//     A = original.tril(-1), tau = 2 / (1 + sum(A * A, rows)),
//     W = base @ (householder_product(A, tau) * diag(original).int()).
//   Initially original is -I (so the product is I) and base a random
//   orthogonal matrix: W starts as base's first low_rank_dim columns.
// Intervention(base_dim, source_dim, low_rank_dim, dropout):
//   out = dropout((base @ Wb - source.detach() @ Ws) @ Wb^T + base), modules
//   base_rotate_layer, source_rotate_layer.
#pragma once

#include <cstdint>

#include <torch/script.h>

namespace tzrec::models {

// forward(x: Tensor[B, dim]) -> Tensor[B, low_rank_dim]; orthogonal_weight()
// returns W. Needs dim > low_rank_dim (upstream asserts it).
torch::jit::Module BuildRotateLayer(int64_t dim, int64_t low_rank_dim);

// forward(base: Tensor[B, base_dim], source: Tensor[B, source_dim]) ->
// Tensor[B, base_dim].
torch::jit::Module BuildIntervention(int64_t base_dim, int64_t source_dim, int64_t low_rank_dim,
                                     double dropout_ratio);

}  // namespace tzrec::models
