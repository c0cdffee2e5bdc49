#include "models/modules/task_tower.h"

#include "models/modules/jit_module.h"

namespace tzrec::models {

torch::jit::Module BuildTaskTower(int64_t in_features, int64_t num_class,
                                  const std::optional<MlpOptions>& mlp, const std::string& where) {
  torch::jit::Module tower = NewModule("TaskTower");
  std::string src = "def forward(self, x: Tensor) -> Tensor:\n";
  int64_t linear_in = in_features;
  if (mlp) {
    AddChild(tower, "tower_mlp", BuildMlp(in_features, *mlp, where + ".mlp"));
    linear_in = mlp->hidden_units.back();
    src += "    x = self.tower_mlp.forward(x)\n";
  }
  AddChild(tower, "linear", BuildLinear(linear_in, num_class, /*bias=*/true));
  src += "    return self.linear.forward(x)\n";
  DefineMethods(tower, src);
  return tower;
}

}  // namespace tzrec::models
