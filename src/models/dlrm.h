// DLRM (model_config.dlrm), as upstream's tzrec.models.dlrm:
//   sparse: the "sparse" group (the only group when there is one), N
//           embeddings of one width D, viewed as [B, N, D];
//   dense:  with more than one group and a "dense" group, dense_mlp over it
//           ([B, D], its last hidden unit must be D), prepended to the
//           sparse embeddings as feature 0;
//   interaction: pairwise dot products of the (N or N+1) features, the strict
//           upper triangle in row-major order (torch.triu_indices(n, n, 1));
//   final_mlp(cat[interaction, dense?, sparse group if arch_with_sparse]),
//   then output_mlp.
#pragma once

#include <memory>

#include "models/model.h"

namespace tzrec::models {

std::unique_ptr<Model> BuildDLRM(const ModelContext& context);

// forward(features: Tensor[B, n, D]) -> Tensor[B, n * (n - 1) / 2].
torch::jit::Module BuildInteractionArch(int64_t feature_num);

}  // namespace tzrec::models
