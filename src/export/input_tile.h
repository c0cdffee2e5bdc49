// INPUT_TILE=2 / 3: a request carries the user-side features once (batch 1)
// and the item-side features for B candidates, plus a "batch_size" input
// holding B. The exported model tiles the user rows to B before running the
// model, so its outputs equal the untiled model's on the tiled request.
//
// tzrec tiles the inputs for both modes: pooled embeddings of identical rows
// are identical, so mode 3 (upstream tiles after the embedding lookup to save
// lookups) gives the same results; only the lookup saving is not made.
#pragma once

#include <string>
#include <vector>

#include <torch/script.h>

#include "features/feature.h"

namespace tzrec::exporting {

// The input names that arrive with batch 1: every input tensor of each user
// feature among `features`.
struct TiledInputs {
  std::vector<std::string> sparse;  // 1-D tensors (values, lengths, weights): tiled n times
  std::vector<std::string> dense;   // [1, dim] tensors: tiled to [n, dim]
};
TiledInputs UserTiledInputs(const std::vector<const Feature*>& features);

// A module with forward(data: Dict[str, Tensor]) -> Dict[str, Tensor] that
// tiles `tiled` by data["batch_size"] and calls `model` (itself such a module).
torch::jit::Module WrapWithInputTile(const torch::jit::Module& model, const TiledInputs& tiled);

}  // namespace tzrec::exporting
