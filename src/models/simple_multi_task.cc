#include "models/simple_multi_task.h"

#include "common/error.h"
#include "models/modules/jit_module.h"
#include "models/modules/task_tower.h"
#include "models/multi_task_rank.h"

namespace tzrec::models {

std::unique_ptr<Model> BuildSimpleMultiTask(const ModelContext& context) {
  CheckMultiTaskOptions(context.config, "simple_multi_task");
  std::vector<TaskTowerSpec> towers = ReadTaskTowers(context.config);

  EmbeddingGroup group = BuildModelEmbeddingGroup(context);
  const std::string group_name = FirstFeatureGroup(context.config, "simple_multi_task");
  const int64_t feature_in = group.layout.total_dim(group_name, "simple_multi_task");

  torch::jit::Module root = NewModule("SimpleMultiTask");
  AddChild(root, "embedding_group", group.module);
  torch::jit::Module task_towers = NewModule("ModuleList");
  for (size_t i = 0; i < towers.size(); ++i) {
    AddChild(task_towers, std::to_string(i),
             BuildTaskTower(feature_in, towers[i].task.num_class, towers[i].mlp, towers[i].where));
  }
  AddChild(root, "_task_tower", task_towers);

  std::string src = "def forward(self, data: Dict[str, Tensor]) -> Dict[str, Tensor]:\n";
  src += "    grouped = self.embedding_group.forward(data)\n";
  src += fmt::format("    features = grouped[{}]\n", PyStr(group_name));
  std::vector<std::string> tower_outputs;
  for (size_t i = 0; i < towers.size(); ++i) {
    src += fmt::format("    tower_{} = getattr(self._task_tower, \"{}\").forward(features)\n", i, i);
    tower_outputs.push_back(fmt::format("tower_{}", i));
  }
  src += "    out: Dict[str, Tensor] = {}\n";
  std::vector<std::string> outputs;
  src += MultiTaskOutputSource(towers, tower_outputs, outputs);
  src += "    return out\n";
  DefineMethods(root, src);
  return MakeMultiTaskModel("simple_multi_task", root, towers, outputs, group.layout,
                            context.options.table_storage);
}

}  // namespace tzrec::models
