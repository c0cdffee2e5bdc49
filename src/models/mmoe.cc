#include "models/mmoe.h"

#include "common/error.h"
#include "models/modules/jit_module.h"
#include "models/modules/mmoe.h"
#include "models/modules/task_tower.h"
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

  MMoEOptions mmoe;
  mmoe.expert_mlp = MlpFromProto(cfg.expert_mlp());
  if (cfg.has_gate_mlp()) mmoe.gate_mlp = MlpFromProto(cfg.gate_mlp());
  mmoe.num_expert = cfg.num_expert();
  mmoe.num_task = static_cast<int64_t>(towers.size());

  torch::jit::Module root = NewModule("MMoEModel");
  AddChild(root, "embedding_group", group.module);
  AddChild(root, "mmoe", BuildMMoE(feature_in, mmoe, "model_config.mmoe"));
  const int64_t tower_in = mmoe.expert_mlp.hidden_units.back();
  torch::jit::Module task_towers = NewModule("ModuleList");
  for (size_t i = 0; i < towers.size(); ++i) {
    AddChild(task_towers, std::to_string(i),
             BuildTaskTower(tower_in, towers[i].task.num_class, towers[i].mlp, towers[i].where));
  }
  AddChild(root, "_task_tower", task_towers);

  std::string src = "def forward(self, data: Dict[str, Tensor]) -> Dict[str, Tensor]:\n";
  src += "    grouped = self.embedding_group.forward(data)\n";
  src += fmt::format("    task_inputs = self.mmoe.forward(grouped[{}])\n", PyStr(group_name));
  std::vector<std::string> tower_outputs;
  for (size_t i = 0; i < towers.size(); ++i) {
    src += fmt::format("    tower_{} = getattr(self._task_tower, \"{}\").forward(task_inputs[{}])\n", i, i, i);
    tower_outputs.push_back(fmt::format("tower_{}", i));
  }
  src += "    out: Dict[str, Tensor] = {}\n";
  std::vector<std::string> outputs;
  src += MultiTaskOutputSource(towers, tower_outputs, outputs);
  src += "    return out\n";
  DefineMethods(root, src);
  return MakeMultiTaskModel("mmoe", root, towers, outputs, group.layout,
                            context.options.table_storage);
}

}  // namespace tzrec::models
