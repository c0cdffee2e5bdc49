#include "models/mmoe.h"

#include "common/error.h"
#include "models/modules/jit_module.h"
#include "models/modules/mmoe.h"
#include "models/multi_task_rank.h"
#include "models/rank_model.h"

namespace tzrec::models {

std::unique_ptr<Model> BuildMMoEModel(const ModelContext& context) {
  const protos::ModelConfig& model_config = context.config.model_config();
  const protos::MMoE& cfg = model_config.mmoe();
  CheckMultiTaskOptions(context.config, "mmoe");
  std::vector<TaskTowerSpec> towers = ReadTaskTowers(context.config);

  EmbeddingGroup group = BuildModelEmbeddingGroup(context);
  const std::string group_name = FirstFeatureGroup(context.config, "mmoe");
  const int64_t feature_in = group.layout.total_dim(group_name, "mmoe");

  const MMoEOptions mmoe = MMoEOptionsOf(cfg, towers.size());

  torch::jit::Module root = NewModule("MMoEModel");
  AddChild(root, "embedding_group", group.module);
  AddChild(root, "mmoe", BuildMMoE(feature_in, mmoe, "model_config.mmoe"));
  std::string src = "def forward(self, data: Dict[str, Tensor]) -> Dict[str, Tensor]:\n";
  src += "    grouped = self.embedding_group.forward(data)\n";
  src += fmt::format("    task_inputs = self.mmoe.forward(grouped[{}])\n", PyStr(group_name));
  std::vector<std::string> task_inputs;
  for (size_t i = 0; i < towers.size(); ++i) task_inputs.push_back(fmt::format("task_inputs[{}]", i));
  std::vector<std::string> tower_outputs = AddTaskTowers(
      root, towers, task_inputs,
      std::vector<int64_t>(towers.size(), mmoe.expert_mlp.hidden_units.back()), src);
  return FinishMultiTaskModel("mmoe", root, src, towers, tower_outputs, group.layout,
                              context.options.table_storage);
}

}  // namespace tzrec::models
