#include "export/input_tile.h"

#include "models/modules/jit_module.h"

namespace tzrec::exporting {

TiledInputs UserTiledInputs(const std::vector<const Feature*>& features) {
  TiledInputs tiled;
  for (const Feature* feature : features) {
    if (!feature->is_user_feature()) continue;
    if (feature->is_sparse()) {
      tiled.sparse.push_back(feature->values_key());
      tiled.sparse.push_back(feature->lengths_key());
      if (feature->is_weighted()) tiled.sparse.push_back(feature->weights_key());
    } else {
      tiled.dense.push_back(feature->values_key());
      if (feature->is_sequence()) tiled.dense_lengths.push_back(feature->lengths_key());
    }
  }
  return tiled;
}

TiledInputs WrapperTiledInputs(const TiledInputs& user_inputs, int mode) {
  TiledInputs tiled = user_inputs;
  if (mode == 3) tiled.sparse.clear();
  return tiled;
}

torch::jit::Module WrapWithInputTile(const torch::jit::Module& model, const TiledInputs& tiled) {
  using models::PyStr;
  torch::jit::Module wrapper = models::NewModule("InputTile");
  models::AddChild(wrapper, "model", model);
  std::string source =
      "def forward(self, data: Dict[str, Tensor]) -> Dict[str, Tensor]:\n"
      "    n = int(data[\"batch_size\"].reshape(-1)[0].item())\n"
      "    inputs: Dict[str, Tensor] = {}\n"
      "    for key in data.keys():\n"
      "        inputs[key] = data[key]\n";
  std::vector<std::string> one_dimensional = tiled.sparse;
  one_dimensional.insert(one_dimensional.end(), tiled.dense_lengths.begin(), tiled.dense_lengths.end());
  for (const std::string& key : one_dimensional) {
    source += "    inputs[" + PyStr(key) + "] = data[" + PyStr(key) + "].repeat([n])\n";
  }
  for (const std::string& key : tiled.dense) {
    source += "    inputs[" + PyStr(key) + "] = data[" + PyStr(key) + "].repeat([n, 1])\n";
  }
  source += "    return self.model.forward(inputs)\n";
  models::DefineMethods(wrapper, source);
  return wrapper;
}

}  // namespace tzrec::exporting
