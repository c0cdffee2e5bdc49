// INPUT_TILE=2 / 3: a request carries the user-side features once (batch 1)
// and the item-side features for B candidates, plus a "batch_size" input
// holding B. The exported model's outputs equal the untiled model's on the
// tiled request.
//
// Mode 2 tiles every user-side input to B rows before the model runs. Mode 3
// (upstream's "tile after embedding") tiles only the dense ones: the model is
// built with ModelBuildOptions::tile_user_embeddings, looks the user's ids up
// once and repeats the looked-up rows, so B candidates cost one user lookup.
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
  std::vector<std::string> dense;   // [1 or L, dim] tensors: tiled to [n or nL, dim]
  // Lengths of dense sequence features: tiled n times with their values.
  std::vector<std::string> dense_lengths;
};
TiledInputs UserTiledInputs(const std::vector<const Feature*>& features);

// The inputs the wrapper tiles in INPUT_TILE mode `mode` (2 or 3): mode 3
// leaves the sparse ones to the model.
TiledInputs WrapperTiledInputs(const TiledInputs& user_inputs, int mode);

// A module with forward(data: Dict[str, Tensor]) -> Dict[str, Tensor] that
// tiles `tiled` by data["batch_size"] and calls `model` (itself such a module)
// with "batch_size" among its inputs (the mode-3 model reads it).
torch::jit::Module WrapWithInputTile(const torch::jit::Module& model, const TiledInputs& tiled);

}  // namespace tzrec::exporting
