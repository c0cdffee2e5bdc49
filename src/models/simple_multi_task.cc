#include "models/simple_multi_task.h"

#include "common/error.h"
#include "models/modules/jit_module.h"
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
  std::string src = "def forward(self, data: Dict[str, Tensor]) -> Dict[str, Tensor]:\n";
  src += "    grouped = self.embedding_group.forward(data)\n";
  src += fmt::format("    features = grouped[{}]\n", PyStr(group_name));
  std::vector<std::string> tower_outputs =
      AddTaskTowers(root, towers, std::vector<std::string>(towers.size(), "features"),
                    std::vector<int64_t>(towers.size(), feature_in), src);
  return FinishMultiTaskModel("simple_multi_task", root, src, towers, tower_outputs, group.layout,
                              context.options.table_storage);
}

}  // namespace tzrec::models
