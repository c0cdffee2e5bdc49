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
    }
  }
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
      "        if key != \"batch_size\":\n"
      "            inputs[key] = data[key]\n";
  for (const std::string& key : tiled.sparse) {
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
